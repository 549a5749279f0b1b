// The ingress answers the common event POST on node's own request (the fast path) and
// everything else through fastify. Both must give the same answers: each case here is
// sent once in the fast path's shape (Content-Length) and once chunked, which always
// takes fastify's path, and the two answers are compared.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { silentLogger } from '../../src/observability/logger.js';
import { IngressTargets } from '../../src/runtime/ingress-targets.js';
import { createEventFastPath } from '../../src/server/event-fast-path.js';
import { startSink, type RecordingSink } from '../helpers/sink.js';
import { channelYaml, startSluice, subscriptionYaml, waitUntil } from '../helpers/sluice.js';

type Sluice = Awaited<ReturnType<typeof startSluice>>;
interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

const ce = (id: string) => ({ 'ce-specversion': '1.0', 'ce-id': id, 'ce-source': '/fast', 'ce-type': 't', 'content-type': 'application/json' });

/** One POST; `chunked` sends the body without a Content-Length, in two writes. */
function post(base: string, path: string, headers: Record<string, string>, body: string, chunked: boolean): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const h: Record<string, string> = { ...headers };
    if (!chunked) h['content-length'] = String(Buffer.byteLength(body));
    const req = http.request(`${base}${path}`, { method: 'POST', headers: h, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    if (chunked) {
      req.write(body.slice(0, 1));
      req.end(body.slice(1));
    } else req.end(body);
  });
}

/** Sends the same request both ways and asserts the answers agree; returns the fast one. */
async function both(s: Sluice, path: string, headers: Record<string, string>, body: string): Promise<Answer> {
  const fast = await post(s.url, path, headers, body, false);
  const slow = await post(s.url, path, headers['ce-id'] === undefined ? headers : { ...headers, 'ce-id': `${headers['ce-id']}-slow` }, body, true);
  assert.equal(fast.status, slow.status, `status for ${path}: fast ${fast.status} ${fast.body}, slow ${slow.status} ${slow.body}`);
  assert.equal(fast.headers['content-type'], slow.headers['content-type']);
  assert.equal(fast.headers['retry-after'], slow.headers['retry-after']);
  if (fast.status !== 202) {
    const f = JSON.parse(fast.body) as { error: string; reason: string };
    const sl = JSON.parse(slow.body) as { error: string; reason: string };
    assert.equal(f.reason, sl.reason);
    assert.equal(f.error.replace(/-slow/g, ''), sl.error.replace(/-slow/g, ''));
  } else assert.equal(fast.body, '');
  return fast;
}

