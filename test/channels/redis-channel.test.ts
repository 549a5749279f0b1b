import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Channel } from '../../src/channels/channel.js';
import { createRedisChannelFactory, parseRedisChannelSpec, RedisChannel, RedisConnectionManager } from '../../src/channels/bullmq/index.js';
import { ChannelFullError, InvalidOptionError, UnavailableError } from '../../src/errors.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { ev, recorder, runChannelConformance, runDurabilitySuite, waitUntil, type ChannelHarness } from './conformance.js';

let server: RedisServer;
let seq = 0;

before(async () => {
  server = await startRedisServer();
});
after(async () => {
  await server.dispose();
});

/** A fresh channel; `open()` builds another object with its own connections, like a second replica. */
async function makeHarness(): Promise<ChannelHarness> {
  const name = `ch-${process.pid}-${++seq}`;
  const managers: RedisConnectionManager[] = [];
  const channels: Channel[] = [];
  const open = async () => {
    const m = new RedisConnectionManager({ url: server.url, commandTimeoutMs: 2000 });
    managers.push(m);
    // Short locks: a force-closed object's in-flight jobs come back within seconds.
    const ch = createRedisChannelFactory(m, { lockDurationMs: 3000 })({ namespace: 'conf', name, spec: {} });
    channels.push(ch);
    await waitUntil(() => m.isConnected(), 15_000, 'Redis connected');
    return ch;
  };
  const channel = await open();
  return {
    channel,
    open,
    stopBackend: () => server.stop(),
    startBackend: () => server.start(),
    cleanup: async () => {
      for (const c of channels) await c.close();
      if (!server.running) await server.start();
      await waitUntil(() => managers[0]!.isConnected(), 30_000, 'reconnected for cleanup');
      await channels[0]!.destroy!();
      for (const m of managers) await m.close();
    },
  };
}

runChannelConformance('RedisChannel', makeHarness, { durable: true, backendControl: true });
runDurabilitySuite('RedisChannel', makeHarness);

describe('RedisChannel specifics', () => {
  test('spec and options are validated with the field named', () => {
    assert.throws(() => parseRedisChannelSpec({ maxBacklog: 0 }, 'ch'), (e: unknown) => e instanceof InvalidOptionError && /spec\.maxBacklog/.test(e.message));
    assert.throws(() => parseRedisChannelSpec({ maxbacklog: 3 }, 'ch'), /maxbacklog/);
    assert.throws(() => new RedisConnectionManager({ url: 'http://x' }), InvalidOptionError);
    assert.throws(() => new RedisConnectionManager({ url: 'redis://x', prefix: 'a:b' }), InvalidOptionError);
  });

  test('publishes fan out to subscriptions another replica registered; a duplicate is queued once', async () => {
    const m1 = new RedisConnectionManager({ url: server.url });
    const m2 = new RedisConnectionManager({ url: server.url });
    const name = `fan-${++seq}`;
    const consumer = new RedisChannel({ connection: m1, namespace: 'conf', name });
    const publisher = new RedisChannel({ connection: m2, namespace: 'conf', name });
    try {
      await waitUntil(() => consumer.ready() && publisher.ready(), 15_000, 'ready');
      // The first copy is held in its delivery until the duplicate was published: dedup by
      // job id covers an event still queued or in flight (a finished job is removed).
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      const r = recorder('ns/remote', async (e) => {
        if (e.attributes.id === 'a') await held;
        return { outcome: 'done' };
      });
      await consumer.subscribe(r.sub);
      await publisher.publish(ev('a'));
      await publisher.publishBatch([ev('a'), ev('b')]);
      release();
      await publisher.publish(ev('marker'));
      await waitUntil(() => r.ids().includes('marker'), 15_000, 'marker');
      assert.deepEqual([...r.ids()].sort(), ['a', 'b', 'marker']);
    } finally {
      await publisher.close();
      await consumer.destroy();
      await m1.close();
      await m2.close();
    }
  });

  test('maxBacklog answers 429 once a subscription is that far behind', async () => {
    const m = new RedisConnectionManager({ url: server.url });
    const ch = new RedisChannel({ connection: m, namespace: 'conf', name: `full-${++seq}`, maxBacklog: 3 });
    try {
      await waitUntil(() => ch.ready(), 15_000, 'ready');
      await ch.subscribe(recorder('ns/stuck', () => new Promise(() => {}), 1).sub);
      for (const id of ['1', '2', '3']) await ch.publish(ev(id));
      await waitUntil(() => ch.stats().subscriptions['ns/stuck']?.backlog === 3, 15_000, 'backlog 3');
      await assert.rejects(ch.publish(ev('4')), ChannelFullError);
    } finally {
      await ch.close();
      await ch.destroy();
      await m.close();
    }
  });

  test('a channel built while Redis is down is not ready, refuses publishes, and recovers', async () => {
    const down = await startRedisServer();
    await down.stop();
    const m = new RedisConnectionManager({ url: down.url });
    const ch = new RedisChannel({ connection: m, namespace: 'conf', name: `late-${++seq}` });
    try {
      const r = recorder('ns/late');
      await ch.subscribe(r.sub);
      assert.equal(ch.ready(), false);
      await assert.rejects(ch.publish(ev('x')), UnavailableError);
      await down.start();
      await waitUntil(() => ch.ready(), 30_000, 'ready once Redis is up');
      await ch.publish(ev('y'));
      await waitUntil(() => r.ids().includes('y'), 15_000, 'delivered');
    } finally {
      await ch.destroy().catch(() => undefined);
      await m.close();
      await down.dispose();
    }
  });
});
