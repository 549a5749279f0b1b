import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  createTraceState,
  trace,
  type Attributes,
  type Context,
  type Link,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { hostname } from 'node:os';
import type { SluiceEvent } from '../events/types.js';
import { formatTraceParent, type TraceParent } from '../events/trace-context.js';
import { LoggingSpanExporter } from './logging-span-exporter.js';
import { eventTrace, hopHeaders, incoming, stampEvents, type HttpHeaders } from './trace-hops.js';
import type { DeliveryInfo, DeliverySpan, ReceiveSpan, ReceiveTarget, Tracing, TracingOptions } from './tracing-types.js';

// OpenTelemetry spans for ingress (receive), channel publish and every delivery attempt,
// exported in batches over OTLP/HTTP (JSON). Loaded by loadTracing only when configured.

const SHUTDOWN_TIMEOUT_MS = 5000;
/** Links a batch's receive span keeps to the traces its events started in. */
const MAX_LINKS = 32;

function remoteContext(parent: TraceParent, tracestate: string | undefined): Context {
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: parent.traceId,
    spanId: parent.spanId,
    traceFlags: parent.flags,
    isRemote: true,
    ...(tracestate ? { traceState: createTraceState(tracestate) } : {}),
  });
}

function traceparentOf(span: Span): string {
  const sc = span.spanContext();
  return formatTraceParent({ traceId: sc.traceId, spanId: sc.spanId, flags: sc.traceFlags });
}

function errorType(statusCode: number | undefined, error: unknown): string {
  if (statusCode !== undefined) return String(statusCode);
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : error instanceof Error ? error.name : 'error';
}

export class OtelTracing implements Tracing {
  readonly enabled = true;
  readonly #provider: BasicTracerProvider;
  readonly #tracer: Tracer;

