/**
 * Remembers the X-GitHub-Delivery ids that were emitted, so that a redelivery (GitHub
 * keeps the id when it, or a user, redelivers) is acknowledged without a second event.
 * Bounded both ways: entries expire after `windowMs`, and the oldest are forgotten past
 * `maxEntries`. Only successful emits are recorded, so a delivery whose emit failed is
 * emitted when GitHub tries again.
 */
export class DeliveryDedup {
  readonly windowMs: number;
  readonly maxEntries: number;
  readonly #now: () => number;
  /** id -> expiry; Map keeps insertion order, which is expiry order since the window is fixed. */
  readonly #seen = new Map<string, number>();
  readonly #inFlight = new Map<string, Promise<void>>();

  constructor(options: { windowMs?: number; maxEntries?: number; now?: () => number } = {}) {
    this.windowMs = options.windowMs ?? 10 * 60_000;
    this.maxEntries = options.maxEntries ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  get size(): number {
    return this.#seen.size;
  }

  has(id: string): boolean {
    this.#prune();
    return this.#seen.has(id);
  }

  /**
   * Runs `emit` unless `id` was emitted within the window ('duplicate'). A concurrent
   * request for the same id waits for the first one: if it succeeded this one is a
   * duplicate, if it failed this one tries again. `emit`'s rejection propagates.
   */
  async once(id: string, emit: () => Promise<void>): Promise<'emitted' | 'duplicate'> {
    for (;;) {
      if (this.has(id)) return 'duplicate';
      const pending = this.#inFlight.get(id);
      if (!pending) break;
      await pending.catch(() => undefined);
    }
    const p = emit();
    this.#inFlight.set(id, p);
    try {
      await p;
      this.#remember(id);
      return 'emitted';
    } finally {
      this.#inFlight.delete(id);
    }
  }

  #remember(id: string): void {
    if (this.windowMs <= 0 || this.maxEntries <= 0) return;
    this.#seen.delete(id);
    this.#seen.set(id, this.#now() + this.windowMs);
    while (this.#seen.size > this.maxEntries) {
      const oldest = this.#seen.keys().next().value as string;
      this.#seen.delete(oldest);
    }
  }

  #prune(): void {
    const now = this.#now();
    for (const [id, expires] of this.#seen) {
      if (expires > now) break;
      this.#seen.delete(id);
    }
  }
}
