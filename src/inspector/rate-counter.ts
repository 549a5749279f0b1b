/** The running count of one channel, broker, subscription or trigger. */
export interface Tally<K> {
  readonly key: K;
  total: number;
  /** Totals at the last `window` samples (a ring shared in position with RateTracker's times). */
  readonly snaps: Float64Array;
  /** Samples taken since `base`/`baseAt` (the tally's creation or the tracker's wake-up). */
  samples: number;
  base: number;
  baseAt: number;
  evicted: boolean;
}

export interface RateTrackerOptions<O extends object, K> {
  /**
   * The id (tallies with the same id are one) and the key of an owner, asked only the
   * first time the owner is counted: one function per tracker, not closures per count.
   */
  describe: (owner: O) => { id: string; key: K };
  /** Seconds the rate averages over (one sample per second). */
  windowSeconds: number;
  /** Epoch milliseconds. */
  clock: () => number;
  /** Sampling period; 0 leaves sampling to the caller (`sample()`), as tests do. */
  sampleMs: number;
  /** Distinct keys kept; past it, the oldest is forgotten. */
  maxKeys?: number;
}

/**
 * Events per second over a sliding window, without reading the clock on the hot path:
 * counting is `total += n` (reading the clock costs ~200 ns on some VMs, more than the
 * rest of the tap). A timer snapshots every total once a second; a rate is the growth
 * since the snapshot a window ago. The timer stops itself after a quiet window and
 * restarts on the next count, so an idle Sluice runs no timer for this.
 */
export class RateTracker<O extends object, K> {
  readonly #tallies = new Map<string, Tally<K>>();
  readonly #byObject = new WeakMap<O, Tally<K>>();
  readonly #describe: (owner: O) => { id: string; key: K };
  readonly #window: number;
  readonly #times: Float64Array;
  readonly #clock: () => number;
  readonly #sampleMs: number;
  readonly #maxKeys: number;
  #pos = 0;
  #active = false;
  #quietSamples = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: RateTrackerOptions<O, K>) {
    this.#describe = options.describe;
    this.#window = options.windowSeconds;
    this.#times = new Float64Array(this.#window);
    this.#clock = options.clock;
    this.#sampleMs = options.sampleMs;
    this.#maxKeys = options.maxKeys ?? 10_000;
  }

  /**
   * Adds `n` to the tally of `owner` (a long-lived object such as an ingress target or a
   * delivery target); it is described only the first time it is seen, so that a replaced
   * owner with the same id continues the same tally.
   */
  add(owner: O, n: number): void {
    let t = this.#byObject.get(owner);
    if (t === undefined || t.evicted) {
      t = this.#tally(owner);
      this.#byObject.set(owner, t);
    }
    if (!this.#active) this.#wake();
    t.total += n;
  }

  /** Takes one snapshot of every total (the timer calls this once per second). */
  sample(): void {
    const now = this.#clock();
    let changed = false;
    for (const t of this.#tallies.values()) {
      const previous = this.#pos === 0 ? t.snaps[this.#window - 1]! : t.snaps[this.#pos - 1]!;
      if (t.samples === 0 || t.total !== previous) changed = true;
      t.snaps[this.#pos] = t.total;
      t.samples++;
    }
    this.#times[this.#pos] = now;
    this.#pos = (this.#pos + 1) % this.#window;
    this.#quietSamples = changed ? 0 : this.#quietSamples + 1;
    // A whole window without a count: every rate is 0 until the next one.
    if (this.#quietSamples > this.#window) this.#sleep();
  }

  *entries(): Generator<{ key: K; perSecond: number; total: number }> {
    const now = this.#clock();
    for (const t of this.#tallies.values()) yield { key: t.key, perSecond: this.#rate(t, now), total: t.total };
  }

  /** Stops the sampling timer (the tracker keeps working; the next count restarts it). */
  close(): void {
    this.#sleep();
  }

  #rate(t: Tally<K>, now: number): number {
    if (!this.#active) return 0;
    if (t.samples >= this.#window) {
      // The oldest snapshot in the ring is the one the next sample overwrites.
      const seconds = (now - this.#times[this.#pos]!) / 1000;
      return seconds > 0 ? (t.total - t.snaps[this.#pos]!) / seconds : 0;
    }
    // Younger than a window: the average since it started, over at least a second.
    return (t.total - t.base) / Math.max(1, (now - t.baseAt) / 1000);
  }

  #tally(owner: O): Tally<K> {
    const { id, key } = this.#describe(owner);
    const existing = this.#tallies.get(id);
    if (existing) return existing;
    if (this.#tallies.size >= this.#maxKeys) {
      const [oldestId, oldest] = this.#tallies.entries().next().value as [string, Tally<K>];
      oldest.evicted = true;
      this.#tallies.delete(oldestId);
    }
    const t: Tally<K> = { key, total: 0, snaps: new Float64Array(this.#window), samples: 0, base: 0, baseAt: this.#clock(), evicted: false };
    this.#tallies.set(id, t);
    return t;
  }

  /** After a quiet spell, rates restart from now: old snapshots would stretch the window. */
  #wake(): void {
    this.#active = true;
    this.#quietSamples = 0;
    const now = this.#clock();
    for (const t of this.#tallies.values()) {
      t.samples = 0;
      t.base = t.total;
      t.baseAt = now;
    }
    if (this.#sampleMs > 0) this.#timer = setInterval(() => this.sample(), this.#sampleMs).unref();
  }

  #sleep(): void {
    this.#active = false;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
