import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CloudEvent, emitterFor, httpTransport, Mode } from 'cloudevents';
import type { DeliveryRecordView, RateView } from '../../src/inspector/index.js';
import type { DeadLetterEntryView as DeadLetterView } from '../../src/deadletters/dead-letter-view.js';
import { channelYaml, startSluice, subscriptionYaml, waitUntil } from '../helpers/sluice.js';
import { startSink, type RecordingSink } from '../helpers/sink.js';
import { SseReader } from './sse-reader.js';

type Sluice = Awaited<ReturnType<typeof startSluice>>;

const ce = (id: string, data: unknown = { n: id }) => new CloudEvent({ id, source: '/test', type: 'dev.test.delivery', data });

async function items<T>(s: Sluice, path: string): Promise<T[]> {
  const res = await fetch(`${s.adminUrl}${path}`);
  assert.equal(res.status, 200, `${path} answered ${res.status}`);
  return ((await res.json()) as { items: T[] }).items;
}

describe('inspector delivery history (GET /api/v1/deliveries, /api/v1/deadletters)', () => {
  const cleanup: Array<() => unknown> = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c();
  });
  async function sink(responder?: Parameters<typeof startSink>[0]): Promise<RecordingSink> {
    const s = await startSink(responder);
    cleanup.push(() => s.close());
    return s;
  }

  test('outcomes newest first with attempts and status; dead letters carry the knativeerror* extensions', async () => {
    const ok = await sink();
    const failing = await sink((_req, res) => {
      res.statusCode = 503;
      res.end('backend down: {"reason":"maintenance"}');
    });
    const rejecting = await sink((_req, res) => {
      res.statusCode = 400;
      res.end();
    });
    const dls = await sink();
    const s = await startSluice(
      channelYaml('orders') +
        subscriptionYaml('good', 'orders', ok.url) +
        subscriptionYaml('flaky', 'orders', failing.url, `  delivery: {retry: 2, backoffPolicy: linear, backoffDelay: PT0.01S, deadLetterSink: {uri: "${dls.url}"}}\n`) +
        subscriptionYaml('strict', 'orders', rejecting.url),
    );
    cleanup.push(() => s.close());
    const emit = emitterFor(httpTransport(`${s.url}/channels/default/orders`), { mode: Mode.BINARY });
    await emit(ce('e1', { order: 1 }));
    await dls.waitFor(1);
    await ok.waitFor(1);
    await waitUntil(async () => (await items<DeliveryRecordView>(s, '/api/v1/deliveries')).length >= 5, 5000, 'five outcomes');

    const all = await items<DeliveryRecordView>(s, '/api/v1/deliveries');
    const times = all.map((d) => Date.parse(d.time));
    assert.deepEqual(times, [...times].sort((a, b) => b - a), 'newest first');
    const good = all.find((d) => d.subscription === 'good')!;
    assert.equal(good.outcome, 'delivered');
    assert.equal(good.attempts, 1);
    assert.equal(good.statusCode, 202);
    assert.equal(good.namespace, 'default');
    assert.equal(good.resource, 'orders');
    assert.equal(good.eventId, 'e1');
    assert.equal(good.eventType, 'dev.test.delivery');
    assert.equal(good.eventSource, '/test');
    assert.equal(typeof good.durationMs, 'number');
    const flaky = all.filter((d) => d.subscription === 'flaky').map((d) => [d.outcome, d.attempts, d.statusCode]);
    assert.deepEqual(flaky, [
      ['dead-lettered', 3, 503],
      ['retrying', 2, 503],
      ['retrying', 1, 503],
    ]);
    const strict = all.find((d) => d.subscription === 'strict')!;
    assert.deepEqual([strict.outcome, strict.attempts, strict.statusCode], ['failed', 1, 400], '400 is not retried; no DLS: failed');

    const dead = await items<DeadLetterView>(s, '/api/v1/deadletters');
    assert.equal(dead.length, 1, 'dead letters only');
    const d = dead[0]!;
    assert.equal(d.outcome, 'dead-lettered');
    assert.equal(d.subscription, 'flaky');
    assert.equal(d.attempts, 3);
    assert.equal(d.attributes.id, 'e1');
    assert.equal(d.attributes.type, 'dev.test.delivery');
    assert.equal(d.attributes.knativeerrorcode, '503');
    assert.equal(d.attributes.knativeerrordest, failing.url);
    assert.equal(Buffer.from(d.attributes.knativeerrordata!, 'base64').toString(), 'backend down: {"reason":"maintenance"}');
    assert.deepEqual(JSON.parse(d.data!), { order: 1 });
    assert.equal(d.deadLetterUri, dls.url);
    // The history shows what the dead-letter sink really received.
    assert.equal(dls.requests[0]!.headers['ce-knativeerrordata'], d.attributes.knativeerrordata);
  });

  test('filters by namespace, resource and subscription; limit; bad queries get 400 JSON', async () => {
    const a = await sink();
    const b = await sink();
    const s = await startSluice(
      channelYaml('one') + '---\n' + channelYaml('two') + subscriptionYaml('to-a', 'one', a.url) + subscriptionYaml('to-b', 'two', b.url),
    );
    cleanup.push(() => s.close());
    for (let i = 0; i < 3; i++) await emitterFor(httpTransport(`${s.url}/channels/default/one`))(ce(`one-${i}`));
    await emitterFor(httpTransport(`${s.url}/channels/default/two`))(ce('two-0'));
    await a.waitFor(3);
    await b.waitFor(1);
    await waitUntil(async () => (await items(s, '/api/v1/deliveries')).length === 4, 5000, 'four outcomes');

    assert.deepEqual(
      (await items<DeliveryRecordView>(s, '/api/v1/deliveries?resource=one')).map((d) => d.subscription),
      ['to-a', 'to-a', 'to-a'],
    );
    assert.deepEqual((await items<DeliveryRecordView>(s, '/api/v1/deliveries?subscription=to-b')).map((d) => d.eventId), ['two-0']);
    assert.equal((await items(s, '/api/v1/deliveries?namespace=default&limit=2')).length, 2);
    assert.equal((await items(s, '/api/v1/deliveries?namespace=other')).length, 0);
    assert.equal((await items(s, '/api/v1/deadletters?resource=one')).length, 0);
    for (const q of ['limit=0', 'limit=-1', 'limit=abc', 'limit=1.5', 'resource=a&resource=b']) {
      const res = await fetch(`${s.adminUrl}/api/v1/deliveries?${q}`);
      assert.equal(res.status, 400, q);
      const body = (await res.json()) as { error: string; reason: string };
      assert.equal(body.reason, 'SLUICE_ERR_INVALID_QUERY', q);
      assert.ok(body.error.length > 0);
    }
  });

  test('the history is a bounded ring: the oldest outcomes make room', async () => {
    const a = await sink();
    const s = await startSluice(channelYaml('ring') + subscriptionYaml('to-a', 'ring', a.url), { inspector: { deliveries: { capacity: 5 } } });
    cleanup.push(() => s.close());
    const emit = emitterFor(httpTransport(`${s.url}/channels/default/ring`));
    for (let i = 0; i < 8; i++) await emit(ce(`r${i}`));
    await a.waitFor(8);
    await waitUntil(async () => (await items<DeliveryRecordView>(s, '/api/v1/deliveries')).some((d) => d.eventId === 'r7'), 5000, 'the last outcome');
    const kept = await items<DeliveryRecordView>(s, '/api/v1/deliveries?limit=100');
    assert.equal(kept.length, 5);
    assert.ok(!kept.some((d) => d.eventId === 'r0'), 'the oldest is gone');
  });
});

