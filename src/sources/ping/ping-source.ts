import { randomUUID } from 'node:crypto';
import { ResourceValidationError } from '../../errors.js';
import { SPEC_VERSION } from '../../events/attributes.js';
import type { SluiceEvent } from '../../events/types.js';
import { silentLogger, type Logger } from '../../observability/logger.js';
import { parseWith } from '../../resources/zod-issues.js';
import { nextBackoffMs } from '../../subscriptions/retry-backoff.js';
import type { EmitFn, Source } from '../source.js';
import { PingSchedule } from './ping-schedule.js';
import { decodeBase64Strict, pingSourceSpecSchema, type PingSourceSpec, type PingSourceSpecInput } from './spec-schema.js';

export const PING_EVENT_TYPE = 'dev.knative.sources.ping';

/** Knative's PingSource event source: `/apis/v1/namespaces/<ns>/pingsources/<name>`. */
export function pingEventSource(namespace: string, name: string): string {
  return `/apis/v1/namespaces/${namespace}/pingsources/${name}`;
}

/** Time and timers, injectable so tests can drive the schedule. */
export interface PingClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: PingClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface PingSourceOptions {
  namespace: string;
  name: string;
  /** The spec as written; validated here. */
  spec: PingSourceSpecInput;
  logger?: Logger;
  clock?: PingClock;
  /** Retries of a failed emit within one tick (default 3), waiting `retryDelayMs` (500) doubling. */
  retries?: number;
  retryDelayMs?: number;
  /** Ticks whose emit is still running (retrying) at most; a tick beyond that is skipped and logged (default 10). */
  maxInFlight?: number;
}

export interface PingSourceStats {
  ticks: number;
  emitted: number;
  failed: number;
  skipped: number;
}

// setTimeout takes at most 2^31-1 ms (~24.8 days); longer waits are done in steps.
const MAX_TIMER_MS = 2_147_483_647;

/**
 * Knative's PingSource: emits a fixed event on a cron schedule. Each tick's event has a
 * fresh id and the scheduled time as `time`; a failed emit is retried a few times with
 * backoff within the tick, then logged. Ticks missed while stopped (or while the process
 * was suspended) are not replayed: the next tick is always computed from now.
 */
export class PingSource implements Source {
  readonly namespace: string;
  readonly name: string;
  readonly spec: PingSourceSpec;
  readonly schedule: PingSchedule;
  readonly #log: Logger;
  readonly #clock: PingClock;
  readonly #data: Buffer | undefined;
  readonly #retries: number;
  readonly #retryDelayMs: number;
  readonly #maxInFlight: number;
  readonly #stats: PingSourceStats = { ticks: 0, emitted: 0, failed: 0, skipped: 0 };
  readonly #waits = new Set<{ handle: unknown; resolve: () => void }>();
  #emit: EmitFn | undefined;
  #timer: unknown;
  #nextAt: Date | null = null;
  #inFlight = 0;
  #stopped = false;

  constructor(options: PingSourceOptions) {
    this.namespace = options.namespace;
    this.name = options.name;
    const parsed = parseWith(pingSourceSpecSchema, options.spec, ['spec']);
    if (!parsed.ok) throw new ResourceValidationError({ kind: 'PingSource', name: `${options.namespace}/${options.name}`, issues: parsed.issues });
    this.spec = parsed.value;
    this.schedule = new PingSchedule(this.spec.schedule, this.spec.timezone);
    this.#data = this.spec.dataBase64 ? decodeBase64Strict(this.spec.dataBase64) : this.spec.data ? Buffer.from(this.spec.data, 'utf8') : undefined;
    this.#log = (options.logger ?? silentLogger()).child({ source: `PingSource ${this.namespace}/${this.name}` });
    this.#clock = options.clock ?? systemClock;
    this.#retries = options.retries ?? 3;
    this.#retryDelayMs = options.retryDelayMs ?? 500;
    this.#maxInFlight = options.maxInFlight ?? 10;
  }

