import type { Logger } from 'pino';
import type { SluiceEvent } from '../events/types.js';
import type { Metrics } from '../observability/metrics.js';

/** Dead-letter sends of shed events in flight at once for one subscription; beyond, they are dropped (counted). */
const MAX_SHED_DEAD_LETTERS = 16;
/** A subscription that sheds thousands of events a second gets one log line per this many ms, with the count. */
const LOG_INTERVAL_MS = 10_000;

export type LossReason = 'shutdown' | 'subscription_full' | 'dead_letter_failed';

/**
 * Says every event a channel gave up on for one subscription: each is counted in
 * `sluice_events_failed_total{reason}` at once, and logged as a count per reason, at
 * most once per interval (the first loss at once), so that a flood of losses is said
 * without flooding the log. Also bounds the dead-letter sends of shed events, whose
 * bytes are no longer counted by the channel.
 */
export class OverflowReporter {
  readonly #log: Logger;
  readonly #metrics: Metrics;
  readonly #labels: { namespace_name: string; resource: string; subscription: string };
  #deadLettering = 0;
  #pending = new Map<LossReason, { count: number; example: SluiceEvent }>();
  #timer: NodeJS.Timeout | undefined;
  #lastLog = 0;

  constructor(log: Logger, metrics: Metrics, labels: { namespace_name: string; resource: string; subscription: string }) {
    this.#log = log;
    this.#metrics = metrics;
    this.#labels = labels;
  }

  tryStartDeadLetter(): boolean {
    if (this.#deadLettering >= MAX_SHED_DEAD_LETTERS) return false;
    this.#deadLettering++;
    return true;
  }

  endDeadLetter(): void {
    this.#deadLettering--;
  }

  lost(event: SluiceEvent, reason: LossReason): void {
    this.#metrics.eventsFailed.inc({ ...this.#labels, reason });
    const p = this.#pending.get(reason);
    if (p) p.count++;
    else this.#pending.set(reason, { count: 1, example: event });
    // Shutdown losses come all at once, just before the process exits: say them now.
    if (reason === 'shutdown') queueMicrotask(() => this.#flush());
    else this.#schedule();
  }

  #schedule(): void {
    if (this.#timer) return;
    const wait = Math.max(0, this.#lastLog + LOG_INTERVAL_MS - Date.now());
    if (wait === 0) {
      this.#flush();
      return;
    }
    this.#timer = setTimeout(() => this.#flush(), wait);
    // A pending summary must not keep a stopping process alive.
    this.#timer.unref();
  }

  #flush(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending.size === 0) return;
    this.#lastLog = Date.now();
    for (const [reason, { count, example }] of this.#pending) {
      const a = example.attributes;
      this.#log.warn(
        { reason, count, exampleEventId: a.id, exampleEventSource: a.source, exampleEventType: a.type },
        MESSAGES[reason].replace('%d', String(count)),
      );
    }
    this.#pending.clear();
  }
}

const MESSAGES: Record<LossReason, string> = {
  shutdown: '%d event(s) accepted for this subscription were still undelivered at the drain deadline and are lost (raise --drain-timeout, or use a durable channel)',
  subscription_full: '%d event(s) dropped: the subscription fell so far behind that its channel shed them, and there is no dead-letter sink to take them (or it is busy)',
  dead_letter_failed: '%d event(s) dropped: shed because the subscription fell behind, and the dead-letter sink refused them',
};
