import { EventEmitter } from 'node:events';
import type { Dispatcher as UndiciDispatcher } from 'undici';
import { DeliveryTimeoutError } from '../errors.js';
import { writeBinaryHeaders } from '../events/binary.js';
import type { SluiceEvent } from '../events/types.js';
import type { DeliverySpan } from '../observability/tracing.js';
import type { SendResult } from './types.js';

export const EMPTY = Buffer.alloc(0);

/**
 * Bytes of an unwanted response body read and thrown away so the keep-alive connection
 * can be reused; past this, the connection is closed instead (cheaper than downloading a
 * large error page we never look at).
 */
const DRAIN_LIMIT = 64 * 1024;

export interface PostOptions {
  readonly agent: UndiciDispatcher;
  readonly timeoutMs: number;
  /** Aborted by the dispatcher's close() (and by a caller's own signal). */
  readonly signal: AbortSignal | InFlightAttempts;
  /** Response body bytes to keep, fixed or chosen by status (a reply needs all of a 200's body). */
  readonly maxBodyBytes: number | ((statusCode: number) => number);
  readonly headers?: Readonly<Record<string, string>> | undefined;
  /** This attempt's trace span: its W3C headers go out with the request, and it ends with the result. */
  readonly span?: DeliverySpan | undefined;
}

/** Knative: retried on 404, 408, 409, 429, 5xx and when no response arrived; never on 3xx or other 4xx. */
export function isRetryableStatus(statusCode: number | undefined): boolean {
  if (statusCode === undefined) return true;
  return statusCode === 404 || statusCode === 408 || statusCode === 409 || statusCode === 429 || statusCode >= 500;
}

export function isSuccessStatus(statusCode: number | undefined): boolean {
  return statusCode !== undefined && statusCode >= 200 && statusCode < 300;
}

/**
 * One HTTP POST of an event in binary mode. The timeout covers connecting, the headers
 * and the whole body: a subscriber that answers its headers and then trickles the body
 * must not hold a delivery slot forever. A response whose body cannot be read to the end
 * counts as no response at all (statusCode undefined): we cannot tell whether the
 * subscriber finished, and at-least-once delivery makes retrying the safe side.
 * Never throws.
 */
export async function postEvent(url: string, event: SluiceEvent, o: PostOptions): Promise<SendResult> {
  const started = performance.now();
  // One cheap abort source per attempt, linked to the outer one by hand: AbortSignal.any()
  // keeps every derived signal reachable from a long-lived source on Node 20, which
  // would grow with every delivery; and an AbortController per attempt cost more than
  // the rest of our per-attempt work (measured), so undici gets an AttemptAbort instead.
  const abort = new AttemptAbort();
  const unlink = link(o.signal, abort);
  const timer = setTimeout(
    () => abort.abort(new DeliveryTimeoutError(`no complete response from ${url} within ${o.timeoutMs} ms`)),
    o.timeoutMs,
  );
  let headers: SendResult['headers'] = {};
  try {
    // One object per request, in precedence order: extra headers, the event's, the hop's trace context.
    const reqHeaders: Record<string, string> = {};
    const extra = o.headers;
    if (extra) for (const k in extra) reqHeaders[k] = extra[k]!;
    writeBinaryHeaders(event, reqHeaders, o.span === undefined);
    const hop = o.span?.headers;
    if (hop) for (const k in hop) reqHeaders[k] = hop[k]!;
    const { origin, path } = splitUrl(url);
    const res = await o.agent.request({
      origin,
      path,
      method: 'POST',
      headers: reqHeaders,
      body: event.data ?? EMPTY,
      signal: asUndiciSignal(abort),
      // undici's own timers default to 300 s; the abort timer above is the real bound.
      headersTimeout: o.timeoutMs,
      bodyTimeout: o.timeoutMs,
    });
    headers = res.headers;
    const max = typeof o.maxBodyBytes === 'function' ? o.maxBodyBytes(res.statusCode) : o.maxBodyBytes;
    // Most subscribers answer 202/200 with nothing worth keeping: dump() frees the
    // connection without the async-iterator machinery (a measurable share per delivery).
    const { body, truncated } = max === 0 ? await dumpBody(res.body, res.headers['content-length']) : await readBody(res.body, max);
    o.span?.end(res.statusCode);
    return {
      ok: isSuccessStatus(res.statusCode),
      statusCode: res.statusCode,
      headers,
      body,
      bodyTruncated: truncated,
      durationMs: performance.now() - started,
      traceparent: o.span?.headers.traceparent,
    };
  } catch (err) {
    o.span?.end(undefined, err instanceof Error ? err : new Error(String(err)));
    return {
      ok: false,
      statusCode: undefined,
      headers,
      body: EMPTY,
      bodyTruncated: false,
      error: err instanceof Error ? err : new Error(String(err)),
      durationMs: performance.now() - started,
      traceparent: o.span?.headers.traceparent,
    };
  } finally {
    clearTimeout(timer);
    unlink();
  }
}

