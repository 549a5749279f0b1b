// The fast path's 202s are written together after the loop turn's reads: each answer
// must still arrive, none before its turn ends, and one response node has given up on
// must not keep the others from theirs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { AcceptedAnswers } from '../../src/server/accepted-answers.js';

async function withServer(handler: http.RequestListener, run: (url: string) => Promise<void>): Promise<void> {
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    await run(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
}

test('answers are written after the current turn, all of them, as 202 with an empty body', async () => {
  const answers = new AcceptedAnswers();
  const writtenSync: boolean[] = [];
  await withServer(
    (req, res) => {
      req.resume();
      req.on('end', () => {
        answers.answer(res);
        writtenSync.push(res.headersSent);
      });
    },
    async (url) => {
      const replies = await Promise.all(Array.from({ length: 20 }, () => fetch(url, { method: 'POST', body: 'x' })));
      for (const r of replies) {
        assert.equal(r.status, 202);
        assert.equal(await r.text(), '');
        assert.equal(r.headers.get('content-length'), '0');
      }
    },
  );
  assert.equal(writtenSync.length, 20);
  assert.ok(writtenSync.every((sent) => !sent), 'no answer may be written before the loop turn ends');
});

test('a response that throws when written does not keep the others of its turn from their answers', async () => {
  const answers = new AcceptedAnswers();
  let held: http.ServerResponse[] = [];
  await withServer(
    (req, res) => {
      req.resume();
      req.on('end', () => {
        held.push(res);
        if (held.length < 3) return;
        const [a, b, c] = held;
        held = [];
        // The middle one was already answered: writeHead throws ERR_HTTP_HEADERS_SENT.
        b!.writeHead(500).end();
        answers.answer(a!);
        answers.answer(b!);
        answers.answer(c!);
      });
    },
    async (url) => {
      const statuses = (await Promise.all(Array.from({ length: 3 }, () => fetch(url, { method: 'POST', body: 'x' })))).map((r) => r.status);
      assert.deepEqual(statuses.sort(), [202, 202, 500]);
    },
  );
});
