// Dead letters of Subscriptions on durable channels are kept in the backend (issue 13):
// they outlive a Sluice restart, every replica on the backend lists them, and a redrive
// sends each once even when two replicas redrive at the same time.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { SluiceServer, SluiceServerOptions } from '../../src/server/sluice-server.js';
import { startNatsServer, type ServerProcess } from '../helpers/nats-server.js';
import { startRedisServer } from '../helpers/redis-server.js';
import { startSink, type RecordingSink } from '../helpers/sink.js';
import { startSluice, waitUntil } from '../helpers/sluice.js';

interface Backend {
  name: string;
  kind: string;
  apiVersion: string;
  prefix: string;
  start: () => Promise<ServerProcess & { url: string }>;
  options: (url: string) => Partial<SluiceServerOptions>;
}

const BACKENDS: Backend[] = [
  { name: 'NATS JetStream', kind: 'NatsJetStreamChannel', apiVersion: 'messaging.knative.dev/v1alpha1', prefix: 'nats:', start: () => startNatsServer(), options: (url) => ({ nats: { servers: url } }) },
  { name: 'Redis', kind: 'RedisChannel', apiVersion: 'messaging.sluice.dev/v1alpha1', prefix: 'redis:', start: () => startRedisServer({ appendfsync: 'everysec' }), options: (url) => ({ redis: { url } }) },
];

type Server = SluiceServer & { url: string };

interface ListedEntry {
  entryId: string;
  eventId: string;
  ref: string;
  redriven?: { outcome: string };
}

async function listDeadLetters(s: Server): Promise<ListedEntry[]> {
  const r = await fetch(`${s.adminUrl}/api/v1/deadletters?subscription=subscription/default/orders`);
  assert.equal(r.status, 200, await r.clone().text());
  return ((await r.json()) as { items: ListedEntry[] }).items;
}

async function redrive(s: Server): Promise<{ sent: number; delivered: number; skipped: number; items: Array<{ eventId: string; outcome: string; reason?: string }> }> {
  const r = await fetch(`${s.adminUrl}/api/v1/deadletters/redrive`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ subscription: 'subscription/default/orders' }) });
  const body = await r.text();
  assert.equal(r.status, 200, body);
  return JSON.parse(body);
}

async function ready(s: Server): Promise<void> {
  await waitUntil(() => s.runtime.readiness().ready, 20_000, `sluice ready: ${JSON.stringify(s.runtime.readiness().pending)}`);
}

