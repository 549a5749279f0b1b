import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { Agent, request } from 'undici';
import { InvalidOptionError } from '../../src/errors.js';
import { createIngressApp, defaultMaxConnections, resolveIngressLimits } from '../../src/server/ingress.js';
import { IngressTargets } from '../../src/runtime/ingress-targets.js';
import { Metrics } from '../../src/observability/metrics.js';
import { silentLogger } from '../../src/observability/logger.js';
import { channelYaml, startSluice, subscriptionYaml, waitUntil } from '../helpers/sluice.js';
import { startSink, type RecordingSink } from '../helpers/sink.js';

// Slow clients (slowloris): headers and then a body that trickles or never comes. With
// no timeouts each one holds a socket and a file descriptor for ever.

const YAML = channelYaml('c') + subscriptionYaml('s', 'c', '%SINK%');

interface SlowClient {
  socket: Socket;
  /** Bytes the server sent back. */
  received: () => string;
  /** Resolves with the ms from connect to close. */
  closed: Promise<number>;
}

/** A raw client that sends `head` and then `trickle` one byte every `everyMs` (never when 0). */
function slowClient(port: number, head: string, everyMs = 0): Promise<SlowClient> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = connect(port, '127.0.0.1');
    let data = '';
    let timer: NodeJS.Timeout | undefined;
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => { data += d; });
    const closed = new Promise<number>((res) => socket.once('close', () => { clearInterval(timer); res(Date.now() - started); }));
    socket.once('error', () => { /* a reset is a close too */ });
    socket.once('connect', () => {
      if (head) socket.write(head);
      if (everyMs > 0) timer = setInterval(() => { if (socket.writable) socket.write('x'); }, everyMs);
      resolve({ socket, received: () => data, closed });
    });
    socket.once('error', reject);
  });
}

function slowPost(host: string, contentLength: number, bodyStart: string): string {
  return `POST /channels/default/c HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nce-specversion: 1.0\r\nce-id: slow\r\nce-source: /slow\r\nce-type: slow\r\nContent-Length: ${contentLength}\r\n\r\n${bodyStart}`;
}

let seq = 0;
async function postEvent(url: string, dispatcher?: Agent): Promise<number> {
  const res = await request(`${url}/channels/default/c`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'ce-specversion': '1.0', 'ce-id': `normal-${++seq}`, 'ce-source': '/test', 'ce-type': 'normal' },
    body: '{"ok":true}',
    ...(dispatcher ? { dispatcher, reset: true } : {}),
  });
  await res.body.dump();
  return res.statusCode;
}

