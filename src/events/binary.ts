import { InvalidEventError } from '../errors.js';
import { checkAttributes, invalidNameMessage, isValidExtensionName } from './attributes.js';
import { decodeHeaderValue, encodeHeaderValue } from './percent-encoding.js';
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

/** The attributes carried by ce- headers (names lower-cased, values percent-decoded), unchecked. */
export function attributesFromHeaders(headers: HttpHeaders): Record<string, string> {
  const attributes: Record<string, string> = {};
  for (const key in headers) {
    if (!isCeHeader(key)) continue;
    const raw = headerValue(headers[key]);
    if (raw === undefined) continue;
    const name = key.slice(3).toLowerCase();
    if (!isValidExtensionName(name)) throw new InvalidEventError(invalidNameMessage(name, `header ${key}`));
    attributes[name] = decodeHeaderValue(raw, key);
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
  checkAttributes(attributes);
  return body.length === 0 ? { attributes } : { attributes, data: body };
}

/** The event as a binary-mode HTTP message: ce- headers, Content-Type, the data as the body. */
export function toBinaryHttp(event: SluiceEvent): { headers: Record<string, string>; body: Buffer | undefined } {
  const headers: Record<string, string> = {};
  const attrs = event.attributes;
  for (const name in attrs) {
    const v = attrs[name]!;
    if (name === 'datacontenttype') headers['content-type'] = v;
    else headers['ce-' + name] = encodeHeaderValue(v);
  }
  return { headers, body: event.data };
}
