import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { Channel } from '../../src/channels/channel.js';
import { createNatsChannelFactory, NatsConnectionManager, NatsJetStreamChannel, natsStreamSettings } from '../../src/channels/nats/index.js';
import { ChannelFullError, InvalidOptionError, UnavailableError } from '../../src/errors.js';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.js';
import { ev, recorder, runChannelConformance, runDurabilitySuite, waitUntil, type ChannelHarness } from './conformance.js';
import { waitUntil as waitUntilAsync } from '../helpers/sluice.js';

let server: NatsServer;
let seq = 0;

before(async () => {
  server = await startNatsServer();
});
after(async () => {
  await server.dispose();
});

/** A fresh channel; `open()` builds another object with its own connection, like a second replica. */
async function makeHarness(settings: Parameters<typeof natsStreamSettings>[0] = { ackWait: 'PT2S' }): Promise<ChannelHarness> {
  const name = `ch-${process.pid}-${++seq}`;
  const managers: NatsConnectionManager[] = [];
  const channels: Channel[] = [];
  const open = async () => {
    const m = new NatsConnectionManager({ servers: server.url, publishTimeoutMs: 2000 });
    managers.push(m);
    const ch = createNatsChannelFactory(m)({ namespace: 'conf', name, spec: settings });
    channels.push(ch);
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

runChannelConformance('NatsJetStreamChannel', () => makeHarness(), { durable: true, backendControl: true });
runDurabilitySuite('NatsJetStreamChannel', () => makeHarness());

describe('NatsJetStreamChannel specifics', () => {
  test('spec is validated with the field named', () => {
    assert.throws(() => natsStreamSettings({ maxAge: 'soon' }, 'ch'), (e: unknown) => e instanceof InvalidOptionError && /spec\.maxAge/.test(e.message));
    assert.throws(() => natsStreamSettings({ storage: 'disk' }, 'ch'), /spec\.storage/);
    assert.throws(() => natsStreamSettings({ maxMessages: 0 }, 'ch'), /spec\.maxMessages/);
    assert.throws(() => natsStreamSettings({ replcas: 3 }, 'ch'), /replcas/);
    assert.deepEqual(natsStreamSettings({ maxAge: 'P1D', storage: 'memory' }, 'ch'), {
      maxAgeMs: 86_400_000, maxBytes: -1, maxMessages: -1, replicas: 1, storage: 'memory', ackWaitMs: 30_000,
    });
    assert.throws(() => new NatsConnectionManager({ servers: [] }), InvalidOptionError);
    assert.throws(() => new NatsConnectionManager({ servers: 'nats://x', token: 't', user: 'u' }), InvalidOptionError);
  });

  test('stream is created with limits retention, discard new and the spec limits; a full stream answers 429', async () => {
    const m = new NatsConnectionManager({ servers: server.url });
    const ch = new NatsJetStreamChannel({ connection: m, namespace: 'conf', name: `full-${++seq}`, settings: { maxMessages: 3, maxAgeMs: 3_600_000, ackWaitMs: 2000 } });
    try {
      await waitUntil(() => ch.ready(), 15_000, 'ready');
      const nc = await connect({ servers: server.url });
      const jsm = await jetstreamManager(nc);
      const info = await jsm.streams.info(ch.streamName);
      await nc.close();
      assert.equal(info.config.retention, 'limits');
      assert.equal(info.config.discard, 'new');
      assert.equal(info.config.storage, 'file');
      assert.equal(info.config.max_msgs, 3);
      assert.deepEqual(info.config.subjects, [ch.subject]);
      const g = recorder('ns/blocked', () => new Promise(() => {}), 1);
      await ch.subscribe(g.sub);
      for (const id of ['1', '2', '3']) await ch.publish(ev(id));
      await assert.rejects(ch.publish(ev('4')), ChannelFullError);
      // The same source+id again is deduplicated by JetStream, not stored twice.
      await ch.unsubscribe('ns/blocked', { purge: true });
    } finally {
      await ch.destroy();
      await m.close();
    }
  });

  test('a duplicate publish (same source and id) is stored once; finished events are trimmed', async () => {
    const m = new NatsConnectionManager({ servers: server.url });
    const ch = new NatsJetStreamChannel({ connection: m, namespace: 'conf', name: `dup-${++seq}`, settings: { ackWaitMs: 2000 } });
    try {
      await waitUntil(() => ch.ready(), 15_000, 'ready');
      const r = recorder('ns/dup');
      await ch.subscribe(r.sub);
      await ch.publish(ev('same'));
      await ch.publish(ev('same'));
      await ch.publish(ev('marker'));
      await waitUntil(() => r.ids().includes('marker'), 15_000, 'marker');
      assert.deepEqual(r.ids(), ['same', 'marker']);
      // Finished events are purged by trim(), as interest retention would have done.
      await waitUntil(() => ch.stats().subscriptions['ns/dup']?.backlog === 0, 15_000, 'backlog 0');
      // The last acks may reach the server just after the backlog reads 0: trim until they have.
      const nc = await connect({ servers: server.url });
      try {
        const jsm = await jetstreamManager(nc);
        await waitUntilAsync(async () => {
          await ch.trim();
          return (await jsm.streams.info(ch.streamName)).state.messages === 0;
        }, 15_000, 'the finished events trimmed');
      } finally {
        await nc.close();
      }
    } finally {
      await ch.destroy();
      await m.close();
    }
  });

  test('a channel built while NATS is down is not ready, refuses publishes, and recovers', async () => {
    const down = await startNatsServer();
    await down.stop();
    const m = new NatsConnectionManager({ servers: down.url });
    const ch = new NatsJetStreamChannel({ connection: m, namespace: 'conf', name: `late-${++seq}`, settings: { ackWaitMs: 2000 } });
    try {
      const r = recorder('ns/late');
      await ch.subscribe(r.sub); // resolves: the consumer is created once NATS is up
      assert.equal(ch.ready(), false);
      await assert.rejects(ch.publish(ev('x')), UnavailableError);
      await down.start();
      await waitUntil(() => ch.ready(), 30_000, 'ready once NATS is up');
      await ch.publish(ev('y'));
      await waitUntil(() => r.ids().includes('y'), 15_000, 'delivered');
    } finally {
      await ch.destroy().catch(() => undefined);
      await m.close();
      await down.dispose();
    }
  });
});
