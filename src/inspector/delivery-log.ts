import { InvalidOptionError } from '../errors.js';
import type { DeliveryOutcome, DeliveryTarget, OutcomeInfo } from '../dispatcher/types.js';

/** One delivery outcome as `GET /api/v1/deliveries` shows it. */
export interface DeliveryRecordView {
  time: string;
  namespace: string;
  /** The channel or broker. */
  resource: string;
  /** The Subscription or Trigger. */
  subscription: string;
  eventId: string;
  eventType: string;
  eventSource: string;
  outcome: DeliveryOutcome;
  attempts: number;
  /** Last HTTP status; null when no response arrived (connection refused, timeout). */
  statusCode: number | null;
  /** Duration of the last attempt to the subscriber; null when none was made. */
  durationMs: number | null;
}

export interface DeliveryQuery {
  namespace?: string | undefined;
  resource?: string | undefined;
  subscription?: string | undefined;
  limit: number;
}

export interface DeliveryLogOptions {
  /** Recent delivery outcomes kept (default 1000). */
  capacity?: number;
}

// Event types and sources repeat for every delivery, but each request brings its own copy
// of the string: the log keeps one copy of each (bounded, so a flood of distinct values
// cannot grow it without end) instead of holding a new pair per delivery.
const INTERNED_MAX = 1024;
/**
 * Longest id, type or source kept, in characters: attribute values have no length limit
 * (a structured event's can be as large as the request body), and the log must stay
 * bounded in bytes, not only in entries. Longer ones are kept cut, marked with an ellipsis.
 */
export const LOGGED_TEXT_MAX = 256;

/** `value`, or its first LOGGED_TEXT_MAX characters copied (a slice would keep the whole string alive) and marked. */
function bounded(value: string): string {
  if (value.length <= LOGGED_TEXT_MAX) return value;
  return Buffer.from(value.slice(0, LOGGED_TEXT_MAX), 'utf8').toString('utf8') + '\u2026';
}

/**
 * Bounded history of delivery outcomes, fed by the dispatcher's DeliveryObserver.
 *
 * Kept as columns (typed arrays for the numbers, arrays for the references) rather than
 * one record object per delivery: at thousands of deliveries a second a record lives a
 * few hundred milliseconds, long enough to be copied by every young-generation collection
 * and then promoted, which the columns avoid. Only the event's id string is new per entry.
 * The ISO time and the view objects are built when someone reads the log.
 */
export class DeliveryLog {
  readonly capacity: number;
  readonly #at: Float64Array;
  /** NaN: no attempt was made. */
  readonly #durationMs: Float64Array;
  readonly #attempts: Uint32Array;
  /** 0: no response arrived. */
  readonly #statusCode: Uint16Array;
  readonly #target: Array<DeliveryTarget | undefined>;
  readonly #outcome: Array<DeliveryOutcome | undefined>;
  readonly #id: Array<string | undefined>;
  readonly #type: Array<string | undefined>;
  readonly #source: Array<string | undefined>;
  readonly #interned = new Map<string, string>();
  #next = 0;
  #size = 0;

  constructor(options: DeliveryLogOptions = {}) {
    const capacity = options.capacity ?? 1000;
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new InvalidOptionError(`the delivery log's capacity must be a positive integer, got ${String(capacity)}`);
    this.capacity = capacity;
    this.#at = new Float64Array(capacity);
    this.#durationMs = new Float64Array(capacity);
    this.#attempts = new Uint32Array(capacity);
    this.#statusCode = new Uint16Array(capacity);
    this.#target = new Array<DeliveryTarget | undefined>(capacity).fill(undefined);
    this.#outcome = new Array<DeliveryOutcome | undefined>(capacity).fill(undefined);
    this.#id = new Array<string | undefined>(capacity).fill(undefined);
    this.#type = new Array<string | undefined>(capacity).fill(undefined);
    this.#source = new Array<string | undefined>(capacity).fill(undefined);
  }

  record(info: OutcomeInfo, durationMs: number | undefined, at: number): void {
    const a = info.event.attributes;
    const i = this.#next;
    this.#at[i] = at;
    this.#durationMs[i] = durationMs ?? NaN;
    this.#attempts[i] = info.attempts;
    this.#statusCode[i] = info.statusCode ?? 0;
    this.#target[i] = info.target;
    this.#outcome[i] = info.outcome;
    this.#id[i] = bounded(a.id ?? '');
    this.#type[i] = this.#intern(a.type ?? '');
    this.#source[i] = this.#intern(a.source ?? '');
    this.#next = i + 1 === this.capacity ? 0 : i + 1;
    if (this.#size < this.capacity) this.#size++;
  }

  /** Up to `q.limit` outcomes of the selected targets, newest first. */
  deliveries(q: DeliveryQuery): DeliveryRecordView[] {
    const out: DeliveryRecordView[] = [];
    for (let k = 1; k <= this.#size && out.length < q.limit; k++) {
      const i = (this.#next - k + this.capacity) % this.capacity;
      const t = this.#target[i]!;
      if (q.namespace !== undefined && t.namespace !== q.namespace) continue;
      if (q.resource !== undefined && t.resource !== q.resource) continue;
      if (q.subscription !== undefined && t.subscription !== q.subscription) continue;
      const statusCode = this.#statusCode[i]!;
      const durationMs = this.#durationMs[i]!;
      out.push({
        time: new Date(this.#at[i]!).toISOString(),
        namespace: t.namespace,
        resource: t.resource,
        subscription: t.subscription,
        eventId: this.#id[i]!,
        eventType: this.#type[i]!,
        eventSource: this.#source[i]!,
        outcome: this.#outcome[i]!,
        attempts: this.#attempts[i]!,
        statusCode: statusCode === 0 ? null : statusCode,
        durationMs: Number.isNaN(durationMs) ? null : Math.round(durationMs * 100) / 100,
      });
    }
    return out;
  }

  #intern(value: string): string {
    if (value.length > LOGGED_TEXT_MAX) return bounded(value);
    const known = this.#interned.get(value);
    if (known !== undefined) return known;
    if (this.#interned.size >= INTERNED_MAX) this.#interned.clear();
    this.#interned.set(value, value);
    return value;
  }
}
