import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CloudEvent, emitterFor, httpTransport, Mode } from 'cloudevents';
import type { DeadLetterEntryView, RedriveResponse } from '../../src/deadletters/index.js';
import { channelYaml, startSluice, subscriptionYaml, waitUntil } from '../helpers/sluice.js';
import { startSink, type RecordingSink, type SinkResponder } from '../helpers/sink.js';

type Sluice = Awaited<ReturnType<typeof startSluice>>;

const fail500: SinkResponder = (_req, res) => {
  res.statusCode = 500;
  res.end('subscriber broken');
};
const ok202: SinkResponder = (_req, res) => {
  res.statusCode = 202;
  res.end();
};

async function list(s: Sluice, query = ''): Promise<DeadLetterEntryView[]> {
  const res = await fetch(`${s.adminUrl}/api/v1/deadletters${query}`);
  assert.equal(res.status, 200, `list ${query} answered ${res.status}`);
  return ((await res.json()) as { items: DeadLetterEntryView[] }).items;
}

async function redrive(s: Sluice, body: unknown): Promise<{ status: number; body: RedriveResponse & { error?: string; reason?: string } }> {
  const res = await fetch(`${s.adminUrl}/api/v1/deadletters/redrive`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as RedriveResponse & { error?: string; reason?: string } };
}

const ids = (sink: RecordingSink) => sink.requests.map((r) => String(r.headers['ce-id']));

