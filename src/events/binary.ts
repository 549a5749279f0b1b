import { InvalidEventError } from '../errors.js';
import { checkAttributes, invalidNameMessage, isValidExtensionName } from './attributes.js';
import { decodeHeaderValue, encodeHeaderValue } from './percent-encoding.js';
import { cleanTraceState, parseTraceParent } from './trace-context.js';
import type { SluiceEvent } from './types.js';

// Binary content mode (HTTP binding §3.1): attributes in ce- headers, datacontenttype in
// Content-Type, the body is the data exactly as sent.

export type HttpHeaders = Readonly<Record<string, string | string[] | undefined>>;

/** A header's single value; node joins repeated headers except a few, so join the rest the same way. */
export function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(', ') : v;
}

/** True when `name` (any case) starts with `ce-`. */
export function isCeHeader(name: string): boolean {
  return name.length >= 3 && name.charCodeAt(2) === 0x2d && (name.charCodeAt(0) | 0x20) === 0x63 && (name.charCodeAt(1) | 0x20) === 0x65;
}

// The same few header names arrive and leave with every event: map each once (bounded,
// so a flood of distinct extension names cannot grow them without end).
const NAME_CACHE_MAX = 512;
const attributeOfHeader = new Map<string, string>();
const headerOfAttribute = new Map<string, string>();

/** The attribute a ce- header carries (checked), from the cache when seen before. */
function attributeName(key: string): string {
  let name = attributeOfHeader.get(key);
  if (name !== undefined) return name;
  name = key.slice(3).toLowerCase();
  if (!isValidExtensionName(name)) throw new InvalidEventError(invalidNameMessage(name, `header ${key}`));
  if (attributeOfHeader.size >= NAME_CACHE_MAX) attributeOfHeader.clear();
  attributeOfHeader.set(key, name);
  return name;
}

/** `ce-<name>`, from the cache when seen before. */
function ceHeaderName(name: string): string {
  let header = headerOfAttribute.get(name);
  if (header === undefined) {
    header = 'ce-' + name;
    if (headerOfAttribute.size >= NAME_CACHE_MAX) headerOfAttribute.clear();
    headerOfAttribute.set(name, header);
  }
  return header;
}

/** The attributes carried by ce- headers (names lower-cased, values percent-decoded), unchecked. */
export function attributesFromHeaders(headers: HttpHeaders): Record<string, string> {
  const attributes: Record<string, string> = {};
  for (const key in headers) {
    if (!isCeHeader(key)) continue;
    const raw = headerValue(headers[key]);
    if (raw === undefined) continue;
    attributes[attributeName(key)] = decodeHeaderValue(raw, key);
  }
  return attributes;
}

/** Finds a header by lower-case name, also when the caller did not lower-case the keys. */
export function findHeader(headers: HttpHeaders, lowerName: string): string | undefined {
  const direct = headers[lowerName];
  if (direct !== undefined) return headerValue(direct);
  for (const key in headers) {
    if (key.length === lowerName.length && key.toLowerCase() === lowerName) return headerValue(headers[key]);
  }
  return undefined;
}

/** A binary-mode event from request (or response) headers and body. */
export function eventFromBinary(headers: HttpHeaders, body: Buffer, contentType: string | undefined): SluiceEvent {
  const attributes = attributesFromHeaders(headers);
  // Content-Type is the datacontenttype; a stray ce-datacontenttype only counts without one.
  if (contentType !== undefined && contentType !== '') attributes.datacontenttype = contentType;
  if (attributes.traceparent === undefined) adoptTraceHeaders(headers, attributes);
  // Names are checked as their headers are read (attributeName); the others are fixed ones.
  checkAttributes(attributes, '', true);
  return body.length === 0 ? { attributes } : { attributes, data: body };
}

/**
 * Distributed-tracing extension, binary mode: a sender that only speaks W3C Trace Context
 * (an instrumented HTTP client) sends `traceparent`/`tracestate` headers and no ce-
 * ones. For a single hop the extension carries the same context as the headers, so a
 * valid header becomes the event's `traceparent` (with its `tracestate`); an invalid one
 * is ignored, as W3C asks. A `ce-traceparent` always wins: it is the trace the event
 * started in, while the plain header is only the last hop.
 */
function adoptTraceHeaders(headers: HttpHeaders, attributes: Record<string, string>): void {
  const raw = findHeader(headers, 'traceparent');
  if (raw === undefined || parseTraceParent(raw) === undefined) return;
  attributes.traceparent = raw.trim();
  if (attributes.tracestate !== undefined) return;
  const state = cleanTraceState(findHeader(headers, 'tracestate'));
  if (state !== undefined) attributes.tracestate = state;
}

/**
 * The event as a binary-mode HTTP message: ce- headers, Content-Type, the data as the body.
 * The distributed-tracing extension also goes out as the W3C `traceparent`/`tracestate`
 * headers, so that receivers that only read those join the same trace; a sender that
 * starts its own span for the hop (the dispatcher) replaces them with its own.
 */
export function toBinaryHttp(event: SluiceEvent): { headers: Record<string, string>; body: Buffer | undefined } {
  const headers: Record<string, string> = {};
  writeBinaryHeaders(event, headers, true);
  return { headers, body: event.data };
}

/**
 * The event's binary-mode headers, written into `headers` (the dispatcher builds each
 * request's headers in one object, without copies). With `w3c`, the distributed-tracing
 * extension also becomes the W3C `traceparent`/`tracestate` headers; a sender with its
 * own hop span passes false and sets those itself, instead of deriving them to overwrite.
 */
export function writeBinaryHeaders(event: SluiceEvent, headers: Record<string, string>, w3c: boolean): void {
  const attrs = event.attributes;
  for (const name in attrs) {
    const v = attrs[name]!;
    if (name === 'datacontenttype') {
      headers['content-type'] = v;
      continue;
    }
    headers[ceHeaderName(name)] = encodeHeaderValue(v);
  }
  if (!w3c) return;
  const tp = attrs.traceparent;
  // Only a valid W3C value goes out as the W3C header; the extension itself is any string.
  if (tp !== undefined && parseTraceParent(tp) !== undefined) {
    headers.traceparent = tp.trim();
    const state = cleanTraceState(attrs.tracestate);
    if (state !== undefined) headers.tracestate = state;
  }
}
