import { randomFillSync } from 'node:crypto';

/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/) values, read and written
 * without the OpenTelemetry SDK: the ingress and dispatcher hot paths stamp and forward
 * them even when no exporter is configured, so this must cost next to nothing.
 */
export interface TraceParent {
  readonly traceId: string;
  readonly spanId: string;
  /** The trace-flags byte; bit 0 is `sampled`. */
  readonly flags: number;
}

// version-traceid-parentid-flags; a future version may append `-...` fields (W3C §3.2.4).
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE = '00000000000000000000000000000000';
const ZERO_SPAN = '0000000000000000';
// W3C §3.3: at most 32 list members of printable ASCII, no control characters.
const TRACESTATE = /^[\x20-\x7e]{0,512}$/;

/** Parses a `traceparent` value; undefined when it is not a valid one (W3C: then it is ignored). */
export function parseTraceParent(value: string | undefined): TraceParent | undefined {
  if (value === undefined || value.length < 55) return undefined;
  const m = TRACEPARENT.exec(value.trim());
  if (!m) return undefined;
  const version = m[1]!;
  // Version ff is invalid; version 00 has exactly four fields.
  if (version === 'ff' || (version === '00' && m[5] !== undefined)) return undefined;
  const traceId = m[2]!;
  const spanId = m[3]!;
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return undefined;
  return { traceId, spanId, flags: parseInt(m[4]!, 16) };
}

/** The `traceparent` value (version 00) of a context. */
export function formatTraceParent(tp: TraceParent): string {
  return `00-${tp.traceId}-${tp.spanId}-${(tp.flags & 0xff).toString(16).padStart(2, '0')}`;
}

/** A `tracestate` value worth forwarding, or undefined for a malformed one. */
export function cleanTraceState(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  return v !== '' && TRACESTATE.test(v) ? v : undefined;
}

// Random ids from one pooled buffer: one randomFillSync per 256 span ids instead of one per id.
const POOL = Buffer.alloc(4096);
let offset = POOL.length;

function randomHex(bytes: number): string {
  for (;;) {
    if (offset + bytes > POOL.length) {
      randomFillSync(POOL);
      offset = 0;
    }
    const hex = POOL.toString('hex', offset, offset + bytes);
    offset += bytes;
    // An all-zero id is invalid (W3C); at 2^-64 odds, just draw again.
    if (hex !== ZERO_SPAN && hex !== ZERO_TRACE) return hex;
  }
}

export function newSpanId(): string {
  return randomHex(8);
}

export function newTraceId(): string {
  return randomHex(16);
}

/** The same trace with a new span id: the context a participant hands to the next hop. */
export function childOf(parent: TraceParent): TraceParent {
  return { traceId: parent.traceId, spanId: newSpanId(), flags: parent.flags };
}

/** A new trace. Marked sampled so that traced services downstream record their part of it. */
export function newTrace(): TraceParent {
  // One draw for both ids: this runs for every event that arrives without a trace.
  const hex = randomHex(24);
  const traceId = hex.slice(0, 32);
  const spanId = hex.slice(32);
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return newTrace();
  return { traceId, spanId, flags: 1 };
}
