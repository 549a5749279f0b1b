import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { Logger } from 'pino';

/** At most one warning per this interval while the collector keeps failing. */
const WARN_INTERVAL_MS = 60_000;

/**
 * Wraps the OTLP exporter so that failed exports reach Sluice's log: the SDK reports
 * them only through its global diagnostics logger, which Sluice does not install (it
 * is process-wide, and several brokers may share a process). Spans that failed are
 * dropped, never retried without bound: tracing must not hold memory or block delivery.
 */
export class LoggingSpanExporter implements SpanExporter {
  readonly #inner: SpanExporter;
  readonly #log: Logger;
  readonly #url: string;
  #lastWarn = 0;
  #failedSinceWarn = 0;

  constructor(inner: SpanExporter, logger: Logger, url: string) {
    this.#inner = inner;
    this.#log = logger.child({ component: 'tracing' });
    this.#url = url;
  }

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    this.#inner.export(spans, (result) => {
      if (result.code !== ExportResultCode.SUCCESS) this.#failed(spans.length, result.error);
      resultCallback(result);
    });
  }

  #failed(count: number, error: Error | undefined): void {
    this.#failedSinceWarn += count;
    const now = Date.now();
    if (now - this.#lastWarn < WARN_INTERVAL_MS) return;
    this.#log.warn({ err: error, url: this.#url, droppedSpans: this.#failedSinceWarn }, 'exporting spans to the OTLP collector failed; spans dropped');
    this.#lastWarn = now;
    this.#failedSinceWarn = 0;
  }

  shutdown(): Promise<void> {
    return this.#inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.#inner.forceFlush?.() ?? Promise.resolve();
  }
}
