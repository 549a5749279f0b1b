import type { SluiceEvent } from '../../events/types.js';
import type {
  Channel,
  ChannelBuildContext,
  ChannelFactory,
  ChannelStats,
  ChannelSubscription,
  DeliveryResult,
  SubscriptionStats,
} from '../channel.js';
import { ChannelFullError, InvalidOptionError, UnavailableError } from '../../errors.js';

export const DEFAULT_MEMORY_CAPACITY = 10_000;

/** One accepted event, shared by the subscriptions that still have to finish it. */
interface Held {
  readonly event: SluiceEvent;
  remaining: number;
}

interface Pending {
  readonly held: Held;
  attempt: number;
}

/** Per-subscription state: its own queue, so one slow subscriber never delays another. */
class SubscriptionState {
  queue: Pending[] = [];
  head = 0;
  inFlight = 0;
  /** Events waiting for their retry delay, by timer. */
  retryTimers = new Map<NodeJS.Timeout, Pending>();
  active = true;
  constructor(public spec: ChannelSubscription) {}

  get queued(): number {
    return this.queue.length - this.head;
  }
  get backlog(): number {
    return this.queued + this.inFlight + this.retryTimers.size;
  }
  shift(): Pending | undefined {
    if (this.head >= this.queue.length) return undefined;
    const p = this.queue[this.head++];
    // Compact now and then instead of Array#shift (O(n) per call on long queues).
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return p;
  }
}

/**
 * The embedded default channel: bounded, best effort, in process. Every accepted event
 * is held until every subscription has finished it (delivered, dead-lettered or dropped
 * by the dispatcher); `capacity` bounds the events held, and publish answers 429 beyond.
 * Nothing survives a crash: that is what the durable backends are for.
 */
export class MemoryChannel implements Channel {
  readonly kind = 'InMemoryChannel';
  readonly capacity: number;
  #subs = new Map<string, SubscriptionState>();
  #held = 0;
  #closed = false;
  #drainWaiters: Array<() => void> = [];

  constructor(options: { capacity?: number } = {}) {
    const capacity = options.capacity ?? DEFAULT_MEMORY_CAPACITY;
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new InvalidOptionError(`InMemoryChannel capacity must be a positive integer, got ${String(capacity)}`);
    }
    this.capacity = capacity;
  }

  ready(): boolean {
    return !this.#closed;
  }

  async publish(event: SluiceEvent): Promise<void> {
    this.#accept([event]);
  }

  async publishBatch(events: readonly SluiceEvent[]): Promise<void> {
    this.#accept(events);
  }

  /** All-or-nothing: a batch that does not fit is refused whole, so a 429 never half-accepts. */
  #accept(events: readonly SluiceEvent[]): void {
    if (this.#closed) throw new UnavailableError('channel is shutting down');
    if (this.#held + events.length > this.capacity) {
      throw new ChannelFullError(`channel buffer is full (${this.#held} of ${this.capacity} events held)`);
    }
    const subs = [...this.#subs.values()];
    if (subs.length === 0) return; // Knative's in-memory channel accepts and drops when nobody subscribes.
    for (const event of events) {
      const held: Held = { event, remaining: subs.length };
      this.#held++;
      for (const s of subs) s.queue.push({ held, attempt: 1 });
    }
    for (const s of subs) this.#pump(s);
  }

  async subscribe(spec: ChannelSubscription): Promise<void> {
    if (!Number.isInteger(spec.maxInFlight) || spec.maxInFlight < 1) {
      throw new InvalidOptionError(`subscription ${spec.id}: maxInFlight must be a positive integer`);
    }
    const existing = this.#subs.get(spec.id);
    if (existing) {
      // Same id: new handler/limits, same backlog, so updating a subscription loses nothing.
      existing.spec = spec;
      this.#pump(existing);
      return;
    }
    this.#subs.set(spec.id, new SubscriptionState(spec));
  }

  async unsubscribe(id: string): Promise<void> {
    const s = this.#subs.get(id);
    if (!s) return;
    this.#subs.delete(id);
    s.active = false;
    // Queued and retry-waiting events are released here; in-flight ones when they return.
    for (const [t, p] of s.retryTimers) {
      clearTimeout(t);
      this.#finish(p.held);
    }
    s.retryTimers.clear();
    for (let i = s.head; i < s.queue.length; i++) this.#finish(s.queue[i]!.held);
    s.queue = [];
    s.head = 0;
  }

  stats(): ChannelStats {
    const subscriptions: Record<string, SubscriptionStats> = {};
    for (const [id, s] of this.#subs) subscriptions[id] = { backlog: s.backlog, inFlight: s.inFlight };
    return { depth: this.#held, capacity: this.capacity, subscriptions };
  }

  async close(options: { deadline?: number } = {}): Promise<void> {
    this.#closed = true;
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
    for (const id of [...this.#subs.keys()]) await this.unsubscribe(id);
  }

  #pump(s: SubscriptionState): void {
    while (s.active && s.inFlight < s.spec.maxInFlight) {
      const p = s.shift();
      if (!p) return;
      s.inFlight++;
      void this.#deliver(s, p);
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
    if (!s.active) {
      this.#finish(p.held);
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
      this.#finish(p.held);
    }
    this.#pump(s);
  }

  #finish(held: Held): void {
    if (--held.remaining === 0) this.#release();
  }

  #release(): void {
    this.#held--;
    if (this.#held === 0 && this.#drainWaiters.length) {
      for (const w of this.#drainWaiters.splice(0)) w();
    }
  }
}

/** Factory registered for kind InMemoryChannel; `spec.capacity` overrides the flag default. */
export function createMemoryChannelFactory(options: { defaultCapacity?: number } = {}): ChannelFactory {
  return (ctx: ChannelBuildContext) => {
    const cap = ctx.spec.capacity;
    return new MemoryChannel({ capacity: typeof cap === 'number' ? cap : options.defaultCapacity });
  };
}
