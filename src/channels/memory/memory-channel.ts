import type { SluiceEvent } from '../../events/types.js';
import type {
  Channel,
  ChannelBuildContext,
  ChannelFactory,
  ChannelStats,
  ChannelSubscription,
  DeliveryResult,
  ShedReason,
  SubscriptionStats,
} from '../channel.js';
import { ChannelFullError, InvalidOptionError, PayloadTooLargeError, UnavailableError } from '../../errors.js';
import { BufferBudget } from './buffer-budget.js';
import { eventBytes } from '../../events/event-bytes.js';

export const DEFAULT_MEMORY_CAPACITY = 10_000;
export const DEFAULT_MEMORY_CAPACITY_BYTES = 64 * 1024 * 1024;
/**
 * A subscription may have at most this share of the channel's bounds in flight: in-flight
 * events cannot be shed, so a hung subscriber must never hold the whole channel.
 */
const IN_FLIGHT_SHARE = 4;
/**
 * Pacing: a publish is answered at once while some subscription that is keeping up has
 * at most this many events waiting (not yet in flight). When every such subscription
 * has more, the answer waits for a delivery to finish, at most PACE_MAX_WAIT_MS: the
 * event is stored already, only the 202 is held. A producer that sends its next event
 * when the last is answered (SDK emitters, load generators, keep-alive clients) then
 * runs at the speed of delivery instead of filling the buffer, which would only add
 * queueing delay to every event (a buffer that is always full is latency, not
 * throughput). Bursts of open-loop producers still fill the buffer as before.
 */
const PACE_LEAD = 16;
const PACE_MAX_WAIT_MS = 1000;

/** One accepted event, shared by the subscriptions that still have to finish it. */
interface Held {
  readonly event: SluiceEvent;
  readonly bytes: number;
  remaining: number;
}

/** A publish whose answer pacing holds: answered by a delivery, or at `until` (performance.now()). */
interface PacedAnswer {
  readonly release: () => void;
  readonly until: number;
}

interface Pending {
  readonly held: Held;
  attempt: number;
}

/** Per-subscription state: its own queue, so one slow subscriber never delays another. */
class SubscriptionState {
  /** Waiting events from `head` on; the slots before it are emptied as they are taken. */
  queue: Array<Pending | undefined> = [];
  head = 0;
  inFlight = 0;
  inFlightBytes = 0;
  /** Bytes of every event this subscription has not finished (queued, in flight, waiting to retry). */
  bytes = 0;
  /** Events waiting for their retry delay, by timer (insertion order: oldest first). */
  retryTimers = new Map<NodeJS.Timeout, Pending>();
  active = true;
  /** When this subscription last finished an attempt (performance.now()); pacing follows only subscriptions that make progress. */
  lastDone = -Infinity;
  /** Set by close(): what is still unfinished when the deadline passes is a shutdown loss. */
  shuttingDown = false;
  constructor(public spec: ChannelSubscription) {}

  get queued(): number {
    return this.queue.length - this.head;
  }
  get backlog(): number {
    return this.queued + this.inFlight + this.retryTimers.size;
  }
  peek(): Pending | undefined {
    return this.head < this.queue.length ? this.queue[this.head] : undefined;
  }
  shift(): Pending | undefined {
    const q = this.queue;
    if (this.head >= q.length) return undefined;
    const p = q[this.head];
    // Empty the slot: a taken event left reachable from the queue until the next
    // compaction (up to a thousand of them) outlived young-generation collections and
    // was copied and promoted with every scavenge under load, though already delivered.
    q[this.head++] = undefined;
    if (this.head === q.length) {
      // Drained, as a subscription that keeps up is most of the time: start over in place.
      q.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > q.length) {
      // Compact now and then instead of Array#shift (O(n) per call on long queues).
      this.queue = q.slice(this.head);
      this.head = 0;
    }
    return p;
  }
  /** The oldest event that is waiting (queued, or waiting for a retry), removed from the subscription. */
  takeOldestWaiting(): Pending | undefined {
    const queued = this.shift();
    if (queued) return queued;
    for (const [t, p] of this.retryTimers) {
      clearTimeout(t);
      this.retryTimers.delete(t);
      return p;
    }
    return undefined;
  }
}

