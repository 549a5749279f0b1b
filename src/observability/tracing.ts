import type { SluiceEvent } from '../events/types.js';
import { childOf, formatTraceParent, newTrace } from '../events/trace-context.js';
import { eventTrace, hopHeaders, incoming, stampEvents, type HttpHeaders, type TraceContextValue } from './trace-hops.js';

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
      stamp: (events) => {
        let ctx: TraceContextValue | undefined;
        // One new trace per request when the caller sent none.
        return stampEvents(events, () => (ctx ??= incoming(headers) ?? { traceparent: formatTraceParent(newTrace()) }));
      },
      publish: (accept) => accept(),
      end: NO_OP_END,
    };
  }

  startDelivery(event: SluiceEvent): DeliverySpan {
    const t = eventTrace(event);
    return { headers: hopHeaders(formatTraceParent(t ? childOf(t.parent) : newTrace()), t?.tracestate), end: NO_OP_END };
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** Tracing off: the default for servers, dispatchers and tests that configure none. */
export const TRACING_OFF: Tracing = new NoTracing();
