import type { Dispatcher as UndiciDispatcher } from 'undici';
import type { AttemptAbort, BodyLimit, PostResponse } from './post-handler.js';

/** What one POST needs besides its abort source: where, what, and how long undici may wait. */
export interface PostRequest {
  readonly origin: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
  readonly timeoutMs: number;
  readonly bodyLimit: BodyLimit;
}

/**
 * A connection pool of a transport: one per subscription, so a hung subscriber holds only
 * its own connections. A pool nobody references any more is closed when it is collected.
 */
export interface PoolHandle {
  readonly transport: PostTransport;
}

/**
 * Where the dispatcher's HTTP POSTs run: undici in this thread, or a delivery thread.
 * Both settle each post the same way (response, transport error, or the abort reason),
 * so retries, dead letters and metrics cannot tell them apart.
 */
export interface PostTransport {
  /** False until posts can go out at once (a delivery thread still starting). */
  readonly isReady: boolean;
  /** Settles when posts can go out; never rejects (a thread that cannot start falls back to this thread). */
  ready(): Promise<void>;
  newPool(): PoolHandle;
  post(pool: PoolHandle, request: PostRequest, abort: AttemptAbort): Promise<PostResponse>;
  /** Closes every pool; posts in flight have been aborted by then. */
  close(): Promise<void>;
}

/**
 * Options for undici. `backstop`: undici's own header and body timers as well, at the
 * attempt's timeout (they default to 300 s). The attempt's abort timer is the real
 * bound; in the thread that runs it, undici's timers only repeat it, and cost a timer
 * object per request (undici swaps its fast header timer for a native keep-alive timer
 * after every response). A delivery thread keeps them, in case an abort from the main
 * thread never arrives.
 */
export function dispatchOptions(r: PostRequest, backstop: boolean): UndiciDispatcher.DispatchOptions {
  const timeout = backstop ? r.timeoutMs : 0;
  return {
    origin: r.origin,
    path: r.path,
    method: 'POST',
    headers: r.headers,
    body: r.body,
    headersTimeout: timeout,
    bodyTimeout: timeout,
  };
}
