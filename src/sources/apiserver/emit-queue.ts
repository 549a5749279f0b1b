import type { SluiceEvent } from '../../events/types.js';
import type { Logger } from '../../observability/logger.js';
import { nextBackoffMs } from '../../subscriptions/retry-backoff.js';
import type { EmitFn } from '../source.js';

export interface EmitQueueOptions {
  emit: EmitFn;
  logger: Logger;
  /** Events held while the sink is slow; beyond it new events are dropped with a log line (default 10,000). */
  capacity?: number;
  /** Attempts after the first when the sink refuses an event (default 5). */
  retries?: number;
  /** First wait before a retry, doubled each time up to `retryMaxMs` (defaults 200 ms, 10 s). */
  retryDelayMs?: number;
  retryMaxMs?: number;
}

/**
 * Sends events to the sink one at a time and in order. A watch stream cannot be paused
 * from here, so events wait in a bounded queue while the sink is slow; a refused event
 * is retried with backoff and then dropped with a log line (the sink's own delivery
 * policy applies once it took the event).
 */
export class EmitQueue {
  readonly #o: EmitQueueOptions;
  readonly #queue: SluiceEvent[] = [];
  #running = false;
  #closed = false;
  #wake: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #idle: Array<() => void> = [];
  /** Counters, for logs and tests. */
  readonly stats = { sent: 0, dropped: 0, failed: 0 };

  constructor(options: EmitQueueOptions) {
    this.#o = options;
  }

  get length(): number {
    return this.#queue.length;
  }

  push(event: SluiceEvent): void {
    if (this.#closed) return;
    if (this.#queue.length >= (this.#o.capacity ?? 10_000)) {
      this.stats.dropped++;
      this.#o.logger.error(
        { type: event.attributes.type, subject: event.attributes.subject, capacity: this.#o.capacity ?? 10_000 },
        'event queue full: the sink is not keeping up; event dropped',
      );
      return;
    }
    this.#queue.push(event);
    if (!this.#running) void this.#run();
  }

  /** Resolves once every queued event was sent or given up on. */
  whenIdle(): Promise<void> {
    if (!this.#running && this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Stops sending; events still queued are dropped (and counted). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#queue.length) {
      this.stats.dropped += this.#queue.length;
      this.#o.logger.warn({ dropped: this.#queue.length }, 'source stopped with events not yet sent');
      this.#queue.length = 0;
    }
    if (this.#timer) clearTimeout(this.#timer);
    this.#wake?.();
  }

  async #run(): Promise<void> {
    this.#running = true;
    while (!this.#closed && this.#queue.length > 0) {
      const event = this.#queue[0] as SluiceEvent;
      await this.#send(event);
      this.#queue.shift();
    }
    this.#running = false;
    const idle = this.#idle;
    this.#idle = [];
    for (const r of idle) r();
  }

  async #send(event: SluiceEvent): Promise<void> {
    const retries = this.#o.retries ?? 5;
    for (let attempt = 0; !this.#closed; attempt++) {
      try {
        await this.#o.emit(event);
        this.stats.sent++;
        return;
      } catch (err) {
        if (attempt >= retries) {
          this.stats.failed++;
          this.#o.logger.error(
            { err, id: event.attributes.id, type: event.attributes.type, subject: event.attributes.subject },
            `sink refused the event ${attempt + 1} times; event dropped`,
          );
          return;
        }
        this.#o.logger.warn({ err: (err as Error).message, attempt: attempt + 1 }, 'sink refused the event; retrying');
        await this.#sleep(nextBackoffMs(attempt, { initialMs: this.#o.retryDelayMs ?? 200, maxMs: this.#o.retryMaxMs ?? 10_000 }));
      }
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.#wake = resolve;
      this.#timer = setTimeout(resolve, ms);
    });
  }
}
