import { writeBinaryHeaders } from '../events/binary.js';
import type { SluiceEvent } from '../events/types.js';
import type { DeliverySpan } from '../observability/tracing.js';
import type { SendResult } from './types.js';
import { attemptTimedOut, InFlightAttempts, TIMER_MAX_MS, type StartedAttempt } from './in-flight-attempts.js';
import { AttemptAbort, type BodyLimit } from './post-handler.js';
import type { PoolHandle } from './post-transport.js';

export const EMPTY = Buffer.alloc(0);

export interface PostOptions {
  /** The connection pool (and through it, the thread) the POST goes out on. */
  readonly pool: PoolHandle;
  readonly timeoutMs: number;
  /** Aborted by the dispatcher's close() (and by a caller's own signal). */
  readonly signal: AbortSignal | InFlightAttempts;
  /** Response body bytes to keep, fixed or chosen by status (a reply needs all of a 200's body). */
  readonly maxBodyBytes: BodyLimit;
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
  // A delivery thread still starting is not the subscriber's delay: the timeout starts after it.
  const transport = o.pool.transport;
  if (!transport.isReady) await transport.ready();
  const started = performance.now();
  // One cheap abort source per attempt, linked to the outer one by hand: AbortSignal.any()
  // keeps every derived signal reachable from a long-lived source on Node 20, which
  // would grow with every delivery; and an AbortController per attempt cost more than
  // the rest of our per-attempt work (measured): an AttemptAbort tells our own undici handler.
  const abort = startAttempt(o.signal, url, o.timeoutMs);
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
    const res = await o.pool.transport.post(o.pool, { origin, path, headers: reqHeaders, body: event.data ?? EMPTY, timeoutMs: o.timeoutMs, bodyLimit: o.maxBodyBytes }, abort);
    headers = res.headers;
    o.span?.end(res.statusCode);
    return {
      ok: isSuccessStatus(res.statusCode),
      statusCode: res.statusCode,
      headers,
      body: res.body,
      bodyTruncated: res.truncated,
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
    abort.finish();
  }
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

/** The attempt's abort source: the dispatcher's in-flight attempts (deadline and close() in one), or a caller's own signal. */
function startAttempt(outer: AbortSignal | InFlightAttempts, url: string, timeoutMs: number): StartedAttempt {
  return outer instanceof InFlightAttempts ? outer.start(url, timeoutMs) : new SignalAttempt(outer, url, timeoutMs);
}

/** An attempt aborted by its own timer or by a caller's AbortSignal (one-off sends: not the per-event path). */
class SignalAttempt extends AttemptAbort implements StartedAttempt {
  readonly #timer: NodeJS.Timeout;
  readonly #outer: AbortSignal;
  readonly #onOuterAbort = (): void => this.abort(this.#outer.reason);

  constructor(outer: AbortSignal, url: string, timeoutMs: number) {
    super();
    this.#outer = outer;
    // Past node's longest timer the send waits that long (node would cut the delay to 1 ms).
    this.#timer = setTimeout(() => this.abort(attemptTimedOut(url, timeoutMs)), Math.min(timeoutMs, TIMER_MAX_MS));
    if (outer.aborted) this.#onOuterAbort();
    else outer.addEventListener('abort', this.#onOuterAbort, { once: true });
  }

  finish(): void {
    clearTimeout(this.#timer);
    this.#outer.removeEventListener('abort', this.#onOuterAbort);
  }
}