describe('dead-letter redrive (admin API)', () => {
  let s: Sluice;
  let subscriber: RecordingSink;
  let dls: RecordingSink;
  const SUB = 'subscription/default/orders-to-svc';

  before(async () => {
    subscriber = await startSink(fail500);
    dls = await startSink();
    s = await startSluice(
      channelYaml('orders') + subscriptionYaml('orders-to-svc', 'orders', subscriber.url, `  delivery: {retry: 0, deadLetterSink: {uri: "${dls.url}"}}\n`),
    );
    const emit = emitterFor(httpTransport(`${s.url}/channels/default/orders`), { mode: Mode.BINARY });
    for (let i = 1; i <= 5; i++) await emit(new CloudEvent({ id: `o-${i}`, source: '/shop', type: i === 3 ? 'order.cancelled' : 'order.created', data: { n: i } }));
    await dls.waitFor(5);
    // The dead-letter sink has each event before its answer reaches Sluice, which records the entry then.
    await waitUntil(async () => (await list(s)).length === 5, 5000, 'five dead letters listed');
  });
  after(async () => {
    await s?.close();
    await subscriber?.close();
    await dls?.close();
  });

  test('list shows the 5 dead letters with their subscription and knativeerror* extensions', async () => {
    await waitUntil(async () => (await list(s, `?subscription=${SUB}`)).length === 5, 5000, 'five dead letters');
    const items = await list(s, `?subscription=${SUB}`);
    assert.deepEqual(items.map((i) => i.eventId).sort(), ['o-1', 'o-2', 'o-3', 'o-4', 'o-5']);
    for (const i of items) {
      assert.equal(i.ref, SUB);
      assert.equal(i.kind, 'subscription');
      assert.equal(i.resource, 'orders');
      assert.equal(i.attributes.knativeerrorcode, '500');
      assert.equal(i.redrivable, true);
      assert.equal(i.redriven, undefined);
    }
    assert.deepEqual((await list(s, `?subscription=${SUB}&type=order.cancelled`)).map((i) => i.eventId), ['o-3']);
    assert.equal((await list(s, '?code=404')).length, 0);
    assert.equal((await list(s, '?code=500&source=/shop')).length, 5);
    // The inspector's own query (namespace, resource, subscription name) still works.
    assert.equal((await list(s, '?namespace=default&resource=orders&subscription=orders-to-svc&limit=2')).length, 2);
  });

  test('dry run lists what would be sent and sends nothing', async () => {
    const before = subscriber.requests.length;
    const r = await redrive(s, { subscription: SUB, dryRun: true });
    assert.equal(r.status, 200);
    assert.equal(r.body.dryRun, true);
    assert.equal(r.body.sent, 5);
    assert.deepEqual(r.body.items.map((i) => [i.outcome, i.redriveCount]), Array(5).fill(['would-send', 1]));
    await new Promise((res) => setTimeout(res, 100));
    assert.equal(subscriber.requests.length, before, 'nothing sent');
    assert.ok((await list(s, `?subscription=${SUB}`)).every((i) => i.redriven === undefined), 'nothing marked');
  });

  test('filter by id redrives one; once fixed, redrive all delivers each other one exactly once with the same id and sluiceredrivecount 1', async () => {
    subscriber.setResponder(ok202);
    const before = subscriber.requests.length;
    const one = await redrive(s, { subscription: SUB, ids: ['o-2'] });
    assert.equal(one.status, 200);
    assert.equal(one.body.items.length, 1);
    assert.deepEqual([one.body.items[0]!.eventId, one.body.items[0]!.outcome, one.body.items[0]!.statusCode], ['o-2', 'delivered', 202]);
    assert.deepEqual(ids(subscriber).slice(before), ['o-2']);

    const all = await redrive(s, { subscription: SUB });
    assert.equal(all.status, 200);
    assert.equal(all.body.delivered, 4);
    assert.equal(all.body.skipped, 1, 'o-2 was already redriven');
    assert.match(all.body.items.find((i) => i.eventId === 'o-2')!.reason!, /already redriven/);
    const sent = subscriber.requests.slice(before);
    assert.deepEqual(sent.map((r) => String(r.headers['ce-id'])).sort(), ['o-1', 'o-2', 'o-3', 'o-4', 'o-5'], 'each exactly once');
    for (const r of sent) {
      assert.equal(r.headers['ce-sluiceredrivecount'], '1');
      assert.equal(r.headers['ce-source'], '/shop');
      assert.equal(r.headers['ce-knativeerrorcode'], undefined, 'knativeerror* removed');
      assert.equal(r.headers['ce-knativeerrordest'], undefined);
      assert.equal(r.headers['ce-knativeerrordata'], undefined);
      assert.equal(JSON.parse(r.body.toString()).n, Number(String(r.headers['ce-id']).slice(2)), 'data unchanged');
    }
    const listed = await list(s, `?subscription=${SUB}`);
    assert.ok(listed.every((i) => i.redriven?.outcome === 'delivered' && i.redriven.redriveCount === 1));
    assert.equal((await list(s, `?subscription=${SUB}&pending=true`)).length, 0);
  });

  test('a second redrive sends nothing; force sends again with sluiceredrivecount still 1 (per dead letter)', async () => {
    const before = subscriber.requests.length;
    const again = await redrive(s, { subscription: SUB });
    assert.equal(again.status, 200);
    assert.equal(again.body.sent, 0);
    assert.equal(again.body.skipped, 5);
    await new Promise((res) => setTimeout(res, 100));
    assert.equal(subscriber.requests.length, before);
    const forced = await redrive(s, { subscription: SUB, ids: ['o-4'], force: true });
    assert.equal(forced.body.delivered, 1);
    assert.deepEqual(ids(subscriber).slice(before), ['o-4']);
  });

  test('a redrive that fails again is dead-lettered again with sluiceredrivecount, and that one can be redriven (count 2)', async () => {
    subscriber.setResponder(fail500);
    const emit = emitterFor(httpTransport(`${s.url}/channels/default/orders`), { mode: Mode.BINARY });
    const dlsBefore = dls.requests.length;
    await emit(new CloudEvent({ id: 'o-6', source: '/shop', type: 'order.created', data: { n: 6 } }));
    await dls.waitFor(dlsBefore + 1);
    await waitUntil(async () => (await list(s)).some((e) => e.eventId === 'o-6'), 5000, 'o-6 listed');
    const r = await redrive(s, { subscription: SUB, ids: ['o-6'] });
    assert.deepEqual([r.body.items[0]!.outcome, r.body.items[0]!.statusCode, r.body.failed], ['dead-lettered', 500, 1]);
    await dls.waitFor(dlsBefore + 2);
    const again = dls.requests.at(-1)!;
    assert.equal(again.headers['ce-id'], 'o-6');
    assert.equal(again.headers['ce-sluiceredrivecount'], '1');
    assert.equal(again.headers['ce-knativeerrorcode'], '500');
    subscriber.setResponder(ok202);
    const before = subscriber.requests.length;
    const second = await redrive(s, { subscription: SUB, ids: ['o-6'] });
    assert.equal(second.body.delivered, 1, JSON.stringify(second.body));
    assert.equal(subscriber.requests.length, before + 1);
    assert.equal(subscriber.requests.at(-1)!.headers['ce-sluiceredrivecount'], '2');
  });

  test('errors: unknown subscription 404, bad body or ref 400, unknown id reported as not-found', async () => {
    const missing = await redrive(s, { subscription: 'subscription/default/nope' });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.reason, 'SLUICE_ERR_NOT_FOUND');
    assert.match(missing.body.error!, /Subscription default\/nope not found/);
    const listMissing = await fetch(`${s.adminUrl}/api/v1/deadletters?subscription=trigger/default/nope`);
    assert.equal(listMissing.status, 404);
    for (const body of [{}, { subscription: 'orders' }, { subscription: SUB, ids: 'o-1' }, { subscription: SUB, filter: { color: 'red' } }, { subscription: SUB, dryRun: 'yes' }]) {
      const r = await redrive(s, body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.match(r.body.reason!, /^SLUICE_ERR_/);
      assert.ok(r.body.error!.length > 0);
    }
    const notFound = await redrive(s, { subscription: SUB, ids: ['zzz'] });
    assert.equal(notFound.status, 200);
    assert.deepEqual(notFound.body.items.map((i) => [i.eventId, i.outcome]), [['zzz', 'not-found']]);
    const badQuery = await fetch(`${s.adminUrl}/api/v1/deadletters?pending=maybe`);
    assert.equal(badQuery.status, 400);
  });
});

