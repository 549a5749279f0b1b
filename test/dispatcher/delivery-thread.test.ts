import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { AttemptAbort } from '../../src/dispatcher/post-handler.js';
import type { PostRequest } from '../../src/dispatcher/post-transport.js';
import { DeliveryThreadError, ThreadTransport } from '../../src/dispatcher/thread-transport.js';
import { startThread, type ThreadData } from '../../src/dispatcher/thread-wire.js';
import { startSink } from '../helpers/sink.js';
import { closedPortUrl, RawServer, recordingLogger } from './helpers.js';

function request(url: string, body: Buffer, over: Partial<PostRequest> = {}): PostRequest {
  const u = new URL(url);
  return { origin: u.origin, path: u.pathname, headers: { 'ce-id': 'x', 'content-type': 'application/octet-stream' }, body, timeoutMs: 5000, bodyLimit: { ok200: 1 << 20, success: 0, failure: 16 }, ...over };
}

test('posts of one loop turn: each body arrives byte for byte (slices of one slab included), each response comes back to its own post', async () => {
  // Echoes the body in a 200 (a reply), or answers 500 with a long error page.
  const sink = await startSink((req, res) => {
    if (req.headers['x-fail']) {
      res.statusCode = 500;
      res.end('e'.repeat(100));
      return;
    }
    res.statusCode = 200;
    res.setHeader('x-echo', String(req.headers['ce-id']));
    res.end(req.body);
  });
  const t = new ThreadTransport(8);
  try {
    await t.ready();
    const pool = t.newPool();
    // Bodies that are slices of one larger buffer, not UTF-8: only each slice must travel.
    const slab = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7) % 256));
    const posts = Array.from({ length: 40 }, (_, i) => {
      const body = i % 5 === 0 ? Buffer.alloc(0) : slab.subarray(i * 50, i * 50 + 10 + i);
      const r = request(sink.url, body, { headers: { 'ce-id': `e${i}`, ...(i % 7 === 3 ? { 'x-fail': '1' } : {}) } });
      return t.post(pool, r, new AttemptAbort()).then((res) => ({ i, body, res }));
    });
    for (const { i, body, res } of await Promise.all(posts)) {
      if (i % 7 === 3) {
        assert.equal(res.statusCode, 500);
        assert.equal(res.body.toString(), 'e'.repeat(16), 'a failure keeps the failure limit');
        assert.equal(res.truncated, true);
        continue;
      }
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['x-echo'], `e${i}`);
      assert.deepEqual(res.body, body, `post ${i}`);
      assert.equal(res.truncated, false);
    }
    const got = new Map(sink.requests.map((r) => [String(r.headers['ce-id']), r.body]));
    assert.equal(got.size, 40);
    assert.deepEqual(got.get('e11'), slab.subarray(550, 571));
  } finally {
    await t.close();
    await sink.close();
  }
});

test('a transport error keeps its name, message and code; an abort rejects with its own reason and frees its connection in the thread', async () => {
  // /hang never answers; anything else gets 202.
  const sink = await startSink(async (req, res) => {
    if (req.url === '/hang') return new Promise<void>(() => {});
    res.statusCode = 202;
    res.end();
  });
  // One connection: a request the thread did not really abort would hold it, and the next would wait behind it.
  const t = new ThreadTransport(1);
  try {
    const pool = t.newPool();
    const refused = await t.post(pool, request(await closedPortUrl(), Buffer.from('x')), new AttemptAbort()).then(
      () => assert.fail('nothing listens there'),
      (err: unknown) => err,
    );
    assert.ok(refused instanceof DeliveryThreadError);
    assert.equal(refused.code, 'ECONNREFUSED');
    assert.match(refused.message, /ECONNREFUSED/);

    const abort = new AttemptAbort();
    const pending = t.post(pool, request(new URL('/hang', sink.url).href, Buffer.from('y'), { timeoutMs: 60_000 }), abort);
    await sink.waitFor(1, 5000);
    const reason = new Error('given up');
    abort.abort(reason);
    await assert.rejects(pending, (err) => err === reason);
    const next = await Promise.race([
      t.post(pool, request(new URL('/ok', sink.url).href, Buffer.from('z')), new AttemptAbort()),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the next post waited behind the aborted one')), 5000).unref()),
    ]);
    assert.equal(next.statusCode, 202);
    assert.deepEqual(sink.requests.map((r) => r.url), ['/hang', '/ok']);
  } finally {
    await t.close();
    await sink.close();
  }
});

test('a delivery thread that dies fails its posts in flight (to be retried) and another takes the next posts', async () => {
  const workers: Worker[] = [];
  const sink = await startSink();
  const hang = new RawServer(() => {});
  await hang.start();
  const { logger, lines } = recordingLogger();
  const t = new ThreadTransport(8, logger, (data: ThreadData) => {
    const w = startThread(data);
    workers.push(w);
    return w;
  });
  try {
    await t.ready();
    const pool = t.newPool();
    const inFlight = t.post(pool, request(hang.url, Buffer.from('a')), new AttemptAbort());
    while (hang.sockets.size === 0) await new Promise((r) => setTimeout(r, 10));
    await workers[0]!.terminate();
    await assert.rejects(inFlight, { code: 'SLUICE_ERR_UNAVAILABLE', message: /delivery thread stopped/ });
    assert.ok(lines.some((l) => /starting another/.test(String(l.msg))));
    const res = await t.post(pool, request(sink.url, Buffer.from('b')), new AttemptAbort());
    assert.equal(res.statusCode, 202);
    assert.equal(workers.length, 2);
    assert.deepEqual(sink.requests.map((r) => r.body.toString()), ['b']);
  } finally {
    await t.close();
    await sink.close();
    await hang.close();
  }
});

test('a delivery thread that cannot start: posts go out from the main thread, with an error logged', async () => {
  const sink = await startSink();
  const { logger, lines } = recordingLogger();
  const t = new ThreadTransport(8, logger, () => new Worker('process.exit(3)', { eval: true }));
  try {
    await t.ready();
    assert.equal(t.isReady, true);
    assert.ok(lines.some((l) => l.level === 50 && /could not start/.test(String(l.msg))));
    const res = await t.post(t.newPool(), request(sink.url, Buffer.from('c')), new AttemptAbort());
    assert.equal(res.statusCode, 202);
    assert.equal(sink.requests.length, 1);
  } finally {
    await t.close();
    await sink.close();
  }
});

test('an idle delivery thread does not keep the process running', async () => {
  // A process that delivers once and never closes its transport must still exit by itself.
  const script = `
    import { createServer } from 'node:http';
    import { ThreadTransport } from ${JSON.stringify(new URL('../../src/dispatcher/thread-transport.ts', import.meta.url).href)};
    import { AttemptAbort } from ${JSON.stringify(new URL('../../src/dispatcher/post-handler.ts', import.meta.url).href)};
    const server = createServer((req, res) => { req.resume(); req.on('end', () => { res.statusCode = 202; res.end(); }); });
    server.listen(0, '127.0.0.1', async () => {
      const t = new ThreadTransport(2);
      const r = await t.post(t.newPool(), { origin: 'http://127.0.0.1:' + server.address().port, path: '/', headers: {}, body: Buffer.from('x'), timeoutMs: 5000, bodyLimit: 0 }, new AttemptAbort());
      console.log('status', r.statusCode);
      server.close();
      server.closeAllConnections();
    });
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
  clearTimeout(timer);
  assert.match(out, /status 202/);
  assert.equal(signal, null, 'the process exited by itself, not killed after 20 s');
  assert.equal(code, 0);
});
