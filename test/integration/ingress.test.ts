import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { CloudEvent, emitterFor, httpTransport } from 'cloudevents';
import { startSink, type RecordingSink } from '../helpers/sink.js';
import { channelYaml, startSluice, subscriptionYaml, waitUntil } from '../helpers/sluice.js';

type Sluice = Awaited<ReturnType<typeof startSluice>>;

const binaryHeaders = { 'ce-specversion': '1.0', 'ce-id': '1', 'ce-source': '/s', 'ce-type': 't', 'content-type': 'application/json' };

describe('ingress statuses and errors', () => {
  let sluice: Sluice;
  let sink: RecordingSink;
  let hang: RecordingSink;
  before(async () => {
    sink = await startSink();
    hang = await startSink(() => {});
    sluice = await startSluice(
      channelYaml('in') + subscriptionYaml('to-sink', 'in', sink.url) + '---\n' + channelYaml('tiny', 'spec: {capacity: 2}') + subscriptionYaml('to-hang', 'tiny', hang.url, '  delivery: {timeout: PT30S}\n'),
      { maxBodyBytes: 4096 },
    );
  });
  after(async () => {
    await sluice.close();
    await sink.close();
    await hang.close();
  });
  const post = (path: string, headers: Record<string, string>, body?: string) => fetch(`${sluice.url}${path}`, { method: 'POST', headers, body });
  const expectError = async (res: Response, status: number, pattern: RegExp) => {
    assert.equal(res.status, status);
    const j = (await res.json()) as { error: string; reason: string };
    assert.match(j.error, pattern);
    assert.equal(typeof j.reason, 'string');
  };

  test('202 for a valid binary event', async () => {
    const res = await post('/channels/default/in', binaryHeaders, '{"a":1}');
    assert.equal(res.status, 202);
    await sink.waitFor(1);
  });

  test('the Host header addresses a channel as Knative does', async () => {
    // fetch() may not set Host; node:http does, as a cluster client's request would arrive.
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(`${sluice.url}/`, { method: 'POST', headers: { ...binaryHeaders, 'ce-id': 'host-1', host: 'in-kn-channel.default.svc.cluster.local' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end('{}');
    });
    assert.equal(status, 202);
    await waitUntil(() => sink.requests.some((r) => r.headers['ce-id'] === 'host-1'));
  });

  test('400 for missing attributes, bad specversion, malformed JSON, bad batch elements', async () => {
    const { 'ce-id': _id, ...noId } = binaryHeaders;
    await expectError(await post('/channels/default/in', noId, '{}'), 400, /id/);
    await expectError(await post('/channels/default/in', { ...binaryHeaders, 'ce-specversion': '0.3' }, '{}'), 400, /specversion/);
    await expectError(await post('/channels/default/in', { 'content-type': 'application/cloudevents+json' }, '{"specversion":'), 400, /JSON/i);
    await expectError(
      await post('/channels/default/in', { 'content-type': 'application/cloudevents+json' }, JSON.stringify({ specversion: '1.0', id: '1', source: '/s' })),
      400,
      /type/,
    );
    await expectError(
      await post('/channels/default/in', { 'content-type': 'application/cloudevents-batch+json' }, JSON.stringify([{ specversion: '1.0', id: '1', source: '/s', type: 't' }, { id: 'x' }])),
      400,
      /1/,
    );
    await expectError(await post('/channels/default/in', { 'content-type': 'text/plain' }, 'hello'), 400, /CloudEvent/i);
  });

  test('404 for an unknown channel, 405 for other methods, OPTIONS handshake', async () => {
    await expectError(await post('/channels/default/nope', binaryHeaders, '{}'), 404, /nope/);
    await expectError(await post('/a/b/c/d', binaryHeaders, '{}'), 404, /no channel/);
    const get = await fetch(`${sluice.url}/channels/default/in`);
    assert.equal(get.status, 405);
    assert.match(get.headers.get('allow') ?? '', /POST/);
    const put = await fetch(`${sluice.url}/channels/default/in`, { method: 'PUT', body: 'x' });
    assert.equal(put.status, 405);
    const opt = await fetch(`${sluice.url}/channels/default/in`, { method: 'OPTIONS', headers: { 'WebHook-Request-Origin': 'example.com' } });
    assert.equal(opt.status, 200);
    assert.match(opt.headers.get('allow') ?? '', /POST/);
    assert.equal(opt.headers.get('webhook-allowed-origin'), 'example.com');
  });

  test('413 over the body limit', async () => {
    await expectError(await post('/channels/default/in', binaryHeaders, JSON.stringify({ big: 'x'.repeat(5000) })), 413, /limit/);
  });

  test('429 when the channel buffer is full', async () => {
    assert.equal((await post('/channels/default/tiny', binaryHeaders, '{}')).status, 202);
    assert.equal((await post('/channels/default/tiny', binaryHeaders, '{}')).status, 202);
    await expectError(await post('/channels/default/tiny', binaryHeaders, '{}'), 429, /full/);
  });

  test('the process survives garbage', async () => {
    for (const [headers, body] of [
      [{ 'content-type': 'application/cloudevents+json' }, '[]'],
      [{ 'content-type': 'application/cloudevents+json' }, 'null'],
      [{ 'content-type': 'application/cloudevents-batch+json' }, '{}'],
      [{ 'content-type': 'application/cloudevents-batch+json' }, '[1,2]'],
      [{ ...binaryHeaders, 'ce-time': 'yesterday' }, '{}'],
      [{ ...binaryHeaders, 'ce-Bad_Name': 'x' }, '{}'],
      [{}, ''],
    ] as Array<[Record<string, string>, string]>) {
      const res = await post('/channels/default/in', headers, body);
      assert.equal(res.status, 400, `${JSON.stringify(headers)} ${body}`);
    }
    assert.equal((await post('/channels/default/in', { ...binaryHeaders, 'ce-id': 'alive' }, '{}')).status, 202);
  });
});

describe('admin port', () => {
  test('health, readiness, metrics and resource statuses', async () => {
    const sink = await startSink();
    const s = await startSluice(
      channelYaml('c1') + subscriptionYaml('ok', 'c1', sink.url) + subscriptionYaml('orphan', 'missing', sink.url),
    );
    try {
      assert.equal((await fetch(`${s.adminUrl}/healthz`)).status, 200);
      assert.equal((await fetch(`${s.adminUrl}/readyz`)).status, 200);
      await emitterFor(httpTransport(`${s.url}/channels/default/c1`))(new CloudEvent({ id: 'm1', source: '/m', type: 'm', data: { n: 1 } }));
      await sink.waitFor(1);
      await waitUntil(async () => (await (await fetch(`${s.adminUrl}/metrics`)).text()).includes('sluice_events_delivered_total{namespace_name="default",resource="c1",subscription="ok"} 1'));
      const metrics = await (await fetch(`${s.adminUrl}/metrics`)).text();
      assert.match(metrics, /sluice_events_received_total\{namespace_name="default",resource="c1",kind="channel"\} 1/);
      assert.match(metrics, /sluice_delivery_duration_seconds_bucket/);
      const { items } = (await (await fetch(`${s.adminUrl}/api/v1/resources`)).json()) as { items: Array<{ kind: string; metadata: { name: string }; status: { conditions: Array<{ status: string; reason: string }>; address?: { url: string }; physicalSubscription?: { subscriberUri: string } } }> };
      const ch = items.find((i) => i.metadata.name === 'c1')!;
      assert.equal(ch.status.conditions[0]!.status, 'True');
      assert.equal(ch.status.address!.url, `${s.url}/channels/default/c1`);
      const ok = items.find((i) => i.metadata.name === 'ok')!;
      assert.equal(ok.status.physicalSubscription!.subscriberUri, sink.url);
      const orphan = items.find((i) => i.metadata.name === 'orphan')!;
      assert.equal(orphan.status.conditions[0]!.status, 'False');
      assert.equal(orphan.status.conditions[0]!.reason, 'ChannelNotFound');
    } finally {
      await s.close();
      await sink.close();
    }
  });
});

describe('graceful shutdown', () => {
  test('accepted events are delivered before close resolves; new ones get 503', async () => {
    const slow = await startSink(async (_req, res) => {
      await new Promise((r) => setTimeout(r, 20));
      res.statusCode = 202;
      res.end();
    });
    const s = await startSluice(channelYaml('drain') + subscriptionYaml('to-slow', 'drain', slow.url));
    const emit = emitterFor(httpTransport(`${s.url}/channels/default/drain`));
    for (let i = 0; i < 30; i++) await emit(new CloudEvent({ id: `g${i}`, source: '/g', type: 'g', data: { i } }));
    const closing = s.close();
    const late = await fetch(`${s.url}/channels/default/drain`, { method: 'POST', headers: binaryHeaders, body: '{}' }).catch(() => undefined);
    if (late) assert.equal(late.status, 503);
    await closing;
    assert.equal(slow.requests.length, 30);
    await slow.close();
  });
});