describe('ingress fast path', () => {
  let sluice: Sluice;
  let sink: RecordingSink;
  let hang: RecordingSink;
  before(async () => {
    sink = await startSink();
    hang = await startSink(() => {});
    sluice = await startSluice(
      channelYaml('in') +
        subscriptionYaml('to-sink', 'in', sink.url) +
        '---\n' +
        channelYaml('full', 'spec: {capacity: 2}') +
        subscriptionYaml('to-hang', 'full', hang.url, '  delivery: {timeout: PT30S}\n'),
      { maxBodyBytes: 4096 },
    );
  });
  after(async () => {
    await sluice.close();
    await sink.close();
    await hang.close();
  });

  test('a binary event is stored with its bytes and answered 202 both ways', async () => {
    const body = JSON.stringify({ n: 1, text: 'é'.repeat(100) });
    const a = await both(sluice, '/channels/default/in', ce('bin-1'), body);
    assert.equal(a.status, 202);
    assert.equal(a.headers['content-length'], '0');
    await waitUntil(() => sink.requests.filter((r) => String(r.headers['ce-id']).startsWith('bin-1')).length === 2);
    for (const r of sink.requests.filter((x) => String(x.headers['ce-id']).startsWith('bin-1'))) assert.equal(r.body.toString('utf8'), body);
  });

  test('structured mode and batches both ways', async () => {
    const one = JSON.stringify({ specversion: '1.0', id: 'st-1', source: '/fast', type: 't', data: { a: 1 } });
    assert.equal((await both(sluice, '/channels/default/in', { 'content-type': 'application/cloudevents+json' }, one)).status, 202);
    const batch = JSON.stringify([1, 2, 3].map((i) => ({ specversion: '1.0', id: `b-${i}`, source: '/fast', type: 't' })));
    assert.equal((await post(sluice.url, '/channels/default/in', { 'content-type': 'application/cloudevents-batch+json' }, batch, false)).status, 202);
    await waitUntil(() => ['b-1', 'b-2', 'b-3'].every((id) => sink.requests.some((r) => r.headers['ce-id'] === id)));
  });

  test('an invalid event gets the same 400 both ways', async () => {
    const { 'ce-id': _id, ...noId } = ce('x');
    const a = await both(sluice, '/channels/default/in', noId, '{}');
    assert.equal(a.status, 400);
    assert.match(a.headers['content-type'] ?? '', /^application\/json/);
    assert.equal((await both(sluice, '/channels/default/in', { ...ce('bad-json'), 'content-type': 'application/cloudevents+json' }, '{nope')).status, 400);
  });

  test('unknown addresses, other media types and large bodies take fastify and answer as before', async () => {
    assert.equal((await both(sluice, '/channels/default/nope', ce('nf'), '{}')).status, 404);
    assert.equal((await both(sluice, '/default/no-broker', ce('nb'), '{}')).status, 404);
    assert.equal((await both(sluice, '/channels/default/in', { ...ce('mt'), 'content-type': 'not a media type' }, '{}')).status, 415);
    const big = await post(sluice.url, '/channels/default/in', ce('big'), 'x'.repeat(5000), false);
    assert.equal(big.status, 413);
    assert.equal((JSON.parse(big.body) as { reason: string }).reason, 'SLUICE_ERR_PAYLOAD_TOO_LARGE');
  });

  test('a full channel answers 429 with the same body and Retry-After both ways', async () => {
    for (let i = 0; i < 2; i++) assert.equal((await post(sluice.url, '/channels/default/full', ce(`fill-${i}`), '{}', false)).status, 202);
    const a = await both(sluice, '/channels/default/full', ce('over'), '{}');
    assert.equal(a.status, 429);
  });

  test('a client that goes away mid-body is dropped without an answer or an event, and the next request is served', async () => {
    const { port } = new URL(sluice.url);
    const before = sink.requests.length;
    await new Promise<void>((resolve, reject) => {
      const sock = net.connect(Number(port), '127.0.0.1', () => {
        sock.write('POST /channels/default/in HTTP/1.1\r\nhost: x\r\nce-specversion: 1.0\r\nce-id: gone\r\nce-source: /s\r\nce-type: t\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"a":');
        setTimeout(() => sock.destroy(), 50);
      });
      sock.on('close', () => resolve());
      sock.on('error', reject);
    });
    assert.equal((await post(sluice.url, '/channels/default/in', ce('after-gone'), '{}', false)).status, 202);
    await waitUntil(() => sink.requests.some((r) => r.headers['ce-id'] === 'after-gone'));
    assert.ok(!sink.requests.slice(before).some((r) => r.headers['ce-id'] === 'gone'));
  });
});

describe('ingress fast path: deciding', () => {
  test('a check that throws hands the request to the slow path instead of ending the process', async () => {
    const targets = new IngressTargets();
    let accepted = 0;
    targets.channels.set('default/c', { kind: 'channel', namespace: 'default', name: 'c', notReadyReason: () => undefined, accept: async () => void accepted++ });
    let throwing = true;
    targets.authorize = () => {
      if (throwing) throw new Error('boom');
      return undefined;
    };
    const fast = createEventFastPath({ targets, acceptEvents: async (t, events) => t.accept(events()), logger: silentLogger(), maxBodyBytes: 1024, isDraining: () => false });
    const server = http.createServer((req, res) => {
      if (fast(req, res)) return;
      req.resume();
      res.writeHead(299).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
    try {
      assert.equal((await post(base, '/channels/default/c', ce('t-1'), '{}', false)).status, 299);
      throwing = false;
      assert.equal((await post(base, '/channels/default/c', ce('t-2'), '{}', false)).status, 202);
      assert.equal(accepted, 1);
    } finally {
      server.close();
    }
  });
});
