// A durable channel's subscription far behind must leave its backlog in the backend: the
// broker holds at most the subscription's in-flight limit (issue 14; bench/memory-backlog.ts
// measures the RSS). Checked on the servers' side, which sees what the broker took: the
// JetStream consumer's unacknowledged deliveries, the BullMQ queue's active jobs.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Queue } from 'bullmq';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { SluiceEvent } from '../../src/events/types.js';
import { NatsConnectionManager, NatsJetStreamChannel } from '../../src/channels/nats/index.js';
import { durableNameFor } from '../../src/channels/nats/nats-names.js';
import { queueNameFor, RedisChannel, RedisConnectionManager } from '../../src/channels/bullmq/index.js';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { ev, recorder, waitUntil } from './conformance.js';

const BACKLOG = 300;
const MAX_IN_FLIGHT = 5;

const events = (prefix: string): SluiceEvent[] => Array.from({ length: BACKLOG }, (_, i) => ev(`${prefix}-${i}`));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A subscriber that holds every delivery until `release()`. */
function holding(id: string) {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const r = recorder(id, async () => (await gate, { outcome: 'done' }), MAX_IN_FLIGHT);
  return { ...r, release };
}

describe('durable channels keep a backlog in the backend, not in the broker', () => {
  let nats: NatsServer;
  let redis: RedisServer;
  before(async () => {
    [nats, redis] = await Promise.all([startNatsServer(), startRedisServer()]);
  });
  after(async () => {
    await Promise.all([nats?.dispose(), redis?.dispose()]);
  });

  test('NatsJetStreamChannel: the consumer hands out at most maxInFlight unacknowledged events', async () => {
    const m = new NatsConnectionManager({ servers: nats.url });
    const ch = new NatsJetStreamChannel({ connection: m, namespace: 'bound', name: 'nats', settings: { ackWaitMs: 30_000 } });
    const sub = holding('bound/behind');
    const nc = await connect({ servers: nats.url });
    try {
      await waitUntil(() => ch.ready(), 15_000, 'ready');
      await ch.subscribe(sub.sub);
      await waitUntil(() => ch.ready(), 15_000, 'consumer ready');
      await ch.publishBatch(events('n'));
      await waitUntil(() => sub.got.length >= MAX_IN_FLIGHT, 15_000, 'the first deliveries');
      // Time for a client that prefetches beyond the limit to have done so.
      await sleep(1500);
      const jsm = await jetstreamManager(nc);
      const info = await jsm.consumers.info(ch.streamName, durableNameFor('bound/behind'));
      assert.ok(info.num_ack_pending <= MAX_IN_FLIGHT, `broker holds ${info.num_ack_pending} events, more than ${MAX_IN_FLIGHT}`);
      assert.equal(info.config.max_ack_pending, MAX_IN_FLIGHT, 'the server bounds what the consumer may hold');
      assert.equal(info.num_pending + info.num_ack_pending, BACKLOG, 'the rest waits on the server');
      assert.equal(sub.got.length, MAX_IN_FLIGHT);
    } finally {
      sub.release();
      await nc.close();
      await ch.destroy();
      await m.close();
    }
  });

  test('RedisChannel: the worker takes at most maxInFlight jobs', async () => {
    const m = new RedisConnectionManager({ url: redis.url, commandTimeoutMs: 5000 });
    const ch = new RedisChannel({ connection: m, namespace: 'bound', name: 'redis' });
    const sub = holding('bound/behind');
    const queue = new Queue(queueNameFor('bound', 'redis', 'bound/behind'), { connection: { host: '127.0.0.1', port: redis.port }, prefix: m.prefix });
    try {
      await waitUntil(() => m.isConnected(), 15_000, 'Redis connected');
      await ch.subscribe(sub.sub);
      await waitUntil(() => ch.ready(), 15_000, 'subscription registered');
      await ch.publishBatch(events('r'));
      await waitUntil(() => sub.got.length >= MAX_IN_FLIGHT, 15_000, 'the first deliveries');
      await sleep(1500);
      const counts = await queue.getJobCounts('active', 'waiting', 'prioritized');
      assert.ok(counts.active! <= MAX_IN_FLIGHT, `broker holds ${counts.active} jobs, more than ${MAX_IN_FLIGHT}`);
      assert.equal(counts.active! + counts.waiting! + counts.prioritized!, BACKLOG, 'the rest waits in Redis');
      assert.equal(sub.got.length, MAX_IN_FLIGHT);
    } finally {
      sub.release();
      await queue.close();
      await ch.destroy();
      await m.close();
    }
  });
});