function serverConnections(server: { getConnections: (cb: (err: Error | null, n: number) => void) => void }): Promise<number> {
  return new Promise((resolve, reject) => server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
}

describe('ingress under slow clients', () => {
  let sink: RecordingSink;
  before(async () => { sink = await startSink(); });
  after(async () => { await sink.close(); });

  test('stalled and trickling bodies get 408 and are closed within the request timeout, while normal events keep flowing', async () => {
    const sluice = await startSluice(YAML.replace('%SINK%', sink.url), { ingressLimits: { headersTimeoutMs: 1000, requestTimeoutMs: 1500, idleTimeoutMs: 5000 } });
    try {
      const port = Number(new URL(sluice.url).port);
      const host = `127.0.0.1:${port}`;
      const before = sink.requests.length;
      const opened = Date.now();
      const slow = await Promise.all([
        // The body never comes (the idle timeout alone would take 5 s).
        ...Array.from({ length: 20 }, () => slowClient(port, slowPost(host, 1000, '{"a":'))),
        // One byte every 100 ms: never idle, never complete.
        ...Array.from({ length: 20 }, () => slowClient(port, slowPost(host, 1000, '{"a":"'), 100)),
        // Headers that never end, and a connection that says nothing at all.
        ...Array.from({ length: 10 }, () => slowClient(port, `POST /channels/default/c HTTP/1.1\r\nHost: ${host}\r\n`, 100)),
        ...Array.from({ length: 10 }, () => slowClient(port, '')),
      ]);
      // Normal clients are served while the slow ones hang on (the timeouts leave a loaded
      // machine a second for these 20 round trips).
      const statuses = await Promise.all(Array.from({ length: 20 }, () => postEvent(sluice.url)));
      assert.ok(slow.every((c) => !c.socket.destroyed), 'the slow clients were still open while normal events were sent');
      assert.deepEqual(statuses, Array(20).fill(202));
      await sink.waitFor(before + 20);

      const closedAfter = await Promise.all(slow.map((c) => c.closed));
      // 1500 ms plus node's deadline check interval (250 ms here) plus scheduling slack.
      assert.ok(Math.max(...closedAfter) < 3000, `slow clients closed after ${Math.max(...closedAfter)} ms`);
      for (const c of slow) {
        assert.match(c.received(), /^HTTP\/1\.1 408 /, 'a timed-out request is answered 408');
        assert.match(c.received(), /\r\n\r\n\{"error":"the request was not received in time[^"]*","reason":"SLUICE_ERR_REQUEST_TIMEOUT"\}$/);
      }
      assert.ok(Date.now() - opened < 4000);
      // And service goes on.
      assert.equal(await postEvent(sluice.url), 202);
    } finally {
      await sluice.close();
    }
  });

  test('at maxConnections a newcomer takes the place of the slowest client; it is refused only while every slow client is new', async () => {
    const sluice = await startSluice(YAML.replace('%SINK%', sink.url), { ingressLimits: { headersTimeoutMs: 20_000, requestTimeoutMs: 30_000, maxConnections: 8 } });
    const agent = new Agent();
    try {
      const port = Number(new URL(sluice.url).port);
      const host = `127.0.0.1:${port}`;
      // Half send headers and stall their body, half never finish their headers.
      const slow = await Promise.all(Array.from({ length: 8 }, (_, i) => slowClient(port, i % 2 ? slowPost(host, 1000, '{') : 'POST /channels/default/c HTTP/1.1\r\nHost: x\r\n')));
      await waitUntil(async () => (await serverConnections(sluice.ingress.server)) === 8, 2000, 'the slow clients to be connected');

      // While the slow clients are new (under a second), a ninth connection is closed at once, unanswered.
      const extra = await slowClient(port, slowPost(host, 2, '{}'));
      const extraClosed = await Promise.race([extra.closed, new Promise<number>((r) => setTimeout(() => r(-1), 900))]);
      assert.ok(extraClosed >= 0, 'the connection over the cap was closed');
      assert.equal(extra.received(), '');

      // Once they have stalled for a second, each normal client takes the place of the slowest one.
      await new Promise((r) => setTimeout(r, 1100));
      const before = sink.requests.length;
      for (let i = 0; i < 10; i++) assert.equal(await postEvent(sluice.url, agent), 202, 'a normal request gets through the cap');
      await sink.waitFor(before + 10);
      const evicted = await Promise.all(slow.map((c) => Promise.race([c.closed.then(() => 1), new Promise<number>((r) => setTimeout(() => r(0), 500))])));
      assert.ok(evicted.reduce((a, b) => a + b, 0) >= 1, 'slow clients were evicted to make room');
      assert.ok((await serverConnections(sluice.ingress.server)) <= 8, 'the cap holds');
      for (const c of slow) c.socket.destroy();
    } finally {
      await agent.close();
      await sluice.close();
    }
  });

  test('limits are validated and defaulted when the app is built', () => {
    const d = resolveIngressLimits({});
    assert.deepEqual(
      { h: d.headersTimeoutMs, r: d.requestTimeoutMs, i: d.idleTimeoutMs, k: d.keepAliveTimeoutMs },
      { h: 10_000, r: 30_000, i: 60_000, k: 65_000 },
    );
    assert.equal(d.maxConnections, defaultMaxConnections());
    assert.ok(d.maxConnections >= 1 && d.maxConnections <= 10_000);
    const base = { targets: new IngressTargets(), logger: silentLogger(), metrics: new Metrics({ defaultMetrics: false }), maxBodyBytes: 1024, isDraining: () => false };
    assert.throws(() => createIngressApp({ ...base, headersTimeoutMs: 20_000, requestTimeoutMs: 10_000 }), (e: unknown) => e instanceof InvalidOptionError && /header timeout/.test(e.message));
    assert.throws(() => createIngressApp({ ...base, maxConnections: 0 }), InvalidOptionError);
    assert.throws(() => createIngressApp({ ...base, requestTimeoutMs: -1 }), InvalidOptionError);
    assert.throws(() => createIngressApp({ ...base, keepAliveTimeoutMs: 0 }), InvalidOptionError);
    // 0 turns a timeout off.
    const app = createIngressApp({ ...base, requestTimeoutMs: 0, headersTimeoutMs: 0, maxConnections: 3 });
    assert.equal(app.server.requestTimeout, 0);
    void app.close();
  });
});
