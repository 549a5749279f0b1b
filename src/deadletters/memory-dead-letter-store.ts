import { InvalidOptionError } from '../errors.js';
import type { DeliveryObserver, DeliveryTarget, OutcomeInfo } from '../dispatcher/types.js';
import type { SluiceEvent } from '../events/types.js';
import { eventBytes } from '../events/event-bytes.js';
import {
  matchesFilter,
  matchesOwner,
  type DeadLetterEntry,
  type DeadLetterFilter,
  type DeadLetterOwner,
  type DeadLetterOwnerKind,
  type DeadLetterStore,
  type RedriveMark,
} from './dead-letter-store.js';

export interface MemoryDeadLetterStoreOptions {
  /** Entries kept (default 200, as the inspector keeps); the oldest make room. */
  capacity?: number;
  /**
   * Bytes kept in all entries together (default 16 MiB), as eventBytes() counts them: data,
   * attributes and a fixed overhead. Attributes count because they have no length limit of
   * their own (a structured event's can be as large as its request body). The oldest
   * entries make room.
   */
  maxBytes?: number;
  /** An event with more data than this (default 1 MiB) is kept with its first 4 KiB only, listed but not redrivable. */
  maxEventBytes?: number;
  /** Whether a delivery target is a Trigger or a Subscription (the dispatcher does not know). */
  kindOf?: (target: DeliveryTarget) => DeadLetterOwnerKind;
  clock?: () => number;
}

const TRUNCATED_KEEP = 4096;

/**
 * Dead letters of this process, in memory: fed by the dispatcher's outcomes (every
 * `dead-lettered` one), bounded in count and bytes, lost on restart. Reads copy nothing
 * but the list; the entries themselves are immutable (a redrive mark replaces the entry).
 */
export class MemoryDeadLetterStore implements DeadLetterStore, DeliveryObserver {
  readonly capacity: number;
  readonly maxBytes: number;
  readonly maxEventBytes: number;
  /** Insertion order is age order: the first key is the oldest entry. */
  readonly #entries = new Map<string, DeadLetterEntry>();
  readonly #kindOf: (target: DeliveryTarget) => DeadLetterOwnerKind;
  readonly #clock: () => number;
  #bytes = 0;
  #seq = 0;

  constructor(options: MemoryDeadLetterStoreOptions = {}) {
    this.capacity = positive(options.capacity, 200, 'deadLetters.capacity');
    this.maxBytes = positive(options.maxBytes, 16 * 1024 * 1024, 'deadLetters.maxBytes');
    this.maxEventBytes = positive(options.maxEventBytes, 1024 * 1024, 'deadLetters.maxEventBytes');
    this.#kindOf = options.kindOf ?? (() => 'Subscription');
    this.#clock = options.clock ?? Date.now;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** DeliveryObserver: keeps every dead-lettered event. Never throws on the delivery path's behalf (the dispatcher guards). */
  onOutcome(info: OutcomeInfo): void {
    if (info.outcome !== 'dead-lettered') return;
    const t = info.target;
    const owner: DeadLetterOwner = { kind: this.#kindOf(t), namespace: t.namespace, name: t.subscription, resource: t.resource };
    this.add(owner, info.deadLetter ?? info.event, { attempts: info.attempts, statusCode: info.statusCode, deadLetterUri: t.deadLetterUri });
  }

  /** Adds one dead letter; returns its entry. */
  add(owner: DeadLetterOwner, event: SluiceEvent, meta: { attempts: number; statusCode: number | undefined; deadLetterUri: string | undefined }): DeadLetterEntry {
    const size = event.data?.length ?? 0;
    const redrivable = size <= this.maxEventBytes;
    // A copy: the event's data may be a view into a larger request body.
    const data = event.data === undefined ? undefined : Buffer.from(redrivable ? event.data : event.data.subarray(0, TRUNCATED_KEEP));
    const entry: DeadLetterEntry = {
      entryId: `dl-${++this.#seq}`,
      owner,
      at: this.#clock(),
      attempts: meta.attempts,
      statusCode: meta.statusCode,
      deadLetterUri: meta.deadLetterUri,
      event: data === undefined ? { attributes: { ...event.attributes } } : { attributes: { ...event.attributes }, data },
      redrivable,
    };
    this.#entries.set(entry.entryId, entry);
    this.#bytes += eventBytes(entry.event);
    while (this.#entries.size > this.capacity || (this.#bytes > this.maxBytes && this.#entries.size > 1)) this.#evictOldest();
    return entry;
  }

  list(owner?: Partial<DeadLetterOwner>, filter?: DeadLetterFilter): DeadLetterEntry[] {
    const out: DeadLetterEntry[] = [];
    for (const e of this.#entries.values()) if (matchesOwner(e.owner, owner) && matchesFilter(e, filter)) out.push(e);
    return out.reverse();
  }

  get(entryId: string): DeadLetterEntry | undefined {
    return this.#entries.get(entryId);
  }

  markRedriven(entryId: string, mark: RedriveMark, expect?: { current: RedriveMark | undefined }): boolean {
    const e = this.#entries.get(entryId);
    if (!e) return false;
    if (expect && e.redriven !== expect.current) return false;
    // Replaced in place: Map.set on an existing key keeps its age position.
    this.#entries.set(entryId, { ...e, redriven: mark });
    return true;
  }

  #evictOldest(): void {
    const first = this.#entries.keys().next();
    if (first.done) return;
    const e = this.#entries.get(first.value)!;
    this.#entries.delete(first.value);
    this.#bytes -= eventBytes(e.event);
  }
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) throw new InvalidOptionError(`${name} must be a positive integer, got ${JSON.stringify(value)}`);
  return value;
}