  constructor(url: string, o: TracingOptions) {
    const resource = defaultResource()
      .merge(resourceFromAttributes({ 'service.name': o.serviceName ?? 'sluice', 'service.instance.id': `${hostname()}:${process.pid}` }))
      .merge(detectResources({ detectors: [envDetector] }));
    const exporter = new OTLPTraceExporter({ url });
    const delay = o.scheduledDelayMs ?? (process.env.OTEL_BSP_SCHEDULE_DELAY ? undefined : 1000);
    this.#provider = new BasicTracerProvider({
      resource,
      spanProcessors: [
        new BatchSpanProcessor(
          o.logger ? new LoggingSpanExporter(exporter, o.logger, url) : exporter,
          delay !== undefined ? { scheduledDelayMillis: delay } : {},
        ),
      ],
    });
    // Not registered globally: several brokers may run in one process (tests), each with its own.
    this.#tracer = this.#provider.getTracer('sluice');
  }

  startReceive(target: ReceiveTarget, headers: HttpHeaders): ReceiveSpan {
    const tracer = this.#tracer;
    const from = incoming(headers);
    const startTime = performance.timeOrigin + performance.now();
    const base: Attributes = {
      'sluice.namespace': target.namespace,
      'sluice.resource': target.name,
      'sluice.resource.kind': target.kind,
      'messaging.system': 'sluice',
      'messaging.operation.type': 'receive',
      'messaging.destination.name': `${target.namespace}/${target.name}`,
      'http.request.method': 'POST',
    };
    let span: Span | undefined;
    // The span starts once the events are known: without a traceparent header, a single
    // event's own trace is the parent; a batch's events are linked instead.
    const open = (events: readonly SluiceEvent[]): Span => {
      if (span) return span;
      let parentCtx = ROOT_CONTEXT;
      const links: Link[] = [];
      if (from) parentCtx = remoteContext(from.parent, from.tracestate);
      for (const e of events) {
        const t = eventTrace(e);
        if (!t) continue;
        if (!from && events.length === 1) parentCtx = remoteContext(t.parent, t.tracestate);
        else if (links.length < MAX_LINKS && t.parent.traceId !== from?.parent.traceId) {
          links.push({ context: { traceId: t.parent.traceId, spanId: t.parent.spanId, traceFlags: t.parent.flags, isRemote: true } });
        }
      }
      const attributes: Attributes = { ...base };
      if (events.length > 1) attributes['messaging.batch.message_count'] = events.length;
      else if (events.length === 1) Object.assign(attributes, eventAttributes(events[0]!));
      span = tracer.startSpan(`receive ${target.namespace}/${target.name}`, { kind: SpanKind.SERVER, attributes, links, startTime }, parentCtx);
      return span;
    };
    return {
      stamp: (events) => {
        const s = open(events);
        const ctx = from ?? { traceparent: traceparentOf(s), tracestate: undefined };
        return stampEvents(events, () => ctx);
      },
      publish: async (accept) => {
        const parent = open([]);
        const p = tracer.startSpan(
          `publish ${target.namespace}/${target.name}`,
          { kind: SpanKind.PRODUCER, attributes: { ...base, 'messaging.operation.type': 'send' } },
          trace.setSpan(ROOT_CONTEXT, parent),
        );
        try {
          await accept();
        } catch (err) {
          p.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error)?.message });
          p.setAttribute('error.type', errorType(undefined, err));
          throw err;
        } finally {
          p.end();
        }
      },
      end: (statusCode, error) => {
        const s = open([]);
        s.setAttribute('http.response.status_code', statusCode);
        // A server span is an error only for 5xx; a 4xx is the client's problem (OTel HTTP semconv).
        if (statusCode >= 500) {
          s.setStatus({ code: SpanStatusCode.ERROR, ...(error instanceof Error ? { message: error.message } : {}) });
          s.setAttribute('error.type', errorType(statusCode, error));
        } else if (statusCode >= 400 && error instanceof Error) {
          s.setAttribute('error.type', errorType(statusCode, error));
        }
        s.end();
      },
    };
  }

  startDelivery(event: SluiceEvent, info: DeliveryInfo): DeliverySpan {
    const t = eventTrace(event);
    const where = info.namespace !== undefined && info.subscription !== undefined ? ` ${info.namespace}/${info.subscription}` : '';
    const name = info.destination === 'subscriber' ? `deliver${where}` : info.destination === 'sink' ? 'send' : `${info.destination}${where}`;
    const attributes: Attributes = {
      ...eventAttributes(event),
      'sluice.delivery.destination': info.destination,
      'sluice.attempt': info.attempt,
      'http.request.method': 'POST',
      'url.full': info.url,
    };
    if (info.namespace !== undefined) attributes['sluice.namespace'] = info.namespace;
    if (info.resource !== undefined) attributes['sluice.resource'] = info.resource;
    if (info.subscription !== undefined) attributes['sluice.subscription'] = info.subscription;
    const span = this.#tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes }, t ? remoteContext(t.parent, t.tracestate) : ROOT_CONTEXT);
    return {
      headers: hopHeaders(traceparentOf(span), t?.tracestate),
      end: (statusCode, error) => {
        if (statusCode !== undefined) span.setAttribute('http.response.status_code', statusCode);
        if (statusCode === undefined || statusCode >= 300) {
          span.setStatus({ code: SpanStatusCode.ERROR, ...(error ? { message: error.message } : {}) });
          span.setAttribute('error.type', errorType(statusCode, error));
        }
        span.end();
      },
    };
  }

  forceFlush(): Promise<void> {
    return this.#provider.forceFlush();
  }

  async shutdown(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.#provider.shutdown().catch(() => {}),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, SHUTDOWN_TIMEOUT_MS);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
  }
}

/** CloudEvents span attributes (OTel semantic conventions for CloudEvents). */
function eventAttributes(e: SluiceEvent): Attributes {
  const a = e.attributes;
  return {
    'cloudevents.event_id': a.id,
    'cloudevents.event_source': a.source,
    'cloudevents.event_type': a.type,
    'cloudevents.event_spec_version': a.specversion,
    ...(a.subject !== undefined ? { 'cloudevents.event_subject': a.subject } : {}),
  };
}
