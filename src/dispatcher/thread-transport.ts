import type { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { UnavailableError } from '../errors.js';
import { InProcessTransport } from './in-process-transport.js';
import type { AbortListener, AttemptAbort, PostResponse } from './post-handler.js';
import type { PoolHandle, PostRequest, PostTransport } from './post-transport.js';
import { bodyAt, startThread, TurnBatch, type FromThread, type ThreadData, type ToThread, type WireFailure, type WirePost, type WireResponse } from './thread-wire.js';

interface ThreadPool extends PoolHandle {
  readonly id: number;
}

/** A post handed to the thread, until its answer comes back; its attempt's abort listener (no closure per post, see AttemptAbort). */
class Waiting implements AbortListener {
  constructor(
    readonly id: number,
    readonly resolve: (r: PostResponse) => void,
    readonly reject: (err: unknown) => void,
    readonly abort: AttemptAbort,
    private readonly onAbort: (w: Waiting, reason: unknown) => void,
  ) {}

  abortWith(reason: unknown): void {
    this.onAbort(this, reason);
  }
}

/** A transport error from the delivery thread, with the name, message and code it had there. */
export class DeliveryThreadError extends Error {
  readonly code: string | undefined;
  constructor(name: string, message: string, code: string | undefined) {
    super(message);
    this.name = name;
    this.code = code;
  }
}

/**
 * POSTs in a delivery thread of their own. On a busy channel the main thread's largest
 * cost was the outgoing hop (undici, the socket writes and reads, response parsing); in
 * its own thread that hop uses the machine's second core while the main thread takes
 * the next events. What crosses between the threads is batched per loop turn: one
 * message each way, whatever the number of posts.
 *
 * The attempt's timeout and close() stay on this side (the abort reason the caller sees
 * is its own). A thread that dies fails its posts in flight as transport errors (the
 * channel retries them) and another is started at once. A thread that cannot start at
 * all (a broken install) leaves the posts to this thread, with an error logged.
 */
export class ThreadTransport implements PostTransport {
  readonly #connections: number;
  readonly #log: Logger | undefined;
  #worker: Worker | undefined;
  #isReady = false;
  #ready!: Promise<void>;
  #fallback: InProcessTransport | undefined;
  readonly #fallbackPools = new WeakMap<ThreadPool, PoolHandle>();
  readonly #waiting = new Map<number, Waiting>();
  #nextId = 1;
  #nextPool = 1;
  readonly #posts = new TurnBatch<WirePost>(() => this.#send());
  #aborts: number[] = [];
  #closePools: number[] = [];
  #closed = false;
  /** A dropped subscription's pool: its connections in the thread are closed. */
  readonly #dropped = new FinalizationRegistry<number>((id) => this.#closePool(id));

  readonly #startThread: (data: ThreadData) => Worker;
  /** An aborted post: forgotten here, and the thread is told to abort its request. */
  readonly #onAbort = (w: Waiting, reason: unknown): void => {
    if (!this.#waiting.delete(w.id)) return;
    this.#aborts.push(w.id);
    this.#posts.schedule();
    this.#idle();
    w.reject(reason);
  };

  /** `start` makes the thread (tests pass their own to stop it or to make it fail). */
  constructor(connections: number, log?: Logger, start: (data: ThreadData) => Worker = startThread) {
    this.#connections = connections;
    this.#log = log;
    this.#startThread = start;
    // Started now, not on the first event: a thread's start (tens of ms) would otherwise delay it.
    this.#start();
  }

  get isReady(): boolean {
    return this.#isReady;
  }

  ready(): Promise<void> {
    return this.#ready;
  }

  newPool(): PoolHandle {
    const pool: ThreadPool = { transport: this, id: this.#nextPool++ };
    this.#dropped.register(pool, pool.id);
    return pool;
  }

  post(pool: PoolHandle, r: PostRequest, abort: AttemptAbort): Promise<PostResponse> {
    if (this.#fallback) return this.#fallback.post(this.#fallbackPool(pool as ThreadPool), r, abort);
    return new Promise<PostResponse>((resolve, reject) => {
      if (abort.aborted) return reject(abort.reason);
      if (this.#closed) return reject(new UnavailableError('the dispatcher is closed'));
      const worker = this.#worker ?? this.#start();
      const id = this.#nextId++;
      const w = new Waiting(id, resolve, reject, abort, this.#onAbort);
      this.#waiting.set(id, w);
      // Held by the thread only while posts are in flight: an idle dispatcher never keeps the process up.
      if (this.#waiting.size === 1) worker.ref();
      abort.listener = w;
      this.#posts.push([id, (pool as ThreadPool).id, r.origin, r.path, r.headers, r.timeoutMs, r.bodyLimit, this.#posts.offset, r.body.length], r.body);
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#failAll(new UnavailableError('the dispatcher is closed'));
    const worker = this.#worker;
    this.#worker = undefined;
    await Promise.all([worker?.terminate(), this.#fallback?.close()]);
  }

  #start(): Worker {
    const data: ThreadData = { connections: this.#connections };
    const worker = this.#startThread(data);
    let markReady!: () => void;
    this.#isReady = false;
    this.#ready = new Promise<void>((resolve) => (markReady = resolve));
    worker.unref();
    worker.on('message', (m: FromThread) => {
      if (m.ready) {
        this.#isReady = true;
        markReady();
      }
      this.#settle(m);
    });
    worker.on('error', (err) => this.#log?.error({ err }, 'the delivery thread failed; its deliveries in flight will be retried'));
    worker.on('exit', (code) => {
      if (this.#worker !== worker) return;
      this.#worker = undefined;
      this.#failAll(new UnavailableError(`the delivery thread stopped (exit code ${code})`));
      if (this.#closed) return markReady();
      if (!this.#isReady) {
        this.#log?.error({ code }, 'the delivery thread could not start; deliveries run on the main thread');
        this.#fallback = new InProcessTransport(this.#connections);
        this.#isReady = true;
        return markReady();
      }
      this.#log?.warn({ code }, 'the delivery thread stopped; starting another');
      this.#start();
    });
    this.#worker = worker;
    return worker;
  }

  #fallbackPool(pool: ThreadPool): PoolHandle {
    let p = this.#fallbackPools.get(pool);
    if (!p) {
      p = this.#fallback!.newPool();
      this.#fallbackPools.set(pool, p);
    }
    return p;
  }

  #closePool(id: number): void {
    if (!this.#worker || this.#closed) return;
    this.#closePools.push(id);
    this.#posts.schedule();
  }

  #send(): void {
    const { items, bodies } = this.#posts.take();
    const msg: ToThread = {};
    if (items.length > 0) msg.posts = items;
    if (bodies) msg.bodies = bodies;
    if (this.#aborts.length > 0) msg.aborts = this.#aborts;
    if (this.#closePools.length > 0) msg.closePools = this.#closePools;
    this.#aborts = [];
    this.#closePools = [];
    this.#worker?.postMessage(msg, bodies ? [bodies] : []);
  }

  #settle(m: FromThread): void {
    const packed = m.bodies;
    for (const r of m.results) {
      const w = this.#waiting.get(r[0]);
      if (!w) continue;
      this.#waiting.delete(r[0]);
      w.abort.listener = undefined;
      if (r[1] === 0) {
        const [, , name, message, code] = r as WireFailure;
        w.reject(new DeliveryThreadError(name, message, code));
      } else {
        const [, statusCode, headers, truncated, offset, length] = r as WireResponse;
        w.resolve({ statusCode, headers, truncated, body: bodyAt(packed, offset, length) });
      }
    }
    this.#idle();
  }

  #idle(): void {
    if (this.#waiting.size === 0) this.#worker?.unref();
  }

  #failAll(err: Error): void {
    const waiting = [...this.#waiting.values()];
    this.#waiting.clear();
    // Not yet sent: a thread started later must not post them after they have failed here.
    this.#posts.take();
    this.#aborts = [];
    this.#idle();
    for (const w of waiting) {
      w.abort.listener = undefined;
      w.reject(err);
    }
  }
}