for (const b of BACKENDS) {
  describe(`dead letters kept in ${b.name}`, { timeout: 120_000 }, () => {
    let backend: ServerProcess & { url: string };
    let subscriber: RecordingSink;
    let dls: RecordingSink;
    let failing = true;
    const servers: Server[] = [];
    let yaml = '';

    const start = async (): Promise<Server> => {
      const s = await startSluice(yaml, b.options(backend.url));
      servers.push(s);
      await ready(s);
      return s;
    };

    before(async () => {
      backend = await b.start();
      subscriber = await startSink((_req, res) => {
        res.statusCode = failing ? 500 : 200;
        res.end();
      });
      dls = await startSink();
      yaml = `apiVersion: ${b.apiVersion}
kind: ${b.kind}
metadata: {name: dlchan}
---
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata: {name: orders}
spec:
  channel: {apiVersion: ${b.apiVersion}, kind: ${b.kind}, name: dlchan}
  subscriber: {uri: "${subscriber.url}"}
  delivery:
    retry: 0
    deadLetterSink: {uri: "${dls.url}"}
`;
    });

    after(async () => {
      for (const s of servers) await s.close().catch(() => undefined);
      await subscriber?.close();
      await dls?.close();
      await backend?.stop();
    });

    test('kept across a restart, listed by every replica, redriven once by concurrent redrives', async () => {
      const first = await start();
      for (const id of ['e1', 'e2', 'e3']) {
        const r = await fetch(first.runtime.channelUrl('default', 'dlchan'), {
          method: 'POST',
          headers: { 'ce-specversion': '1.0', 'ce-id': id, 'ce-type': 'order.created', 'ce-source': '/test', 'content-type': 'application/json' },
          body: JSON.stringify({ id }),
        });
        assert.ok(r.status >= 200 && r.status < 300, `publish ${id}: ${r.status}`);
      }
      await dls.waitFor(3, 20_000);
      await waitUntil(async () => (await listDeadLetters(first)).length === 3, 10_000, 'three dead letters listed');
      const listed = await listDeadLetters(first);
      assert.ok(listed.every((e) => e.entryId.startsWith(b.prefix)), `kept in the backend: ${listed.map((e) => e.entryId).join(', ')}`);
      assert.deepEqual(listed.map((e) => e.eventId).sort(), ['e1', 'e2', 'e3']);

      // A restart: a new server on the same backend still lists them.
      await first.close();
      const second = await start();
      const afterRestart = await listDeadLetters(second);
      assert.deepEqual(afterRestart.map((e) => e.entryId).sort(), listed.map((e) => e.entryId).sort());

      // Two replicas sharing the backend both see them.
      const third = await start();
      assert.deepEqual((await listDeadLetters(third)).map((e) => e.entryId).sort(), listed.map((e) => e.entryId).sort());

      // Both redrive at once: each dead letter reaches the subscriber exactly once.
      failing = false;
      const before = subscriber.requests.length;
      const [r2, r3] = await Promise.all([redrive(second), redrive(third)]);
      assert.equal(r2.delivered + r3.delivered, 3, JSON.stringify({ r2, r3 }));
      assert.equal(r2.skipped + r3.skipped, 3, 'what one replica sent the other skipped');
      await new Promise((r) => setTimeout(r, 300));
      const ids = subscriber.requests.slice(before).map((q) => String(q.headers['ce-id']));
      assert.deepEqual(ids.sort(), ['e1', 'e2', 'e3'], 'each redriven exactly once');
      assert.ok(subscriber.requests.slice(before).every((q) => q.headers['ce-sluiceredrivecount'] === '1'));

      // Both replicas see the marks; a second redrive sends nothing.
      for (const s of [second, third]) {
        const items = await listDeadLetters(s);
        assert.ok(items.every((e) => e.redriven?.outcome === 'delivered'), JSON.stringify(items.map((e) => e.redriven)));
      }
      const again = await redrive(third);
      assert.equal(again.sent, 0);
      assert.equal(subscriber.requests.length - before, 3);
    });

    test("a Trigger's dead letters are kept in its Broker's backend too, and outlive a restart", async () => {
      const triggerSink = await startSink((_req, res) => {
        res.statusCode = 500;
        res.end();
      });
      const triggerDls = await startSink();
      const brokerYaml = `apiVersion: v1
kind: ConfigMap
metadata: {name: durable-broker}
data:
  channel-template-spec: |
    apiVersion: ${b.apiVersion}
    kind: ${b.kind}
---
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {name: shop}
spec:
  config: {apiVersion: v1, kind: ConfigMap, name: durable-broker}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: audit}
spec:
  broker: shop
  subscriber: {uri: "${triggerSink.url}"}
  delivery:
    retry: 0
    deadLetterSink: {uri: "${triggerDls.url}"}
`;
      const list = async (s: Server) => {
        const r = await fetch(`${s.adminUrl}/api/v1/deadletters?subscription=trigger/default/audit`);
        assert.equal(r.status, 200, await r.clone().text());
        return ((await r.json()) as { items: ListedEntry[] }).items;
      };
      try {
        const first = await startSluice(brokerYaml, b.options(backend.url));
        servers.push(first);
        await ready(first);
        // The broker's backing channel connects after start: 503 until then, and nothing is stored.
        let status = 0;
        await waitUntil(
          async () => {
            const r = await fetch(`${first.url}/default/shop`, {
              method: 'POST',
              headers: { 'ce-specversion': '1.0', 'ce-id': 't1', 'ce-type': 'order.created', 'ce-source': '/test', 'content-type': 'application/json' },
              body: '{}',
            });
            status = r.status;
            return status >= 200 && status < 300;
          },
          20_000,
          `the broker takes the event (last ${status})`,
        );
        await triggerDls.waitFor(1, 20_000);
        await waitUntil(async () => (await list(first)).length === 1, 10_000, 'the dead letter listed');
        const [entry] = await list(first);
        assert.ok(entry!.entryId.startsWith(b.prefix), `kept in the backend: ${entry!.entryId}`);
        assert.equal(entry!.ref, 'trigger/default/audit');
        await first.close();
        const second = await startSluice(brokerYaml, b.options(backend.url));
        servers.push(second);
        await ready(second);
        // Listed once the new server's broker channel has connected to the backend.
        await waitUntil(async () => (await list(second)).some((e) => e.entryId === entry!.entryId), 20_000, 'still there after a restart');
        assert.deepEqual((await list(second)).map((e) => e.entryId), [entry!.entryId]);
      } finally {
        await triggerSink.close();
        await triggerDls.close();
      }
    });
  });
}
