import { isUtf8 } from 'node:buffer';
import { InvalidEventError } from '../errors.js';
import { checkAttributes, invalidNameMessage, isValidExtensionName } from './attributes.js';
import { isJsonMediaType, isTextMediaType } from './media-type.js';
import type { SluiceEvent } from './types.js';

// The CloudEvents JSON event format (json-format.md) in both directions. Data is bytes
// inside Sluice; this module decides how those bytes appear in JSON and back.

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Parses a UTF-8 JSON body; `what` names it in the error (`structured event`, `batch`). */
export function parseJsonBody(body: Buffer, what: string): unknown {
  if (body.length === 0) throw new InvalidEventError(`malformed JSON in ${what}: the body is empty`);
  // toString would silently turn invalid UTF-8 into U+FFFD and change attribute values.
  if (!isUtf8(body)) throw new InvalidEventError(`malformed JSON in ${what}: the body is not valid UTF-8`);
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new InvalidEventError(`malformed JSON in ${what}: ${(err as Error).message}`, { cause: err });
  }
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${JSON.stringify(v)}`;
}

/** Canonical string of a JSON attribute value (CloudEvents type system), or undefined for null. */
function attributeString(name: string, v: unknown, prefix: string): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number' && Number.isInteger(v)) return String(v);
  // JSON format: a null member means the attribute is absent.
  if (v === null) return undefined;
  throw new InvalidEventError(`${prefix}attribute "${name}" must be a string, integer or boolean, got ${describe(v)}`);
}

/** How deep a parsed JSON value nests (a scalar is 0), walked without recursion. */
export function jsonDepth(value: unknown): number {
  let max = 0;
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (d + 1 > max) max = d + 1;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, d + 1]);
  }
  return max;
}

/**
 * JSON.stringify, which recurses: data nested thousands of levels deep (JSON.parse takes
 * it, it does not recurse) overflows the stack here. That is the sender's data, so a 400.
 */
export function stringifyJsonData(data: unknown, prefix = ''): string {
  try {
    return JSON.stringify(data);
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    throw new InvalidEventError(
      `${prefix}"data" is nested too deeply (${jsonDepth(data)} levels) to be re-encoded; flatten it, or send it in binary mode where the data is kept as bytes`,
      { cause: err },
    );
  }
}

function dataBytes(data: unknown, contentType: string | undefined, prefix: string): Buffer {
  // JSON format §3.1: string data with a non-JSON content type is the text itself;
  // otherwise (JSON content type, or none given) the member is the JSON value.
  if (typeof data === 'string' && contentType !== undefined && !isJsonMediaType(contentType)) {
    return Buffer.from(data, 'utf8');
  }
  return Buffer.from(stringifyJsonData(data, prefix), 'utf8');
}

/** One structured event from its parsed JSON; `prefix` starts error messages (batch index). */
export function eventFromJson(value: unknown, prefix = ''): SluiceEvent {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidEventError(`${prefix}a structured event must be a JSON object, got ${describe(value)}`);
  }
  const obj = value as Record<string, unknown>;
  const attributes: Record<string, string> = {};
  let hasData = false;
  let hasBase64 = false;
  for (const name of Object.keys(obj)) {
    const v = obj[name];
    if (name === 'data') { hasData = v !== undefined && v !== null; continue; }
    if (name === 'data_base64') { hasBase64 = v !== undefined && v !== null; continue; }
    if (!isValidExtensionName(name)) throw new InvalidEventError(prefix + invalidNameMessage(name));
    const s = attributeString(name, v, prefix);
    if (s !== undefined) attributes[name] = s;
  }
  checkAttributes(attributes, prefix);
  if (hasData && hasBase64) {
    throw new InvalidEventError(`${prefix}"data" and "data_base64" are both present; an event carries one or the other`);
  }
  if (hasBase64) {
    const b64 = obj.data_base64;
    if (typeof b64 !== 'string') throw new InvalidEventError(`${prefix}"data_base64" must be a string, got ${describe(b64)}`);
    if (!BASE64.test(b64)) throw new InvalidEventError(`${prefix}"data_base64" is not valid base64`);
    return { attributes, data: Buffer.from(b64, 'base64') };
  }
  if (hasData) {
    // JSON format §3.1: without datacontenttype, JSON data is application/json. Saying so
    // keeps the type when the event is later sent in binary mode (Content-Type header).
    if (attributes.datacontenttype === undefined) attributes.datacontenttype = 'application/json';
    return { attributes, data: dataBytes(obj.data, attributes.datacontenttype, prefix) };
  }
  return { attributes };
}

/** The events of a batch body (a JSON array of structured events; `[]` is valid). */
export function eventsFromBatchJson(value: unknown): SluiceEvent[] {
  if (!Array.isArray(value)) throw new InvalidEventError(`a batch must be a JSON array of events, got ${describe(value)}`);
  const events: SluiceEvent[] = new Array<SluiceEvent>(value.length);
  for (let i = 0; i < value.length; i++) events[i] = eventFromJson(value[i], `batch element ${i}: `);
  return events;
}

/** The `"data":...` or `"data_base64":...` member for an event's bytes. */
function dataMember(data: Buffer, contentType: string | undefined): string {
  if (contentType === undefined || isJsonMediaType(contentType)) {
    // Embed the JSON text as received (keeps its formatting) once we know it is one JSON value.
    const text = tryUtf8(data);
    if (text !== undefined) {
      try {
        JSON.parse(text);
        return `"data":${text}`;
      } catch { /* not JSON: fall through to base64 */ }
    }
  } else if (isTextMediaType(contentType)) {
    const text = tryUtf8(data);
    if (text !== undefined) return `"data":${JSON.stringify(text)}`;
  }
  return `"data_base64":"${data.toString('base64')}"`;
}

function tryUtf8(data: Buffer): string | undefined {
  if (data.length >= 3 && data[0] === 0xef && data[1] === 0xbb && data[2] === 0xbf) return undefined;
  try {
    return utf8.decode(data);
  } catch {
    return undefined;
  }
}

/** The event in the JSON event format (`application/cloudevents+json`). */
export function toStructuredJson(event: SluiceEvent): string {
  const head = JSON.stringify(event.attributes);
  if (event.data === undefined) return head;
  const member = dataMember(event.data, event.attributes.datacontenttype);
  return head.length === 2 ? `{${member}}` : `${head.slice(0, -1)},${member}}`;
}

/** Events as a batch body (`application/cloudevents-batch+json`). */
export function toBatchJson(events: readonly SluiceEvent[]): string {
  return `[${events.map(toStructuredJson).join(',')}]`;
}
