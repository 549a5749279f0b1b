import type { SluiceEvent } from '../events/types.js';
import { cleanTraceState, formatTraceParent, parseTraceParent, type TraceParent } from '../events/trace-context.js';

// The rules both tracing implementations share: which context a request or an event
// carries, and how events without one are stamped.

export type HttpHeaders = Readonly<Record<string, string | string[] | undefined>>;

export interface TraceContextValue {
  readonly traceparent: string;
  readonly tracestate?: string | undefined;
}

function header(headers: HttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The trace context an HTTP request came with, if it carries a valid one. */
export function incoming(headers: HttpHeaders): { parent: TraceParent; traceparent: string; tracestate: string | undefined } | undefined {
  const parent = parseTraceParent(header(headers, 'traceparent'));
  if (!parent) return undefined;
  return { parent, traceparent: formatTraceParent(parent), tracestate: cleanTraceState(header(headers, 'tracestate')) };
}

/**
 * Adds `traceparent` (and `tracestate`) to the events that have none, in place: ingress
 * calls it on events fresh from parseHttpEvents that nobody else holds yet, and a copy
 * per event would be paid on the hot path.
 */
export function stampEvents(events: readonly SluiceEvent[], context: () => TraceContextValue): readonly SluiceEvent[] {
  for (let i = 0; i < events.length; i++) {
    const attributes = events[i]!.attributes as Record<string, string>;
    if (attributes.traceparent !== undefined) continue;
    const c = context();
    attributes.traceparent = c.traceparent;
    if (c.tracestate) attributes.tracestate = c.tracestate;
  }
  return events;
}

/** The event's starting trace (its distributed-tracing extension), when valid. */
export function eventTrace(event: SluiceEvent): { parent: TraceParent; tracestate: string | undefined } | undefined {
  const parent = parseTraceParent(event.attributes.traceparent);
  return parent ? { parent, tracestate: cleanTraceState(event.attributes.tracestate) } : undefined;
}

/** The W3C request headers of one hop. */
export function hopHeaders(traceparent: string, tracestate: string | undefined): Record<string, string> {
  return tracestate ? { traceparent, tracestate } : { traceparent };
}
