// The backend dead-letter stores on a private nats-server and redis-server: add, list
// (owner and filter), get, truncation of large events, and the compare-and-set of redrive
// marks that keeps two replicas (two connections) from claiming the same entry.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { NatsConnectionManager } from '../../src/channels/nats/nats-connection.js';
import { RedisConnectionManager } from '../../src/channels/bullmq/redis-connection.js';
import { NatsDeadLetterStore, RedisDeadLetterStore, type BackendDeadLetterStore, type DeadLetterOwner, type RedriveMark } from '../../src/deadletters/index.js';
import { startNatsServer, type ServerProcess } from '../helpers/nats-server.js';
import { startRedisServer } from '../helpers/redis-server.js';
import { waitUntil } from '../helpers/sluice.js';

const orders: DeadLetterOwner = { kind: 'Subscription', namespace: 'default', name: 'orders', resource: 'chan' };
const audit: DeadLetterOwner = { kind: 'Subscription', namespace: 'dl', name: 'audit.v1', resource: 'chan' };
const meta = { attempts: 1, statusCode: 500, deadLetterUri: 'http://dls/' };
const ev = (id: string, data = '{"n":1}') => ({ attributes: { specversion: '1.0', id, source: '/s', type: 't', knativeerrorcode: '500' }, data: Buffer.from(data) });
const mark = (outcome: RedriveMark['outcome']): RedriveMark => ({ at: new Date().toISOString(), outcome, redriveCount: 1 });

interface Harness {
  name: string;
  start: () => Promise<ServerProcess & { url: string }>;
  /** Two stores on two connections, as two replicas have. */
  stores: (url: string) => Promise<{ a: BackendDeadLetterStore; b: BackendDeadLetterStore; close: () => Promise<void> }>;
}

const HARNESSES: Harness[] = [
  {
    name: 'NatsDeadLetterStore',
    start: () => startNatsServer(),
    stores: async (url) => {
      const c1 = new NatsConnectionManager({ servers: url });
      const c2 = new NatsConnectionManager({ servers: url });
      await Promise.all([c1.connect(), c2.connect()]);
      const opts = { maxEventBytes: 1024 };
      return { a: new NatsDeadLetterStore({ connection: c1, ...opts }), b: new NatsDeadLetterStore({ connection: c2, ...opts }), close: async () => void (await Promise.all([c1.close(), c2.close()])) };
    },
  },
  {
    name: 'RedisDeadLetterStore',
    start: () => startRedisServer({ appendfsync: 'everysec' }),
    stores: async (url) => {
      const c1 = new RedisConnectionManager({ url });
      const c2 = new RedisConnectionManager({ url });
      await waitUntil(() => c1.isConnected() && c2.isConnected(), 10_000, 'redis connected');
      const opts = { maxEventBytes: 1024 };
      return { a: new RedisDeadLetterStore({ connection: () => c1, ...opts }), b: new RedisDeadLetterStore({ connection: () => c2, ...opts }), close: async () => void (await Promise.all([c1.close(), c2.close()])) };
    },
  },
];

for (const h of HARNESSES) {
  describe(h.name, { timeout: 60_000 }, () => {
    let server: ServerProcess & { url: string };
    let a: BackendDeadLetterStore;
    let b: BackendDeadLetterStore;
    let close: () => Promise<void>;

    before(async () => {
      server = await h.start();
      ({ a, b, close } = await h.stores(server.url));
    });
    after(async () => {
      await close?.();
      await server?.stop();
    });

    test('add, list by owner and filter (newest first), get; another connection sees the same', async () => {
      assert.equal(a.available(), true);
      await a.add(orders, ev('o1'), meta);
      await new Promise((r) => setTimeout(r, 2));
      await a.add(orders, ev('o2'), meta);
      await a.add(audit, ev('a1'), { ...meta, statusCode: undefined });
      await a.add(orders, ev('big', 'x'.repeat(5000)), meta);
      const mine = await b.list(orders);
      assert.deepEqual(mine.map((e) => e.event.attributes.id), ['big', 'o2', 'o1']);
      assert.ok(mine.every((e) => e.entryId.startsWith(b.prefix)));
      assert.deepEqual((await b.list({ namespace: 'dl' })).map((e) => e.event.attributes.id), ['a1']);
      assert.deepEqual((await b.list(undefined, { id: 'o1' })).map((e) => e.owner), [orders]);
      assert.equal((await b.list()).length, 4);
      const big = mine[0]!;
      assert.equal(big.redrivable, false, 'over maxEventBytes: listed, not redrivable');
      assert.equal(big.event.data!.length, 4096);
      const o1 = (await a.get(mine[2]!.entryId))!;
      assert.equal(o1.event.attributes.id, 'o1');
      assert.equal(o1.event.data!.toString(), '{"n":1}');
      assert.equal(o1.statusCode, 500);
      assert.equal(o1.deadLetterUri, 'http://dls/');
      assert.equal((await a.get(`${a.prefix}999999`)) ?? undefined, undefined);
    });

    test('claims are compare-and-set across connections: concurrent claims, one wins', async () => {
      const entries = await a.list(orders, { id: 'o1' });
      const id = entries[0]!.entryId;
      const results = await Promise.all([a, b, a, b].map((s) => s.markRedriven(id, mark('sending'), { current: undefined })));
      assert.equal(results.filter(Boolean).length, 1, JSON.stringify(results));
      const claimed = (await b.get(id))!.redriven!;
      assert.equal(claimed.outcome, 'sending');
      // The final mark (no expectation), then a forced redrive expecting that mark.
      assert.equal(await a.markRedriven(id, mark('delivered')), true);
      const done = (await b.list(orders, { id: 'o1' }))[0]!;
      assert.equal(done.redriven?.outcome, 'delivered');
      assert.equal(await b.markRedriven(id, mark('sending'), { current: claimed }), false, 'a stale expectation loses');
      const forced = await Promise.all([a, b].map((s) => s.markRedriven(id, mark('sending'), { current: done.redriven })));
      assert.equal(forced.filter(Boolean).length, 1);
      assert.deepEqual((await a.list(orders, { pending: true })).map((e) => e.event.attributes.id), ['big', 'o2']);
      assert.deepEqual((await a.list(orders, { pending: false })).map((e) => e.event.attributes.id), ['o1']);
    });
  });
}
