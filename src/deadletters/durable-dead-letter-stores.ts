import { NatsConnectionManager } from '../channels/nats/nats-connection.js';
import { NATS_JETSTREAM_CHANNEL_KIND } from '../channels/nats/nats-channel-spec.js';
import { RedisConnectionManager } from '../channels/bullmq/redis-connection.js';
import { REDIS_CHANNEL_KIND } from '../channels/bullmq/redis-channel-spec.js';
import type { BackendDeadLetterStore } from './backend-dead-letter-store.js';
import { NatsDeadLetterStore } from './nats-dead-letter-store.js';
import { RedisDeadLetterStore } from './redis-dead-letter-store.js';

/**
 * The dead-letter stores of the durable backends, on the server's own connections
 * (`connectionOf(kind)`: DurableBackends.connection). NATS's connection exists from the
 * start (it dials with the first channel); Redis's once the first RedisChannel made it.
 */
export function durableDeadLetterStores(connectionOf: (channelKind: string) => unknown): BackendDeadLetterStore[] {
  const out: BackendDeadLetterStore[] = [];
  const nats = connectionOf(NATS_JETSTREAM_CHANNEL_KIND);
  if (nats instanceof NatsConnectionManager) out.push(new NatsDeadLetterStore({ connection: nats }));
  out.push(
    new RedisDeadLetterStore({
      connection: () => {
        const c = connectionOf(REDIS_CHANNEL_KIND);
        return c instanceof RedisConnectionManager ? c : undefined;
      },
    }),
  );
  return out;
}
