// The real CLI on Redis (BullMQ): broker crash, two replicas, Redis outage, restart with retries pending.
import { startRedisServer } from '../helpers/redis-server.js';
import { runDurableEndToEnd } from './durable-e2e-scenarios.js';

runDurableEndToEnd({
  name: 'Redis',
  kind: 'RedisChannel',
  apiVersion: 'messaging.sluice.dev/v1alpha1',
  // The broker is what gets killed here, and Redis is stopped gracefully (it flushes its
  // append-only file then), so fsync per second is enough and keeps a busy disk out of the way.
  start: () => startRedisServer({ appendfsync: 'everysec' }),
  flags: (url) => ['--redis-url', url],
  unreachable: /Redis at redis:\/\/127\.0\.0\.1:\d+ is unreachable/,
});
