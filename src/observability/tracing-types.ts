import type { Logger } from 'pino';
import type { SluiceEvent } from '../events/types.js';
import type { HttpHeaders } from './trace-hops.js';

// The tracing contract, apart from both implementations (ids-only in tracing.ts, the
// OpenTelemetry one in otel-tracing.ts, loaded on demand), so neither imports the other.

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