export interface MemoryChannelOptions {
  /** Events held before publish answers 429 (default 10,000). */
  capacity?: number;
  /** Bytes held before publish answers 429 (default 64 MiB); see eventBytes for what counts. */
  capacityBytes?: number;
  /** The process-wide byte budget shared with the other in-memory channels (`--max-buffered-bytes`). */
  budget?: BufferBudget;
}

/**
 * The embedded default channel: bounded, best effort, in process. Every accepted event
 * is held until every subscription has finished it (delivered, dead-lettered or dropped
 * by the dispatcher). The channel is bounded by events and by bytes, and so is the
 * process (a BufferBudget shared by all in-memory channels).
 *
 * Isolation: each subscription has its own queue and may fall behind up to the
 * channel's bounds. When the channel is full, the subscription that is furthest behind
 * (more bytes unfinished than the others) gives up its oldest waiting events, handed to
 * its `onShed` (the dispatcher dead-letters them, or logs and counts the loss), so that
 * the others keep receiving new events. Publish answers 429 only when no subscription is
 * further behind than the rest: then every subscriber is slow, and backpressure on the
 * producer is the honest answer. A batch that could never fit answers 413.
 *
 * Nothing survives a crash: that is what the durable backends are for.
 */
export class MemoryChannel implements Channel {
  readonly kind = 'InMemoryChannel';
  readonly capacity: number;
  readonly capacityBytes: number;
  readonly #budget: BufferBudget;
  readonly #inFlightMax: number;
  /** Events a keeping-up subscription may have waiting before producers are paced. */
  readonly #paceLead: number;
  readonly #inFlightBytesMax: number;
  #subs = new Map<string, SubscriptionState>();
  /** #subs as an array, and whether any has a filter: rebuilt when subscriptions change, not per publish. */
  #subList: SubscriptionState[] = [];
  #anyFilter = false;
  #held = 0;
  #heldBytes = 0;
  #closed = false;
  #drainWaiters: Array<() => void> = [];
  /** Publishes whose answer is held by pacing, oldest first. */
  #paced: PacedAnswer[] = [];
  /**
   * One timer for every held answer, due when the oldest waited PACE_MAX_WAIT_MS: a
   * timer per paced publish (most publishes, under load) was a timer-list insert and a
   * cancel per event. Entries released early are simply gone when it fires.
   */
  #paceTimer: NodeJS.Timeout | undefined;
  readonly #onPaceTimer = (): void => this.#expirePaced();
  /** Answers owed to held producers, in events: see #releasePaced. */
  #credit = 0;

