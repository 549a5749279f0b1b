import { request, type Dispatcher as UndiciDispatcher } from 'undici';
import { DeliveryTimeoutError } from '../errors.js';
import { toBinaryHttp } from '../events/index.js';
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
  readonly signal: AbortSignal;
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
  // One controller per attempt, linked to the outer signal by hand: AbortSignal.any()
  // keeps every derived signal reachable from a long-lived source on Node 20, which
  // would grow with every delivery.
  const abort = new AbortController();
  const onOuterAbort = () => abort.abort(o.signal.reason);
  if (o.signal.aborted) onOuterAbort();
  else o.signal.addEventListener('abort', onOuterAbort, { once: true });
  const timer = setTimeout(
    () => abort.abort(new DeliveryTimeoutError(`no complete response from ${url} within ${o.timeoutMs} ms`)),
    o.timeoutMs,
  );
  let headers: SendResult['headers'] = {};
  try {
    const http = toBinaryHttp(event);
    const res = await request(url, {
      dispatcher: o.agent,
      method: 'POST',
      // The hop's own traceparent replaces the one toBinaryHttp derived from the extension.
      headers: o.span ? { ...o.headers, ...http.headers, ...o.span.headers } : { ...o.headers, ...http.headers },
      body: http.body ?? EMPTY,
      signal: abort.signal,
      // undici's own timers default to 300 s; the abort timer above is the real bound.
      headersTimeout: o.timeoutMs,
      bodyTimeout: o.timeoutMs,
    });
    headers = res.headers;
    const max = typeof o.maxBodyBytes === 'function' ? o.maxBodyBytes(res.statusCode) : o.maxBodyBytes;
    const { body, truncated } = await readBody(res.body, max);
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
    o.signal.removeEventListener('abort', onOuterAbort);
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
