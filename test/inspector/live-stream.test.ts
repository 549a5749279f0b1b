import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { CloudEvent, emitterFor, httpTransport, Mode } from 'cloudevents';
import { request } from 'undici';
import { channelYaml, startSluice, subscriptionYaml, waitUntil } from '../helpers/sluice.js';
import { startSink, type RecordingSink } from '../helpers/sink.js';
import { SseReader } from './sse-reader.js';

type Sluice = Awaited<ReturnType<typeof startSluice>>;

const twoChannels = channelYaml('orders') + '---\n' + channelYaml('audit');

async function post(s: Sluice, channel: string, id: string, body: Buffer | string = `{"id":"${id}"}`, contentType = 'application/json'): Promise<void> {
  const res = await request(`${s.url}/channels/default/${channel}`, {
    method: 'POST',
    headers: { 'ce-specversion': '1.0', 'ce-id': id, 'ce-type': 'dev.test.stream', 'ce-source': '/test', 'content-type': contentType },
    body,
  });
  await res.body.dump();
  assert.equal(res.statusCode, 202);
}

describe('inspector live stream (GET /api/v1/stream, server-sent events)', () => {
  const cleanup: Array<() => unknown> = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c();
  });
  async function sluice(yaml: string, inspector: Parameters<typeof startSluice>[1] = {}): Promise<Sluice> {
    const s = await startSluice(yaml, inspector);
    cleanup.push(() => s.close());
    return s;
  }
  async function open(url: string): Promise<SseReader> {
    const r = await SseReader.open(url);
    cleanup.push(() => r.close());
    return r;
  }

  test('streams every accepted event as one JSON data line; filters by kind, namespace and name', async () => {
    const s = await sluice(twoChannels);
    const all = await open(`${s.adminUrl}/api/v1/stream`);
    const orders = await open(`${s.adminUrl}/api/v1/stream?kind=channel&namespace=default&name=orders`);
    const otherNs = await open(`${s.adminUrl}/api/v1/stream?namespace=elsewhere`);
    const brokers = await open(`${s.adminUrl}/api/v1/stream?kind=broker`);
    assert.equal(all.statusCode, 200);
    assert.match(String(all.headers['content-type']), /^text\/event-stream/);
    assert.equal(all.headers['cache-control'], 'no-cache, no-transform');
    await waitUntil(() => s.inspector.stream.clientCount === 4, 5000, 'four clients');

    // A real SDK client, structured mode: the stream shows the event as the channel took it.
    const emit = emitterFor(httpTransport(`${s.url}/channels/default/orders`), { mode: Mode.STRUCTURED });
    await emit(new CloudEvent({ id: 'o1', source: '/shop', type: 'dev.test.order', subject: 'cart', data: { total: 3 }, orderkey: 'k1' }));
    await post(s, 'audit', 'a1', Buffer.from([0xff, 0x00, 0xfe]), 'application/octet-stream');

    await all.waitForEvents(2);
    await orders.waitForEvents(1);
    const o1 = all.events.find((e) => e.attributes.id === 'o1')!;
    assert.equal(o1.kind, 'channel');
    assert.equal(o1.namespace, 'default');
    assert.equal(o1.name, 'orders');
    assert.ok(!Number.isNaN(Date.parse(o1.time)), 'time is a date');
    assert.equal(o1.attributes.type, 'dev.test.order');
    assert.equal(o1.attributes.subject, 'cart');
    assert.equal(o1.attributes.orderkey, 'k1');
    assert.equal(o1.dataEncoding, 'utf8');
    assert.deepEqual(JSON.parse(o1.data!), { total: 3 });
    const a1 = all.events.find((e) => e.attributes.id === 'a1')!;
    assert.equal(a1.dataEncoding, 'base64', 'bytes that are not UTF-8 travel as base64');
    assert.deepEqual(Buffer.from(a1.data!, 'base64'), Buffer.from([0xff, 0x00, 0xfe]));

    // The filtered streams saw the same events; a marker event proves nothing else is pending.
    await post(s, 'orders', 'marker');
    await orders.waitForEvents(2);
    assert.deepEqual(orders.events.map((e) => e.attributes.id), ['o1', 'marker']);
    assert.equal(otherNs.events.length, 0);
    assert.equal(brokers.events.length, 0);
  });

  test('batched posts stream one line per event; rejected posts stream nothing', async () => {
    const s = await sluice(channelYaml('orders'));
    const r = await open(`${s.adminUrl}/api/v1/stream?name=orders`);
    await waitUntil(() => s.inspector.stream.clientCount === 1);
    const batch = JSON.stringify([
      { specversion: '1.0', id: 'b1', source: '/t', type: 't' },
      { specversion: '1.0', id: 'b2', source: '/t', type: 't', datacontenttype: 'text/plain', data: 'two' },
    ]);
    const bad = await request(`${s.url}/channels/default/orders`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    await bad.body.dump();
    assert.equal(bad.statusCode, 400);
    const res = await request(`${s.url}/channels/default/orders`, { method: 'POST', headers: { 'content-type': 'application/cloudevents-batch+json' }, body: batch });
    await res.body.dump();
    assert.equal(res.statusCode, 202);
    await r.waitForEvents(2);
    assert.deepEqual(r.events.map((e) => e.attributes.id), ['b1', 'b2']);
    assert.equal(r.events[0]!.data, undefined, 'no data, no data field');
    assert.equal(r.events[1]!.data, 'two');
  });

  test('replies that re-enter a channel through the ingress are streamed too', async () => {
    const replier: RecordingSink = await startSink((req, res) => {
      res.writeHead(200, { 'ce-specversion': '1.0', 'ce-id': `reply-${String(req.headers['ce-id'])}`, 'ce-type': 'dev.test.reply', 'ce-source': '/replier' });
      res.end();
    });
    cleanup.push(() => replier.close());
    const s = await sluice(
      twoChannels +
        subscriptionYaml('ask', 'orders', replier.url, '  reply: {ref: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: audit}}'),
    );
    const r = await open(`${s.adminUrl}/api/v1/stream?name=audit`);
    await waitUntil(() => s.inspector.stream.clientCount === 1);
    await post(s, 'orders', 'q1');
    await r.waitForEvents(1);
    assert.equal(r.events[0]!.attributes.id, 'reply-q1');
    assert.equal(r.events[0]!.name, 'audit');
  });

  test('heartbeats keep a quiet stream open; a client that disconnects is removed', async () => {
    const s = await sluice(channelYaml('orders'), { inspector: { stream: { heartbeatMs: 50 } } });
    const r = await open(`${s.adminUrl}/api/v1/stream`);
    await waitUntil(() => r.comments.some((c) => c.startsWith('heartbeat')), 5000, 'a heartbeat comment');
    assert.equal(s.inspector.stream.clientCount, 1);
    r.close();
    await waitUntil(() => s.inspector.stream.clientCount === 0, 5000, 'the client to be removed');
    // With nobody listening, the ingress path does no stream work and still answers 202.
    await post(s, 'orders', 'after');
  });

  test('a client that stops reading is dropped; other clients and the ingress are not held up', async () => {
    const s = await sluice(channelYaml('orders'), { inspector: { stream: { maxBufferedBytes: 512 * 1024 } } });
    const fast = await open(`${s.adminUrl}/api/v1/stream`);
    // A raw socket that sends the request and then never reads a byte.
    const url = new URL(s.adminUrl);
    const slow = connect(Number(url.port), url.hostname);
    cleanup.push(() => slow.destroy());
    await new Promise<void>((resolve) => slow.once('connect', resolve));
    slow.write(`GET /api/v1/stream HTTP/1.1\r\nHost: ${url.host}\r\nAccept: text/event-stream\r\n\r\n`);
    slow.pause();
    await waitUntil(() => s.inspector.stream.clientCount === 2, 5000, 'both clients');

    const big = 'x'.repeat(128 * 1024);
    let sent = 0;
    // The kernel's socket buffers absorb a few MB first: post until the slow client overflows.
    while (s.inspector.stream.dropped === 0 && sent < 400) await post(s, 'orders', `big-${sent++}`, big, 'text/plain');
    assert.equal(s.inspector.stream.dropped, 1, 'the slow client was dropped');
    await waitUntil(() => s.inspector.stream.clientCount === 1, 5000, 'the slow client to be removed');
    await post(s, 'orders', 'last');
    await fast.waitForEvents(sent + 1, 20_000);
    assert.equal(fast.events.at(-1)!.attributes.id, 'last');
    assert.equal(fast.events.length, sent + 1, 'the reading client got every event');
  });

  test('bad filters get 400 JSON; past the client limit, 429 JSON', async () => {
    const s = await sluice(channelYaml('orders'), { inspector: { stream: { maxClients: 1 } } });
    const bad = await fetch(`${s.adminUrl}/api/v1/stream?kind=subscription`);
    assert.equal(bad.status, 400);
    assert.deepEqual(Object.keys((await bad.json()) as object).sort(), ['error', 'reason']);
    const twice = await fetch(`${s.adminUrl}/api/v1/stream?name=a&name=b`);
    assert.equal(twice.status, 400);
    await twice.body?.cancel();
    await open(`${s.adminUrl}/api/v1/stream`);
    await waitUntil(() => s.inspector.stream.clientCount === 1);
    const full = await fetch(`${s.adminUrl}/api/v1/stream`);
    assert.equal(full.status, 429);
    assert.equal(((await full.json()) as { reason: string }).reason, 'SLUICE_ERR_TOO_MANY_STREAMS');
  });

  test('closing sluice ends open streams instead of waiting on them', async () => {
    const s = await startSluice(channelYaml('orders'));
    const r = await open(`${s.adminUrl}/api/v1/stream`);
    await waitUntil(() => s.inspector.stream.clientCount === 1);
    await s.close();
    await waitUntil(() => r.ended, 5000, 'the stream to end');
    assert.equal(s.inspector.stream.clientCount, 0);
  });
});
