import { DeliveryTimeoutError } from '../errors.js';
import { AttemptAbort } from './post-handler.js';

/** The longest delay node's setTimeout takes as given (2^31 - 1 ms, about 24.8 days). */
export const TIMER_MAX_MS = 2 ** 31 - 1;

/** Why an attempt was aborted at its deadline. */
export function attemptTimedOut(url: string, timeoutMs: number): DeliveryTimeoutError {
  return new DeliveryTimeoutError(`no complete response from ${url} within ${timeoutMs} ms`);
}

/** One attempt's abort source, armed with its deadline from its start until `finish()` (always called, once the attempt settles). */
export interface StartedAttempt extends AttemptAbort {
  finish(): void;
}

/**
 * An attempt the dispatcher has in flight, linked into the list of attempts with the
 * same timeout. The links are fields of the attempt itself and are cleared when it
 * leaves the list: no node object per attempt, and nothing finished stays linked to
 * what is still in flight (see AttemptAbort on why stale links cost GC time).
 */
class TrackedAttempt extends AttemptAbort implements StartedAttempt {
  prev: TrackedAttempt | undefined = undefined;
  next: TrackedAttempt | undefined = undefined;
  list: DeadlineList | undefined = undefined;

  constructor(
    private readonly owner: InFlightAttempts,
    readonly url: string,
    readonly timeoutMs: number,
    readonly deadline: number,
  ) {
    super();
  }

  finish(): void {
    if (this.list) this.owner.untrack(this);
  }

  timeOut(): void {
    this.abort(attemptTimedOut(this.url, this.timeoutMs));
  }
}

/** Attempts with one timeout, oldest first: started in order with the same timeout, so also in deadline order. */
class DeadlineList {
  head: TrackedAttempt | undefined = undefined;
  tail: TrackedAttempt | undefined = undefined;
  size = 0;

  constructor(readonly timeoutMs: number) {}

  push(a: TrackedAttempt): void {
    a.list = this;
    a.prev = this.tail;
    if (this.tail) this.tail.next = a;
    else this.head = a;
    this.tail = a;
    this.size++;
  }

  remove(a: TrackedAttempt): void {
    if (a.prev) a.prev.next = a.next;
    else this.head = a.next;
    if (a.next) a.next.prev = a.prev;
    else this.tail = a.prev;
    a.prev = a.next = a.list = undefined;
    this.size--;
  }
}

/**
 * The attempts a dispatcher has in flight: each aborted at its deadline (a
 * DeliveryTimeoutError) or by the dispatcher's close() (abortAll), whichever comes
 * first. One timer for all of them, armed for the earliest deadline, instead of a node
 * timer per attempt (created, inserted and cleared for every delivery: about 1 µs per
 * event in the channel benchmark's profile) and a Set entry plus a closure per attempt
 * for close(). When the attempt the timer was armed for finishes first, the timer fires
 * anyway, finds nothing due and re-arms for the next deadline: under load, about one
 * wake-up per timeout period.
 */
export class InFlightAttempts {
  /** By timeout in ms; a list is dropped when it empties, so the map holds only what is in flight. */
  readonly #lists = new Map<number, DeadlineList>();
  #count = 0;
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Infinity;
  #reason: unknown = undefined;
  #aborted = false;
  readonly #onTimer = (): void => this.#sweep();

  get aborted(): boolean {
    return this.#aborted;
  }

  /** Attempts in flight now. */
  get size(): number {
    return this.#count;
  }

  /** Starts one attempt, to `url` (named in its timeout error) with `timeoutMs` to complete. Aborted at once after abortAll(). */
  start(url: string, timeoutMs: number): StartedAttempt {
    const now = performance.now();
    const a = new TrackedAttempt(this, url, timeoutMs, now + timeoutMs);
    if (this.#aborted) {
      a.abort(this.#reason);
      return a;
    }
    let list = this.#lists.get(timeoutMs);
    if (!list) {
      list = new DeadlineList(timeoutMs);
      this.#lists.set(timeoutMs, list);
    }
    list.push(a);
    this.#count++;
    if (a.deadline < this.#timerAt) this.#arm(a.deadline, now);
    return a;
  }

  /** Takes a finished attempt out (TrackedAttempt.finish). */
  untrack(a: TrackedAttempt): void {
    const list = a.list;
    if (!list) return;
    list.remove(a);
    if (list.size === 0) this.#lists.delete(list.timeoutMs);
    // Nothing in flight: no timer keeps the process up.
    if (--this.#count === 0) this.#disarm();
  }

  abortAll(reason: unknown): void {
    this.#aborted = true;
    this.#reason = reason;
    this.#disarm();
    const lists = [...this.#lists.values()];
    this.#lists.clear();
    this.#count = 0;
    for (const list of lists) {
      for (let a = list.head; a; ) {
        const next = a.next;
        list.remove(a);
        a.abort(reason);
        a = next;
      }
    }
  }

  #arm(at: number, now: number): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timerAt = at;
    // Node's clock and performance.now() can differ by a millisecond: #sweep re-arms for
    // what is not due yet. A delivery timeout may be days long (`timeout: P30D`), past
    // node's longest timer, which node would cut to 1 ms: wait the longest, then re-arm.
    this.#timer = setTimeout(this.#onTimer, Math.min(TIMER_MAX_MS, Math.max(1, Math.ceil(at - now))));
  }

  #disarm(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
  }

  #sweep(): void {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    const now = performance.now();
    const due: TrackedAttempt[] = [];
    let next = Infinity;
    for (const list of this.#lists.values()) {
      for (let a = list.head; a && a.deadline <= now; a = list.head) {
        due.push(a);
        this.untrack(a);
      }
      if (list.head && list.head.deadline < next) next = list.head.deadline;
    }
    if (next !== Infinity) this.#arm(next, now);
    // Aborted after the lists are consistent: an abort settles its request, whose follow-up may start another attempt.
    for (const a of due) a.timeOut();
  }
}
