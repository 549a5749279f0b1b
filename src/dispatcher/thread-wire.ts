import { Worker } from 'node:worker_threads';
import type { BodyLimit } from './post-handler.js';

/**
 * The messages between the dispatcher and its delivery thread. Everything one side has
 * for the other in a loop turn goes in one message, as tuples (cheaper to clone than
 * objects), with every body copied into one transferred ArrayBuffer: cloning a Buffer
 * would copy the whole slab it is a slice of.
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

/** Copies buffers into one fresh ArrayBuffer of its own (a pooled Buffer's slab cannot be transferred). */
export function packBodies(parts: readonly Buffer[], total: number): ArrayBuffer {
  const packed = Buffer.allocUnsafeSlow(total);
  let at = 0;
  for (const p of parts) at += p.copy(packed, at);
  return packed.buffer;
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
