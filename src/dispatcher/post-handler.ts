import { util, type Dispatcher as UndiciDispatcher } from 'undici';

/**
 * Bytes of an unwanted response body read and thrown away so the keep-alive connection
 * can be reused; past this, the connection is closed instead (cheaper than downloading a
 * large error page we never look at).
 */
export const DRAIN_LIMIT = 64 * 1024;

/**
 * Response body bytes to keep: one figure for every status, or by status, since only a
 * 200 can carry a reply while of an error body knativeerrordata keeps a little. Plain
 * data (not a function) so that a delivery thread can be told it.
 */
export type BodyLimit = number | { readonly ok200: number; readonly success: number; readonly failure: number };

export function bodyLimitFor(limit: BodyLimit, statusCode: number): number {
  if (typeof limit === 'number') return limit;
  return statusCode === 200 ? limit.ok200 : statusCode < 300 ? limit.success : limit.failure;
}

/** What one POST got back: status, headers and the body bytes that were kept. */
export interface PostResponse {
  readonly statusCode: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
  /** True when the body was longer than what was kept. */
  readonly truncated: boolean;
}

/** Whoever carries out an attempt now (its undici handler, or its post to the delivery thread). */
export interface AbortListener {
  abortWith(reason: unknown): void;
}

/**
 * An attempt's abort source: the dispatcher's close() and the attempt's timeout call
 * abort(); the request in flight (if any) is told through `listener`.
 *
 * The listener is an object of ours, never a closure. With a closure made per attempt in
 * dispatchPost's promise executor (its context held the handler and the dispatch
 * options, headers and body included), finished attempts outlived young-generation
 * collections under load: each scavenge copied and promoted some 1.1 MB of them (their
 * request and response headers, results and event data, per V8's sampling heap
 * profiler) and paused 5-6 ms. With the handler itself as the listener, 0.15-0.2 MB and
 * 2.3-2.5 ms, as the bare forwarder (measured: `--trace-gc-nvp` on the channel
 * benchmark's load).
 */
export class AttemptAbort {
  aborted = false;
  reason: unknown = undefined;
  /** Set while a request is in flight, cleared when it settles. */
  listener: AbortListener | undefined = undefined;

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.listener?.abortWith(reason);
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * One request through undici's dispatch() with a handler of our own: undici's request()
 * wraps every response in a Readable stream, a promise and an AsyncResource, which cost
 * more per delivery than everything else the dispatcher does with a 202. Here the body
 * is kept up to `maxBodyBytes` (chosen by status), up to DRAIN_LIMIT more is read and
 * dropped for connection reuse, and beyond that the connection is closed and the result
 * marked truncated. Rejects with the transport error, or the abort reason.
 */
export function dispatchPost(
  agent: UndiciDispatcher,
  options: UndiciDispatcher.DispatchOptions,
  abort: AttemptAbort,
  maxBodyBytes: BodyLimit,
): Promise<PostResponse> {
  return new Promise<PostResponse>((resolve, reject) => {
    const handler = new PostHandler(abort, maxBodyBytes, resolve, reject);
    if (abort.aborted) return reject(abort.reason);
    abort.listener = handler;
    agent.dispatch(options, handler);
  });
}

class PostHandler implements UndiciDispatcher.DispatchHandler, AbortListener {
  #abortRequest: ((err: Error) => void) | undefined;
  #settled = false;
  #status = 0;
  #headers: Record<string, string | string[] | undefined> = {};
  #max = 0;
  #chunks: Buffer[] | undefined;
  #kept = 0;
  #total = 0;

  constructor(
    private readonly abort: AttemptAbort,
    private readonly maxBodyBytes: BodyLimit,
    private readonly resolve: (r: PostResponse) => void,
    private readonly reject: (err: unknown) => void,
  ) {}

  abortWith(reason: unknown): void {
    if (this.#settled) return;
    // Before the connection: undici calls onConnect next, which aborts there.
    this.#abortRequest?.(reason instanceof Error ? reason : new Error(String(reason)));
  }

  onConnect(abort: (err?: Error) => void): void {
    if (this.abort.aborted) {
      abort(this.abort.reason instanceof Error ? this.abort.reason : new Error(String(this.abort.reason)));
      return;
    }
    this.#abortRequest = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], _resume: () => void): boolean {
    // 1xx informational answers precede the real one.
    if (statusCode < 200) return true;
    this.#status = statusCode;
    this.#headers = util.parseHeaders(rawHeaders) as Record<string, string | string[] | undefined>;
    this.#max = bodyLimitFor(this.maxBodyBytes, statusCode);
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.#total += chunk.length;
    const room = this.#max - this.#kept;
    if (room > 0) {
      const part = chunk.length <= room ? chunk : chunk.subarray(0, room);
      (this.#chunks ??= []).push(part);
      this.#kept += part.length;
    }
    if (this.#total - this.#kept > DRAIN_LIMIT) {
      // Not worth reading on: settle with what was kept, and close the connection.
      this.#finish(true);
      this.#abortRequest?.(new Error('response body beyond the drain limit'));
    }
    return true;
  }

  onComplete(): void {
    this.#finish(this.#total > this.#kept);
  }

  onError(err: Error): void {
    if (this.#settled) return;
    this.#settled = true;
    this.abort.listener = undefined;
    // An abort surfaces as undici's own error: report why we aborted instead.
    this.reject(this.abort.aborted ? this.abort.reason : err);
  }

  #finish(truncated: boolean): void {
    if (this.#settled) return;
    this.#settled = true;
    this.abort.listener = undefined;
    const chunks = this.#chunks;
    const body = !chunks ? EMPTY : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, this.#kept);
    this.resolve({ statusCode: this.#status, headers: this.#headers, body, truncated });
  }
}
