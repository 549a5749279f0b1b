/**
 * The delivery thread: runs the dispatcher's HTTP POSTs (undici, its sockets and its
 * response parsing) so that the main thread keeps only ingress and the channels' work.
 * It knows nothing of events, retries or subscriptions: it posts what it is told to,
 * and answers each post with its response or its transport error, a loop turn at a time.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Agent } from 'undici';
import { AttemptAbort, dispatchPost, type PostResponse } from './post-handler.js';
import { dispatchOptions } from './post-transport.js';
import { bodyAt, TurnBatch, type FromThread, type ThreadData, type ToThread, type WireFailure, type WirePost, type WireResponse } from './thread-wire.js';

const port = parentPort;
if (!port) throw new Error('delivery-thread.ts runs only as a worker thread');
const { connections } = workerData as ThreadData;

const pools = new Map<number, Agent>();
const live = new Map<number, AttemptAbort>();
const results = new TurnBatch<WireResponse | WireFailure>(() => {
  const { items, bodies } = results.take();
  const msg: FromThread = { results: items, ...(bodies ? { bodies } : {}) };
  port.postMessage(msg, bodies ? [bodies] : []);
});

function poolFor(id: number): Agent {
  let agent = pools.get(id);
  if (!agent) {
    agent = new Agent({ connections });
    pools.set(id, agent);
  }
  return agent;
}

function post(p: WirePost, packed: ArrayBuffer | undefined): void {
  const [id, pool, origin, path, headers, timeoutMs, bodyLimit, offset, length] = p;
  const abort = new AttemptAbort();
  live.set(id, abort);
  const body = bodyAt(packed, offset, length);
  dispatchPost(poolFor(pool), dispatchOptions({ origin, path, headers, body, timeoutMs, bodyLimit }, true), abort, bodyLimit).then(
    (res: PostResponse) => {
      live.delete(id);
      if (!abort.aborted) results.push([id, res.statusCode, res.headers, res.truncated, results.offset, res.body.length], res.body);
    },
    (err: unknown) => {
      live.delete(id);
      if (abort.aborted) return;
      const e = err instanceof Error ? err : new Error(String(err));
      const code: unknown = (e as Error & { code?: unknown }).code;
      results.push([id, 0, e.name, e.message, typeof code === 'string' ? code : undefined]);
    },
  );
}

port.on('message', (m: ToThread) => {
  // Posts first: a post and its abort can come in the same message.
  if (m.posts) for (const p of m.posts) post(p, m.bodies);
  if (m.aborts) {
    for (const id of m.aborts) {
      const a = live.get(id);
      live.delete(id);
      a?.abort(new Error('abandoned by the dispatcher'));
    }
  }
  if (m.closePools) {
    for (const id of m.closePools) {
      const agent = pools.get(id);
      pools.delete(id);
      void agent?.destroy().catch(() => {});
    }
  }
});

const hello: FromThread = { ready: true, results: [] };
port.postMessage(hello);
