import { InvalidEventError } from '../errors.js';
import type { SluiceEvent } from './types.js';

/** The only CloudEvents spec version Sluice reads and writes. */
export const SPEC_VERSION = '1.0';

const REQUIRED = ['specversion', 'id', 'source', 'type'] as const;
/** Optional core attributes: when present they must be non-empty (CloudEvents 1.0 §3). */
const NON_EMPTY_OPTIONAL = ['datacontenttype', 'dataschema', 'subject', 'time'] as const;
/** `data` passes the name rule but is the payload, never an attribute. */
const RESERVED = new Set(['data']);

const NAME = /^[a-z0-9]+$/;
// CloudEvents type system: control characters U+0000-U+001F and U+007F-U+009F are not
// allowed in String values. Checking them also keeps header values safe to write.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
// datacontenttype travels as the raw Content-Type header (never percent-encoded).
const HEADER_SAFE = /^[\x20-\x7e]*$/;
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/;

/** CloudEvents attribute (and extension) names: lower-case ASCII letters and digits. */
export function isValidExtensionName(name: string): boolean {
  return NAME.test(name) && !RESERVED.has(name);
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** RFC 3339 date-time (`2024-05-01T12:00:00Z`, `...T12:00:00.123+02:00`), with range checks. */
export function isRfc3339Time(value: string): boolean {
  const m = RFC3339.exec(value);
  if (!m) return false;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return false;
  // Second 60 is a leap second, which RFC 3339 allows.
  if (Number(m[4]) > 23 || Number(m[5]) > 59 || Number(m[6]) > 60) return false;
  if (m[8] !== undefined && (Number(m[9]) > 23 || Number(m[10]) > 59)) return false;
  return true;
}

function fail(prefix: string, message: string): never {
  throw new InvalidEventError(prefix + message);
}

/** Error for a bad attribute name; `where` tells how it arrived (e.g. `header ce-My_Ext`). */
export function invalidNameMessage(name: string, where?: string): string {
  const from = where ? ` (${where})` : '';
  if (RESERVED.has(name)) return `attribute name "${name}"${from} is reserved for the event data`;
  return `invalid attribute name "${name}"${from}: names must be lower-case letters and digits only (^[a-z0-9]+$)`;
}

/**
 * Checks a complete attribute set against CloudEvents 1.0; `prefix` starts every message
 * (e.g. `batch element 3: `). Throws InvalidEventError naming the first problem.
 * `namesChecked`: every name was validated as it was read (binary mode's ce- headers),
 * so only the values are checked again.
 */
export function checkAttributes(attrs: Readonly<Record<string, unknown>>, prefix = '', namesChecked = false): void {
  for (const name of REQUIRED) {
    const v = attrs[name];
    if (v === undefined) fail(prefix, `missing required attribute "${name}"`);
    if (typeof v !== 'string') fail(prefix, `attribute "${name}" must be a string`);
    if (v === '') fail(prefix, `required attribute "${name}" is empty`);
    if (name === 'specversion' && v !== SPEC_VERSION) {
      fail(prefix, `unsupported specversion "${v}": Sluice supports CloudEvents "${SPEC_VERSION}" only`);
    }
  }
  for (const name of NON_EMPTY_OPTIONAL) {
    if (attrs[name] === '') fail(prefix, `attribute "${name}" must not be empty when present`);
  }
  for (const name in attrs) {
    if (!namesChecked && !isValidExtensionName(name)) fail(prefix, invalidNameMessage(name));
    const v = attrs[name];
    if (typeof v !== 'string') fail(prefix, `attribute "${name}" must be a string`);
    if (CONTROL.test(v)) {
      const code = CONTROL.exec(v)![0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0');
      fail(prefix, `attribute "${name}" contains the control character U+${code}, which CloudEvents does not allow`);
    }
  }
  const time = attrs.time;
  if (typeof time === 'string' && !isRfc3339Time(time)) {
    fail(prefix, `attribute "time" is not an RFC 3339 timestamp: "${time}" (expected e.g. 2024-05-01T12:00:00Z)`);
  }
  const ct = attrs.datacontenttype;
  if (typeof ct === 'string' && !HEADER_SAFE.test(ct)) {
    fail(prefix, `attribute "datacontenttype" must be printable ASCII: "${ct}"`);
  }
}

/** Validates an event's attributes against CloudEvents 1.0; throws InvalidEventError. */
export function validateAttributes(attrs: Readonly<Record<string, string>>): void {
  checkAttributes(attrs);
}

/**
 * A new event with `extra` attributes added or replaced (data unchanged, same bytes):
 * how the dispatcher adds `knativeerror*` extensions for the dead-letter sink.
 */
export function withAttributes(event: SluiceEvent, extra: Readonly<Record<string, string>>): SluiceEvent {
  for (const name in extra) {
    if (!isValidExtensionName(name)) throw new InvalidEventError(invalidNameMessage(name));
    const v = extra[name];
    if (typeof v !== 'string') throw new InvalidEventError(`attribute "${name}" must be a string`);
    if (CONTROL.test(v)) throw new InvalidEventError(`attribute "${name}" contains a control character, which CloudEvents does not allow`);
  }
  const attributes = { ...event.attributes, ...extra };
  return event.data === undefined ? { attributes } : { attributes, data: event.data };
}
