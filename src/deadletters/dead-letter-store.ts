import type { SluiceEvent } from '../events/types.js';

/** The kinds whose deliveries can be dead-lettered and redriven. */
export type DeadLetterOwnerKind = 'Subscription' | 'Trigger';

/** Which subscription an entry belongs to: a Subscription on a channel or a Trigger on a broker. */
export interface DeadLetterOwner {
  readonly kind: DeadLetterOwnerKind;
  readonly namespace: string;
  /** The Subscription's or Trigger's name. */
  readonly name: string;
  /** Its channel or broker. */
  readonly resource: string;
}

/** What a redrive did with an entry (set by markRedriven). */
export interface RedriveMark {
  /** RFC 3339. */
  readonly at: string;
  /** `sending` while the redrive runs; then how it ended. */
  readonly outcome: 'sending' | 'delivered' | 'dead-lettered' | 'failed' | 'interrupted';
  /** Last HTTP status of the subscriber, when one answered. */
  readonly statusCode?: number | undefined;
  /** The `sluiceredrivecount` the resent event carried. */
  readonly redriveCount: number;
  /**
   * With `sending`: when the claim lapses (RFC 3339), past the longest the redrive could
   * take under its policy. A claim left by a replica that died mid-redrive then no longer
   * blocks the entry; before it lapses only `force` sends the entry again.
   */
  readonly until?: string | undefined;
}

/** True for a `sending` claim whose `until` has passed (its redrive cannot still be running). */
export function claimLapsed(mark: RedriveMark | undefined, now: number): boolean {
  if (mark?.outcome !== 'sending' || mark.until === undefined) return false;
  const until = Date.parse(mark.until);
  return Number.isFinite(until) && until < now;
}

/** One dead-lettered event as a DeadLetterStore keeps it. */
export interface DeadLetterEntry {
  /** The store's own id of this entry (an event id may be dead-lettered more than once). */
  readonly entryId: string;
  readonly owner: DeadLetterOwner;
  /** Epoch ms when the event was dead-lettered. */
  readonly at: number;
  /** Attempts made to the subscriber before giving up. */
  readonly attempts: number;
  /** Last HTTP status of the subscriber (undefined: no response). */
  readonly statusCode: number | undefined;
  readonly deadLetterUri: string | undefined;
  /** The event as the dead-letter sink got it: `knativeerror*` extensions included. */
  readonly event: SluiceEvent;
  /** False when the store could not keep the whole event (its data was too large): it is listed, not redriven. */
  readonly redrivable: boolean;
  readonly redriven?: RedriveMark | undefined;
}

/** Exact matches on the event's attributes; every given field must match. */
export interface DeadLetterFilter {
  readonly id?: string | undefined;
  readonly type?: string | undefined;
  readonly source?: string | undefined;
  readonly subject?: string | undefined;
  /** `knativeerrorcode`: the subscriber's last status (500 for no response). */
  readonly code?: string | undefined;
  /** Only entries not redriven yet (true) or only redriven ones (false). */
  readonly pending?: boolean | undefined;
}

/** A value, or a promise of it: the memory store answers at once, backend stores over the network. */
export type MaybePromise<T> = T | Promise<T>;

/**
 * Where Sluice keeps dead-lettered events so they can be listed and redriven. The
 * in-memory implementation is bounded and per process (synchronous); the durable channel
 * backends keep theirs in NATS JetStream or Redis (asynchronous), shared by every replica
 * on that backend. Callers await every answer.
 */
export interface DeadLetterStore {
  /** Newest first. `owner` matches kind, namespace and name (and resource when given). */
  list(owner?: Partial<DeadLetterOwner>, filter?: DeadLetterFilter): MaybePromise<DeadLetterEntry[]>;
  get(entryId: string): MaybePromise<DeadLetterEntry | undefined>;
  /**
   * Records a redrive of the entry. With `expect`, only when the entry's current mark is
   * exactly that (undefined: never redriven): returns false when another redrive got
   * there first, so one entry is never sent twice by concurrent requests.
   */
  markRedriven(entryId: string, mark: RedriveMark, expect?: { current: RedriveMark | undefined }): MaybePromise<boolean>;
}

export function matchesOwner(entry: DeadLetterOwner, owner: Partial<DeadLetterOwner> | undefined): boolean {
  if (!owner) return true;
  return (
    (owner.kind === undefined || owner.kind === entry.kind) &&
    (owner.namespace === undefined || owner.namespace === entry.namespace) &&
    (owner.name === undefined || owner.name === entry.name) &&
    (owner.resource === undefined || owner.resource === entry.resource)
  );
}

export function matchesFilter(entry: DeadLetterEntry, filter: DeadLetterFilter | undefined): boolean {
  if (!filter) return true;
  const a = entry.event.attributes;
  return (
    (filter.id === undefined || a.id === filter.id) &&
    (filter.type === undefined || a.type === filter.type) &&
    (filter.source === undefined || a.source === filter.source) &&
    (filter.subject === undefined || a.subject === filter.subject) &&
    (filter.code === undefined || a.knativeerrorcode === filter.code) &&
    (filter.pending === undefined || filter.pending === (entry.redriven === undefined))
  );
}