const brokerYaml = (orders: string, replier: string) => `apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {name: shop}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: on-order}
spec:
  broker: shop
  filter: {attributes: {type: com.example.order}}
  subscriber: {uri: "${orders}"}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: ask}
spec:
  broker: shop
  filter: {attributes: {type: com.example.question}}
  subscriber: {uri: "${replier}"}
`;

describe('inspector on a broker: trigger deliveries, trigger rates and the broker stream', () => {
  const cleanup: Array<() => unknown> = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  test('events and trigger replies entering a broker are streamed; triggers show up as triggers', async () => {
    const orders = await startSink();
    // Answers a question with an order: the reply re-enters the broker and reaches on-order.
    const replier = await startSink((req, res) => {
      res.writeHead(200, { 'ce-specversion': '1.0', 'ce-id': `answer-${String(req.headers['ce-id'])}`, 'ce-type': 'com.example.order', 'ce-source': '/replier' });
      res.end();
    });
    cleanup.push(() => orders.close(), () => replier.close());
    const s = await startSluice(brokerYaml(orders.url, replier.url));
    cleanup.push(() => s.close());
    const stream = await SseReader.open(`${s.adminUrl}/api/v1/stream?kind=broker&namespace=default&name=shop`);
    cleanup.push(() => stream.close());
    await waitUntil(() => s.inspector.stream.clientCount === 1);

    const emit = emitterFor(httpTransport(`${s.url}/default/shop`));
    await emit(new CloudEvent({ id: 'o1', source: '/shop', type: 'com.example.order', data: { n: 1 } }));
    await emit(new CloudEvent({ id: 'q1', source: '/shop', type: 'com.example.question', data: { q: '?' } }));
    await orders.waitFor(2);

    await stream.waitForEvents(3);
    assert.deepEqual(stream.events.map((e) => e.attributes.id).sort(), ['answer-q1', 'o1', 'q1']);
    for (const e of stream.events) assert.deepEqual([e.kind, e.namespace, e.name], ['broker', 'default', 'shop']);

    let deliveries: DeliveryRecordView[] = [];
    await waitUntil(async () => {
      deliveries = ((await (await fetch(`${s.adminUrl}/api/v1/deliveries?resource=shop`)).json()) as { items: DeliveryRecordView[] }).items;
      return deliveries.length >= 3;
    }, 5000, 'three trigger deliveries');
    assert.deepEqual(
      deliveries.map((d) => `${d.subscription}:${d.eventId}:${d.outcome}`).sort(),
      ['ask:q1:delivered', 'on-order:answer-q1:delivered', 'on-order:o1:delivered'],
    );

    const rates = ((await (await fetch(`${s.adminUrl}/api/v1/rates`)).json()) as { items: RateView[] }).items;
    const broker = rates.find((r) => r.kind === 'broker' && r.name === 'shop');
    assert.equal(broker?.total, 3, 'two posts and one reply entered the broker');
    const onOrder = rates.find((r) => r.name === 'on-order');
    assert.deepEqual([onOrder?.kind, onOrder?.resource, onOrder?.total], ['trigger', 'shop', 2]);
    assert.equal(rates.find((r) => r.name === 'ask')?.kind, 'trigger');
  });
});
