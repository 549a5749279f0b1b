import type { SluiceEvent } from '../events/types.js';
import type { DeliverySpan } from '../observability/tracing.js';
import { EMPTY, isSuccessStatus } from './http-post.js';
import type { LocalSink, SendResult } from './types.js';

const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

/**
 * One attempt to one of Sluice's own addresses, in process: the result has the shape
 * an HTTP POST's would (202 once stored, the ingress's status otherwise), so retries,
 * dead letters and metrics treat both the same. Never throws.
 */
export async function deliverLocally(sink: LocalSink, event: SluiceEvent, span: DeliverySpan | undefined): Promise<SendResult> {
  const started = performance.now();
  let statusCode: number;
  let error: Error | undefined;
  try {
    ({ statusCode, error } = await sink(event, span?.headers ?? NO_HEADERS));
  } catch (err) {
    statusCode = 500;
    error = err instanceof Error ? err : new Error(String(err));
  }
  span?.end(statusCode, error);
  return {
    ok: isSuccessStatus(statusCode),
    statusCode,
    headers: NO_HEADERS,
    // The JSON error body the ingress would have answered with (knativeerrordata shows it).
    body: error ? Buffer.from(JSON.stringify({ error: error.message, reason: (error as { code?: unknown }).code ?? 'SLUICE_ERR_INTERNAL' })) : EMPTY,
    bodyTruncated: false,
    ...(error ? { error } : {}),
    durationMs: performance.now() - started,
    traceparent: span?.headers.traceparent,
  };
}