describe('a redrive claim left by a replica that died mid-redrive', () => {
  test('blocks the entry until it lapses (past the policy worst case), then a plain redrive sends it', async () => {
    const subscriber = await startSink(fail500);
    const dls = await startSink();
    const s = await startSluice(channelYaml('lapse') + subscriptionYaml('lapse-sub', 'lapse', subscriber.url, `  delivery: {retry: 0, deadLetterSink: {uri: "${dls.url}"}}\n`));
    try {
      const emit = emitterFor(httpTransport(`${s.url}/channels/default/lapse`), { mode: Mode.BINARY });
      for (const id of ['l-1', 'l-2']) await emit(new CloudEvent({ id, source: '/shop', type: 'order.created', data: {} }));
      await dls.waitFor(2);
      const SUB = 'subscription/default/lapse-sub';
      await waitUntil(async () => (await list(s, `?subscription=${SUB}`)).length === 2, 5000, 'two dead letters');
      const entries = await list(s, `?subscription=${SUB}`);
      const byId = Object.fromEntries(entries.map((e) => [e.eventId, e.entryId]));
      // What a replica leaves when it dies after claiming: `sending`, one claim lapsed, one not.
      const at = new Date(Date.now() - 3_600_000).toISOString();
      assert.equal(await s.deadLetters.store.markRedriven(byId['l-1']!, { at, outcome: 'sending', redriveCount: 1, until: new Date(Date.now() - 1000).toISOString() }, { current: undefined }), true);
      assert.equal(await s.deadLetters.store.markRedriven(byId['l-2']!, { at, outcome: 'sending', redriveCount: 1, until: new Date(Date.now() + 3_600_000).toISOString() }, { current: undefined }), true);
      subscriber.setResponder(ok202);
      const before = subscriber.requests.length;
      const r = await redrive(s, { subscription: SUB });
      assert.equal(r.status, 200);
      const outcome = Object.fromEntries(r.body.items.map((i) => [i.eventId, i.outcome]));
      assert.deepEqual(outcome, { 'l-1': 'delivered', 'l-2': 'skipped' });
      assert.deepEqual(ids(subscriber).slice(before), ['l-1'], 'only the entry whose claim lapsed was sent');
      const after = await list(s, `?subscription=${SUB}`);
      const l1 = after.find((e) => e.eventId === 'l-1')!;
      assert.equal(l1.redriven?.outcome, 'delivered');
    } finally {
      await s.close();
      await subscriber.close();
      await dls.close();
    }
  });
});