/** Keeps the first `max` bytes, drains a little more for connection reuse, then gives up. */
async function readBody(body: AsyncIterable<Buffer>, max: number): Promise<{ body: Buffer; truncated: boolean }> {
  const chunks: Buffer[] = [];
  let kept = 0;
  let total = 0;
  for await (const chunk of body) {
    total += chunk.length;
    if (kept < max) {
      const part = chunk.length <= max - kept ? chunk : chunk.subarray(0, max - kept);
      chunks.push(part);
      kept += part.length;
    }
    // Leaving the loop destroys the stream, which closes the connection.
    if (total - kept > DRAIN_LIMIT) break;
  }
  return { body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, kept), truncated: total > kept };
}

const EMPTY_DUMP = Object.freeze({ body: EMPTY, truncated: false });

/** Discards a body we do not keep; reports whether there was any. */
async function dumpBody(body: UndiciDispatcher.ResponseData['body'], contentLength: string | string[] | undefined): Promise<{ body: Buffer; truncated: boolean }> {
  // The usual answer (202 without a body) has nothing to count.
  if (contentLength === '0') {
    await body.dump({ limit: DRAIN_LIMIT });
    return EMPTY_DUMP;
  }
  let seen = 0;
  body.on('data', (c: Buffer) => (seen += c.length));
  // dump() reads up to its limit for connection reuse, then closes the connection.
  await body.dump({ limit: DRAIN_LIMIT });
  return { body: EMPTY, truncated: seen > 0 };
}

// Subscriber URLs repeat for every delivery: parse each once (bounded, so a flood of
// distinct reply URLs cannot grow it without end).
const URL_CACHE_MAX = 1024;
const urlCache = new Map<string, { origin: string; path: string }>();

function splitUrl(url: string): { origin: string; path: string } {
  let hit = urlCache.get(url);
  if (!hit) {
    const u = new URL(url);
    hit = { origin: u.origin, path: `${u.pathname}${u.search}` };
    if (urlCache.size >= URL_CACHE_MAX) urlCache.clear();
    urlCache.set(url, hit);
  }
  return hit;
}

/**
 * An abort source undici accepts: it reads `aborted` and `reason` and subscribes with
 * addEventListener/removeEventListener (see its util.addAbortListener), so this is all
 * an attempt needs, at a fraction of the cost of an AbortController, or even of an
 * EventEmitter, per attempt.
 */
class AttemptAbort {
  aborted = false;
  reason: unknown = undefined;
  #listeners: Array<() => void> | undefined;

  addEventListener(_type: 'abort', listener: () => void): void {
    (this.#listeners ??= []).push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const ls = this.#listeners;
    if (!ls) return;
    const i = ls.indexOf(listener);
    if (i >= 0) ls.splice(i, 1);
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const ls = this.#listeners;
    this.#listeners = undefined;
    if (ls) for (const l of ls) l();
  }
}

/** undici's types say EventEmitter or AbortSignal; at run time it takes any object with addEventListener (checked in test/dispatcher). */
function asUndiciSignal(a: AttemptAbort): EventEmitter {
  return a as unknown as EventEmitter;
}

/**
 * The attempts a dispatcher has in flight, aborted together by its close(): a Set entry
 * per attempt instead of an event listener per attempt on one long-lived AbortSignal.
 */
export class InFlightAttempts {
  #live = new Set<AttemptAbort>();
  #reason: unknown = undefined;
  #aborted = false;

  get aborted(): boolean {
    return this.#aborted;
  }

  abortAll(reason: unknown): void {
    this.#aborted = true;
    this.#reason = reason;
    for (const a of this.#live) a.abort(reason);
    this.#live.clear();
  }

  /** Tracks one attempt until the returned function is called. */
  track(a: AttemptAbort): () => void {
    if (this.#aborted) {
      a.abort(this.#reason);
      return noop;
    }
    this.#live.add(a);
    return () => this.#live.delete(a);
  }
}

const noop = (): void => undefined;

function link(outer: AbortSignal | InFlightAttempts, a: AttemptAbort): () => void {
  if (outer instanceof InFlightAttempts) return outer.track(a);
  const onAbort = () => a.abort(outer.reason);
  if (outer.aborted) {
    onAbort();
    return noop;
  }
  outer.addEventListener('abort', onAbort, { once: true });
  return () => outer.removeEventListener('abort', onAbort);
}
