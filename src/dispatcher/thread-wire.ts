import { Worker } from 'node:worker_threads';
import type { BodyLimit } from './post-handler.js';

/**
 * The messages between the dispatcher and its delivery thread. Everything one side has
 * for the other in a loop turn goes in one message (a TurnBatch), as tuples (cheaper to
 * clone than objects), with every body copied into one transferred ArrayBuffer: cloning
 * a Buffer would copy the whole slab it is a slice of.
 */

/** id, pool, origin, path, headers, timeoutMs, bodyLimit, body offset, body length. */
export type WirePost = [number, number, string, string, Record<string, string>, number, BodyLimit, number, number];
/** id, status, headers, truncated, body offset, body length. */
export type WireResponse = [number, number, Record<string, string | string[] | undefined>, boolean, number, number];
/** id, 0, error name, message, code. */
export type WireFailure = [number, 0, string, string, string | undefined];

export interface ToThread {
  posts?: WirePost[];
  bodies?: ArrayBuffer;
  /** Posts the dispatcher gave up on (timeout, close): their requests are aborted. */
  aborts?: number[];
  /** Pools whose subscription went away: their connections are closed. */
  closePools?: number[];
}

export interface FromThread {
  /** Sent once, when the thread has loaded and listens. */
  ready?: true;
  results: (WireResponse | WireFailure)[];
  bodies?: ArrayBuffer;
}

export interface ThreadData {
  connections: number;
}

const EMPTY = Buffer.alloc(0);

/**
 * What one side has for the other in a loop turn: tuples in order, and their bodies to be
 * packed into one fresh ArrayBuffer (a pooled Buffer's slab cannot be transferred). The
 * first item of a turn schedules `flush` once, after the turn's I/O.
 */
export class TurnBatch<T> {
  #items: T[] = [];
  #bodies: Buffer[] = [];
  #bytes = 0;
  #scheduled = false;
  readonly #flush: () => void;

  constructor(flush: () => void) {
    this.#flush = () => {
      this.#scheduled = false;
      flush();
    };
  }

  /** Where the next body will sit in the packed buffer. */
  get offset(): number {
    return this.#bytes;
  }

  /** Adds an item (built with `offset` for its body, if any) and its body. */
  push(item: T, body?: Buffer): void {
    this.#items.push(item);
    if (body && body.length > 0) {
      this.#bodies.push(body);
      this.#bytes += body.length;
    }
    this.schedule();
  }

  /** Makes sure `flush` runs after this turn (for what travels beside the items). */
  schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(this.#flush);
  }

  /** The items and their packed bodies, emptying the batch. */
  take(): { items: T[]; bodies: ArrayBuffer | undefined } {
    const items = this.#items;
    let bodies: ArrayBuffer | undefined;
    if (this.#bytes > 0) {
      const packed = Buffer.allocUnsafeSlow(this.#bytes);
      let at = 0;
      for (const b of this.#bodies) at += b.copy(packed, at);
      bodies = packed.buffer;
    }
    this.#items = [];
    this.#bodies = [];
    this.#bytes = 0;
    return { items, bodies };
  }
}

/** A body of a received batch, as a view on its packed buffer. */
export function bodyAt(packed: ArrayBuffer | undefined, offset: number, length: number): Buffer {
  return length > 0 && packed ? Buffer.from(packed, offset, length) : EMPTY;
}

/**
 * Starts the delivery thread from its module beside this one. Run from source (tests,
 * through tsx) the module is TypeScript, and Node 20 does not hand the main thread's
 * module hooks to a worker: the worker registers tsx itself before loading it.
 */
export function startThread(data: ThreadData): Worker {
  const options = { workerData: data, name: 'sluice-delivery' };
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./delivery-thread.js', import.meta.url), options);
  const entry = new URL('./delivery-thread.ts', import.meta.url).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(boot, { ...options, eval: true });
}