  /** When the next tick is due; null before start, after stop, or when the schedule has no further time. */
  get nextTick(): Date | null {
    return this.#nextAt;
  }

  get stats(): Readonly<PingSourceStats> {
    return { ...this.#stats };
  }

  async start(emit: EmitFn): Promise<void> {
    if (this.#emit || this.#stopped) return;
    this.#emit = emit;
    this.#arm(new Date(this.#clock.now()));
    this.#log.info({ schedule: this.spec.schedule, timezone: this.schedule.timezone, next: this.#nextAt?.toISOString() }, 'ping schedule started');
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#nextAt = null;
    for (const w of this.#waits) {
      this.#clock.clearTimeout(w.handle);
      w.resolve();
    }
    this.#waits.clear();
  }

  /** The event for a tick at `time` (exported for tests and for `sluice` tooling). */
  makeEvent(time: Date): SluiceEvent {
    const attributes: Record<string, string> = {
      specversion: SPEC_VERSION,
      id: randomUUID(),
      source: pingEventSource(this.namespace, this.name),
      type: PING_EVENT_TYPE,
      time: time.toISOString(),
    };
    if (this.spec.contentType) attributes.datacontenttype = this.spec.contentType;
    if (this.spec.ceOverrides?.extensions) Object.assign(attributes, this.spec.ceOverrides.extensions);
    return this.#data === undefined ? { attributes } : { attributes, data: this.#data };
  }

  /** Schedules the first tick strictly after `after`. */
  #arm(after: Date): void {
    if (this.#stopped) return;
    const at = this.schedule.next(after);
    this.#nextAt = at;
    if (!at) {
      this.#log.warn('the schedule has no further time; no more events');
      return;
    }
    this.#wait(at);
  }

  #wait(at: Date): void {
    const delay = at.getTime() - this.#clock.now();
    if (delay > MAX_TIMER_MS) {
      this.#timer = this.#clock.setTimeout(() => this.#wait(at), MAX_TIMER_MS);
    } else {
      this.#timer = this.#clock.setTimeout(() => this.#fire(at), Math.max(0, delay));
    }
  }

  #fire(at: Date): void {
    this.#timer = undefined;
    if (this.#stopped) return;
    // Next tick from whichever is later, the tick or now: after a suspension the ticks
    // in between are skipped rather than fired in a burst.
    this.#arm(new Date(Math.max(at.getTime(), this.#clock.now())));
    this.#stats.ticks++;
    if (this.#inFlight >= this.#maxInFlight) {
      this.#stats.skipped++;
      this.#log.error({ tick: at.toISOString(), inFlight: this.#inFlight }, 'tick skipped: earlier ticks are still being delivered');
      return;
    }
    void this.#deliver(this.makeEvent(at));
  }

  async #deliver(event: SluiceEvent): Promise<void> {
    this.#inFlight++;
    try {
      for (let attempt = 0; ; attempt++) {
        if (this.#stopped || !this.#emit) return;
        try {
          await this.#emit(event);
          this.#stats.emitted++;
          return;
        } catch (err) {
          if (attempt >= this.#retries || this.#stopped) {
            this.#stats.failed++;
            this.#log.error({ err, id: event.attributes.id, tick: event.attributes.time, attempts: attempt + 1 }, 'ping event not delivered; dropped');
            return;
          }
          const delay = nextBackoffMs(attempt, { initialMs: this.#retryDelayMs });
          this.#log.warn({ err, id: event.attributes.id, attempt: attempt + 1, retryInMs: delay }, 'ping event not delivered; retrying');
          await this.#sleep(delay);
        }
      }
    } finally {
      this.#inFlight--;
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const w = {
        handle: undefined as unknown,
        resolve: () => {
          this.#waits.delete(w);
          resolve();
        },
      };
      w.handle = this.#clock.setTimeout(w.resolve, ms);
      this.#waits.add(w);
    });
  }
}
