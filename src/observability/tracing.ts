import type { SluiceEvent } from '../events/types.js';
import { childTraceParent, cleanTraceState, formatTraceParent, newTrace } from '../events/trace-context.js';
import { hopHeaders, incoming, stampEvents, type HttpHeaders, type TraceContextValue } from './trace-hops.js';

// W3C trace context through Sluice, following the CloudEvents distributed-tracing
// extension: the event's `traceparent`/`tracestate` attributes carry the trace the event
// started in (set at ingress when absent, then never changed), while each HTTP hop carries
// its own `traceparent` header: a new span id in the same trace. With an OTLP endpoint
// the hops are real OpenTelemetry spans, exported in batches; without one, ids are still
// minted (cheaply) so that traces stay connected across Sluice, but nothing is recorded,
// and the OpenTelemetry SDK is not even loaded.

import type { DeliverySpan, ReceiveSpan, ReceiveTarget, Tracing, TracingOptions } from './tracing-types.js';

export type { DeliveryDestination, DeliveryInfo, DeliverySpan, ReceiveSpan, ReceiveTarget, Tracing, TracingOptions } from './tracing-types.js';

/**
 * The tracing to use: OpenTelemetry with an OTLP/HTTP exporter when a URL is given (the
 * SDK is imported only then), else ids-only propagation.
 */
export async function loadTracing(options: TracingOptions = {}): Promise<Tracing> {
  if (!options.otlpTracesUrl) return TRACING_OFF;
  const { OtelTracing } = await import('./otel-tracing.js');
  return new OtelTracing(options.otlpTracesUrl, options);
}

// ---- tracing off: ids only ------------------------------------------------------------

const NO_OP_END = (): void => {};

class NoTracing implements Tracing {
  readonly enabled = false;

  startReceive(_target: ReceiveTarget, headers: HttpHeaders): ReceiveSpan {
    return {
      stamp: (events) => stampUntraced(events, headers),
      publish: (accept) => accept(),
      end: NO_OP_END,
    };
  }

  startDelivery(event: SluiceEvent): DeliverySpan {
    // Every delivery comes here: no parsed objects, just the hop's header value.
    const child = childTraceParent(event.attributes.traceparent);
    if (child === undefined) return { headers: { traceparent: formatTraceParent(newTrace()) }, end: NO_OP_END };
    return { headers: hopHeaders(child, cleanTraceState(event.attributes.tracestate)), end: NO_OP_END };
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * What an untraced receive does to the events: those without the distributed-tracing
 * extension join the request's W3C context, or else one new trace per request. Ingress
 * calls it directly when tracing is off, without a span object per request.
 */
export function stampUntraced(events: readonly SluiceEvent[], headers: HttpHeaders): readonly SluiceEvent[] {
  let ctx: TraceContextValue | undefined;
  return stampEvents(events, () => (ctx ??= incoming(headers) ?? { traceparent: formatTraceParent(newTrace()) }));
}

/** Tracing off: the default for servers, dispatchers and tests that configure none. */
export const TRACING_OFF: Tracing = new NoTracing();
