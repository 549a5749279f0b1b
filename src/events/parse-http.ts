import { InvalidEventError } from '../errors.js';
import { eventFromBinary, findHeader, isCeHeader, type HttpHeaders } from './binary.js';
import { charsetOf, mediaTypeOf } from './media-type.js';
import { eventFromJson, eventsFromBatchJson, parseJsonBody } from './structured.js';
import type { ContentMode, SluiceEvent } from './types.js';

// Reading CloudEvents off HTTP messages: the ingress hot path. No cloudevents SDK here
// (STACK.md: ~20 us per event); data stays the raw bytes of the body.

const STRUCTURED_JSON = 'application/cloudevents+json';
const BATCH_JSON = 'application/cloudevents-batch+json';

type Structured = 'structured' | 'batch' | undefined;

/** Which structured mode the Content-Type selects, or undefined for binary/none. */
function structuredModeOf(contentType: string | undefined): Structured {
  if (contentType === undefined) return undefined;
  const m = mediaTypeOf(contentType);
  if (!m.startsWith('application/cloudevents')) return undefined;
  const batch = m.startsWith('application/cloudevents-batch');
  if (m !== (batch ? BATCH_JSON : STRUCTURED_JSON)) {
    throw new InvalidEventError(
      `unsupported ${batch ? 'batch' : 'structured'} event format "${m}": Sluice reads ${STRUCTURED_JSON} and ${BATCH_JSON}`,
    );
  }
  const charset = charsetOf(contentType);
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
    throw new InvalidEventError(`unsupported charset "${charset}" for ${m}: the JSON event format is UTF-8`);
  }
  return batch ? 'batch' : 'structured';
}

function hasCeHeaders(headers: HttpHeaders): boolean {
  for (const key in headers) if (isCeHeader(key) && headers[key] !== undefined) return true;
  return false;
}

/**
 * Parses the CloudEvents in an HTTP request: binary mode (ce- headers), structured mode
 * (`application/cloudevents+json`) or batch mode (`application/cloudevents-batch+json`).
 * `headers` as node gives them (lower-case names). Throws InvalidEventError naming the problem.
 */
export function parseHttpEvents(headers: HttpHeaders, body: Buffer): { mode: ContentMode; events: SluiceEvent[] } {
  const contentType = findHeader(headers, 'content-type');
  const mode = structuredModeOf(contentType);
  if (mode === 'structured') return { mode, events: [eventFromJson(parseJsonBody(body, 'structured event'))] };
  if (mode === 'batch') return { mode, events: eventsFromBatchJson(parseJsonBody(body, 'batch')) };
  if (!hasCeHeaders(headers)) {
    const seen = contentType === undefined ? 'no Content-Type' : `Content-Type "${contentType}"`;
    throw new InvalidEventError(
      `not a CloudEvent: no ce- headers (binary mode) and no ${STRUCTURED_JSON} or ${BATCH_JSON} Content-Type (got ${seen})`,
    );
  }
  return { mode: 'binary', events: [eventFromBinary(headers, body, contentType)] };
}

const BINARY_REQUIRED = ['ce-id', 'ce-type', 'ce-source', 'ce-specversion'] as const;

/**
 * The reply event in a subscriber's response, or undefined when there is none.
 *
 * Only a 2xx other than 202 (accepted, never a reply) and 204 (no content) can carry a
 * reply. It is a reply when it carries a CloudEvent: all four required ce- headers
 * (binary) or a structured content type. One that claims to be a CloudEvent but is
 * invalid throws InvalidEventError, so the caller can dead-letter instead of dropping it.
 */
export function parseHttpResponseEvent(statusCode: number, headers: HttpHeaders, body: Buffer): SluiceEvent | undefined {
  if (statusCode < 200 || statusCode > 299 || statusCode === 202 || statusCode === 204) return undefined;
  const contentType = findHeader(headers, 'content-type');
  const mode = structuredModeOf(contentType);
  if (mode === 'batch') throw new InvalidEventError('a reply must be a single event: batch replies are not supported');
  if (mode === 'structured') return eventFromJson(parseJsonBody(body, 'structured reply event'));
  for (const name of BINARY_REQUIRED) if (findHeader(headers, name) === undefined) return undefined;
  return eventFromBinary(headers, body, contentType);
}
