import type { Logger } from 'pino';
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

/** Where an ingress request went. */
export interface ReceiveTarget {
  readonly namespace: string;
  readonly name: string;
  readonly kind: string;
}

/** One ingress request. `stamp` first, then `publish`, then `end` (always, once). */
export interface ReceiveSpan {
  /** The events, with the distributed-tracing extension added where it was missing. */
  stamp(events: readonly SluiceEvent[]): readonly SluiceEvent[];
  /** Runs the channel's publish (resolves once stored) under a `publish` span. */
  publish(accept: () => Promise<void>): Promise<void>;
  end(statusCode: number, error?: unknown): void;
}

export type DeliveryDestination = 'subscriber' | 'reply' | 'dead-letter' | 'sink';

export interface DeliveryInfo {
  readonly destination: DeliveryDestination;
  readonly url: string;
  /** 1-based attempt number for this destination. */
  readonly attempt: number;
  readonly namespace?: string | undefined;
  /** The channel or broker. */
  readonly resource?: string | undefined;
  /** The Subscription or Trigger. */
  readonly subscription?: string | undefined;
}

/** One HTTP POST of an event. `end` always, once. */
export interface DeliverySpan {
  /** `traceparent` (this hop) and `tracestate` request headers. */
  readonly headers: Readonly<Record<string, string>>;
  end(statusCode: number | undefined, error?: Error): void;
}

export interface Tracing {
  /** True when spans are recorded and exported. */
  readonly enabled: boolean;
  /** Call once the request is parsed (or failed to parse); `headers` as node gives them. */
  startReceive(target: ReceiveTarget, headers: HttpHeaders): ReceiveSpan;
  startDelivery(event: SluiceEvent, info: DeliveryInfo): DeliverySpan;
  /** Exports what is buffered (tests, shutdown). */
  forceFlush(): Promise<void>;
  /** Flushes and stops the exporter; bounded in time. */
  shutdown(): Promise<void>;
}

export interface TracingOptions {
  /** Full OTLP/HTTP traces URL (see resolveOtlpTracesUrl); tracing is off without it. */
  readonly otlpTracesUrl?: string | undefined;
  /** `service.name` of the spans (OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES still win). */
  readonly serviceName?: string;
  /** How often batches are exported (default 1 s, or OTEL_BSP_SCHEDULE_DELAY). */
  readonly scheduledDelayMs?: number;
  readonly logger?: Logger;
}

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