  constructor(options: MemoryChannelOptions = {}) {
    const capacity = options.capacity ?? DEFAULT_MEMORY_CAPACITY;
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new InvalidOptionError(`InMemoryChannel capacity must be a positive integer, got ${String(capacity)}`);
    }
    const capacityBytes = options.capacityBytes ?? DEFAULT_MEMORY_CAPACITY_BYTES;
    if (!Number.isSafeInteger(capacityBytes) || capacityBytes < 1) {
      throw new InvalidOptionError(`InMemoryChannel capacityBytes must be a positive integer, got ${String(capacityBytes)}`);
    }
    this.capacity = capacity;
    this.capacityBytes = capacityBytes;
    // A private budget as large as the channel when none is shared: only the channel's own bounds apply.
    this.#budget = options.budget ?? new BufferBudget(capacityBytes);
    this.#inFlightMax = Math.max(1, Math.floor(capacity / IN_FLIGHT_SHARE));
    // A small channel paces sooner: a keeping-up subscription's in-flight share plus its
    // lead must stay within the capacity, or a producer that waits for each answer would
    // still fill the channel (and get 429) whenever delivery is a little slower than it.
    this.#paceLead = Math.min(PACE_LEAD, this.#inFlightMax);
    this.#inFlightBytesMax = Math.max(1, Math.floor(capacityBytes / IN_FLIGHT_SHARE));
  }

  ready(): boolean {
    return !this.#closed;
  }

  async publish(event: SluiceEvent): Promise<void> {
    this.#accept([event]);
    if (this.#shouldPace()) await this.#pace();
  }

  async publishBatch(events: readonly SluiceEvent[]): Promise<void> {
    this.#accept(events);
    if (this.#shouldPace()) await this.#pace();
  }

  /**
   * True when every subscription that is delivering and making progress (finished an
   * attempt within PACE_MAX_WAIT_MS) has more than its lead (PACE_LEAD, less in a small channel) waiting. Idle
   * subscriptions (a Trigger whose filter matches nothing) and stuck ones (a subscriber
   * that does not answer) do not hold producers back: the stuck one falls behind and is
   * shed from as before.
   */
  #shouldPace(): boolean {
    return this.#pacingCount() > 0;
  }

  /** How many subscriptions pace producers now: 0 when pacing does not apply. */
  #pacingCount(): number {
    const subs = this.#subList;
    let now = 0;
    let pacing = 0;
    for (let i = 0; i < subs.length; i++) {
      const s = subs[i]!;
      if (s.inFlight === 0 && s.head >= s.queue.length) continue;
      if (now === 0) now = performance.now();
      if (now - s.lastDone > PACE_MAX_WAIT_MS) continue;
      if (s.queue.length - s.head <= this.#paceLead) return 0;
      pacing++;
    }
    return pacing;
  }

  #pace(): Promise<void> {
    return new Promise<void>((release) => {
      this.#paced.push({ release, until: performance.now() + PACE_MAX_WAIT_MS });
      this.#paceTimer ??= setTimeout(this.#onPaceTimer, PACE_MAX_WAIT_MS);
    });
  }

  /** Answers the held publishes that waited PACE_MAX_WAIT_MS, and waits for the next oldest. */
  #expirePaced(): void {
    this.#paceTimer = undefined;
    const paced = this.#paced;
    const now = performance.now();
    let n = 0;
    while (n < paced.length && paced[n]!.until <= now) n++;
    for (const p of paced.splice(0, n)) p.release();
    // Same-length waits: the front entry is the next one due.
    if (paced.length) this.#paceTimer = setTimeout(this.#onPaceTimer, Math.max(1, paced[0]!.until - now));
  }

  /** Answers every held publish (pacing no longer applies, or the channel closes). */
  #releaseAllPaced(): void {
    for (const p of this.#paced.splice(0)) p.release();
    this.#stopPaceTimer();
  }

  /** Nothing held: no timer to keep the process awake for. */
  #stopPaceTimer(): void {
    if (this.#paceTimer === undefined) return;
    clearTimeout(this.#paceTimer);
    this.#paceTimer = undefined;
  }

  /**
   * While pacing still applies, one held answer per event the subscriptions that pace
   * deliver (an attempt of one of n such subscriptions is worth 1/n of an answer); all of
   * them once pacing does not apply. One answer per attempt of any subscription let a
   * producer run n times faster than each of n subscribers: with ten subscriptions their
   * queues grew without end (seconds of delay, then a full channel and 429s).
   */
  #releasePaced(): void {
    const n = this.#closed ? 0 : this.#pacingCount();
    if (n === 0) {
      this.#credit = 0;
      this.#releaseAllPaced();
      return;
    }
    this.#credit += 1 / n;
    if (this.#credit < 1 - 1e-9) return;
    this.#credit = Math.max(0, this.#credit - 1);
    this.#paced.shift()?.release();
    if (this.#paced.length === 0) this.#stopPaceTimer();
  }

  /** All-or-nothing: a batch that does not fit is refused whole, so a 429 never half-accepts. */
  #accept(events: readonly SluiceEvent[]): void {
    if (this.#closed) throw new UnavailableError('channel is shutting down');
    // One event is the common case (binary and structured mode): no arrays for it.
    const sizes = events.length === 1 ? [eventBytes(events[0]!)] : events.map(eventBytes);
    let total = 0;
    for (const b of sizes) total += b;
    if (events.length > this.capacity || total > this.capacityBytes) {
      // Retrying cannot help: say so (413) instead of a 429 the client would retry forever.
      throw new PayloadTooLargeError(
        `${events.length === 1 ? 'the event' : `a batch of ${events.length} events`} (${total} bytes held in memory) is larger than this channel can ever hold ` +
          `(capacity ${this.capacity} events, capacityBytes ${this.capacityBytes}); send smaller batches or raise the channel's capacity`,
      );
    }
    const subs = this.#subList;
    if (subs.length === 0) return; // Knative's in-memory channel accepts and drops when nobody subscribes.
    // Which subscriptions want each event (a Trigger's filter keeps the others out of its queue).
    const wanted: SubscriptionState[][] = [];
    let count = 0;
    let bytes = 0;
    const filtered = this.#anyFilter;
    for (let i = 0; i < events.length; i++) {
      const w = filtered ? subs.filter((s) => wants(s, events[i]!)) : subs;
      wanted.push(w);
      if (w.length) {
        count++;
        bytes += sizes[i]!;
      }
    }
    if (count === 0) return;
    if (!this.#budget.tryReserve(bytes)) {
      throw new ChannelFullError(
        `sluice's in-memory buffers are full (${this.#budget.usedBytes} of ${this.#budget.maxBytes} bytes held across channels, --max-buffered-bytes)`,
      );
    }
    while (this.#held + count > this.capacity || this.#heldBytes + bytes > this.capacityBytes) {
      if (!this.#shedFromLaggard()) {
        this.#budget.release(bytes);
        throw new ChannelFullError(
          `channel buffer is full (${this.#held} of ${this.capacity} events, ${this.#heldBytes} of ${this.capacityBytes} bytes held; every subscription is behind)`,
        );
      }
    }
    for (let i = 0; i < events.length; i++) {
      const w = wanted[i]!;
      if (!w.length) continue;
      const held: Held = { event: events[i]!, bytes: sizes[i]!, remaining: w.length };
      this.#held++;
      this.#heldBytes += held.bytes;
      for (const s of w) {
        s.queue.push({ held, attempt: 1 });
        s.bytes += held.bytes;
      }
    }
    for (const s of subs) this.#pump(s);
  }

  /**
   * Makes room by shedding the oldest waiting event of the subscription furthest behind,
   * if one is further behind than the least-behind subscription. False when no one is.
   */
  #shedFromLaggard(): boolean {
    if (this.#subs.size < 2) return false;
    let laggard: SubscriptionState | undefined;
    let least = Infinity;
    for (const s of this.#subs.values()) {
      least = Math.min(least, s.bytes);
      if ((s.queued > 0 || s.retryTimers.size > 0) && (!laggard || s.bytes > laggard.bytes)) laggard = s;
    }
    if (!laggard || laggard.bytes <= least) return false;
    const p = laggard.takeOldestWaiting();
    if (!p) return false;
    this.#shed(laggard, p, 'overflow');
    return true;
  }

  async subscribe(spec: ChannelSubscription): Promise<void> {
    if (!Number.isInteger(spec.maxInFlight) || spec.maxInFlight < 1) {
      throw new InvalidOptionError(`subscription ${spec.id}: maxInFlight must be a positive integer`);
    }
    const existing = this.#subs.get(spec.id);
    if (existing) {
      // Same id: new handler/limits, same backlog, so updating a subscription loses nothing.
      existing.spec = spec;
      this.#listChanged();
      this.#pump(existing);
      return;
    }
    this.#subs.set(spec.id, new SubscriptionState(spec));
    this.#listChanged();
  }

  #listChanged(): void {
    this.#subList = [...this.#subs.values()];
    this.#anyFilter = this.#subList.some((s) => s.spec.accepts !== undefined);
  }

  async unsubscribe(id: string): Promise<void> {
    const s = this.#subs.get(id);
    if (!s) return;
    this.#subs.delete(id);
    this.#listChanged();
    s.active = false;
    // Queued and retry-waiting events are released here; in-flight ones when they return.
    // A deleted subscription's backlog goes with it (as in Knative); a closing channel's
    // is reported as a shutdown loss.
    const reason: ShedReason | undefined = s.shuttingDown ? 'shutdown' : undefined;
    for (let p = s.takeOldestWaiting(); p; p = s.takeOldestWaiting()) this.#shed(s, p, reason);
    s.queue = [];
    s.head = 0;
    if (this.#paced.length) this.#releasePaced();
  }

  stats(): ChannelStats {
    const subscriptions: Record<string, SubscriptionStats> = {};
    for (const [id, s] of this.#subs) subscriptions[id] = { backlog: s.backlog, inFlight: s.inFlight };
    return { depth: this.#held, capacity: this.capacity, bytes: this.#heldBytes, capacityBytes: this.capacityBytes, subscriptions };
  }

  async close(options: { deadline?: number } = {}): Promise<void> {
    this.#closed = true;
    this.#releaseAllPaced();
    if (this.#held > 0) {
      const deadline = options.deadline ?? Date.now();
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(0, deadline - Date.now()));
        this.#drainWaiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    for (const s of this.#subs.values()) s.shuttingDown = true;
    for (const id of [...this.#subs.keys()]) await this.unsubscribe(id);
  }

  #pump(s: SubscriptionState): void {
    while (s.active && s.inFlight < s.spec.maxInFlight && s.inFlight < this.#inFlightMax) {
      const next = s.peek();
      if (!next) return;
      // At least one in flight whatever its size, so a large event cannot stall its subscription.
      if (s.inFlight > 0 && s.inFlightBytes + next.held.bytes > this.#inFlightBytesMax) return;
      s.shift();
      s.inFlight++;
      s.inFlightBytes += next.held.bytes;
      void this.#deliver(s, next);
    }
  }

  async #deliver(s: SubscriptionState, p: Pending): Promise<void> {
    let result: DeliveryResult;
    try {
      result = await s.spec.handler(p.held.event, { attempt: p.attempt });
    } catch {
      // The dispatcher's handler does not throw; a handler that does is treated as a
      // failed attempt so the event is not lost.
      result = { outcome: 'retry', delayMs: 1000 };
    }
    s.inFlight--;
    s.inFlightBytes -= p.held.bytes;
    s.lastDone = performance.now();
    if (!s.active) {
      // Unfinished when its subscription went away: a loss only when the channel is closing.
      this.#shed(s, p, result.outcome === 'retry' && s.shuttingDown ? 'shutdown' : undefined);
      return;
    }
    if (result.outcome === 'retry') {
      p.attempt++;
      const t = setTimeout(() => {
        s.retryTimers.delete(t);
        s.queue.push(p);
        this.#pump(s);
      }, Math.max(0, result.delayMs));
      s.retryTimers.set(t, p);
    } else {
      this.#finish(s, p.held);
    }
    this.#pump(s);
    if (this.#paced.length) this.#releasePaced();
  }

  /** Gives `p` up for `s`, telling its onShed why (no reason: a deliberate discard, not a loss). */
  #shed(s: SubscriptionState, p: Pending, reason: ShedReason | undefined): void {
    if (reason && s.spec.onShed) {
      try {
        s.spec.onShed(p.held.event, reason);
      } catch {
        // onShed must not throw; the event is released whatever it did.
      }
    }
    this.#finish(s, p.held);
  }

  #finish(s: SubscriptionState, held: Held): void {
    s.bytes -= held.bytes;
    if (--held.remaining === 0) this.#release(held);
  }

  #release(held: Held): void {
    this.#held--;
    this.#heldBytes -= held.bytes;
    this.#budget.release(held.bytes);
    if (this.#held === 0 && this.#drainWaiters.length) {
      for (const w of this.#drainWaiters.splice(0)) w();
    }
  }
}

function wants(s: SubscriptionState, event: SluiceEvent): boolean {
  const accepts = s.spec.accepts;
  if (!accepts) return true;
  try {
    return accepts(event);
  } catch {
    // A filter that fails here is left to the handler, which reports it.
    return true;
  }
}

export interface MemoryChannelFactoryOptions {
  /** `--channel-capacity`: events a channel holds when its spec sets no `capacity`. */
  defaultCapacity?: number | undefined;
  /** Bytes a channel holds when its spec sets no `capacityBytes`. */
  defaultCapacityBytes?: number | undefined;
  /** The process-wide byte budget every channel of this factory shares. */
  budget?: BufferBudget | undefined;
}

/** Factory registered for kind InMemoryChannel; `spec.capacity`/`spec.capacityBytes` override the defaults. */
export function createMemoryChannelFactory(options: MemoryChannelFactoryOptions = {}): ChannelFactory {
  return (ctx: ChannelBuildContext) => {
    const cap = ctx.spec.capacity;
    const bytes = ctx.spec.capacityBytes;
    return new MemoryChannel({
      capacity: typeof cap === 'number' ? cap : options.defaultCapacity,
      capacityBytes: typeof bytes === 'number' ? bytes : options.defaultCapacityBytes,
      ...(options.budget ? { budget: options.budget } : {}),
    });
  };
}
