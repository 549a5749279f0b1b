/** A replica granted to one request; `release()` once the request is finished (idempotent). */
export interface Lease {
  url: string;
  release(): void;
}

/** One request waiting for a replica. */
export interface Held {
  resolve(lease: Lease): void;
  reject(err: unknown): void;
  since: number;
  /** The caller's abort signal, kept so a rolling update can hand the request on. */
  signal?: AbortSignal;
  timer?: NodeJS.Timeout;
  /** Removes the abort listener. */
  cleanup?: () => void;
}

/**
 * FIFO of held requests with O(1) push/shift and O(1) removal of any entry (timeouts and
 * aborts take entries out of the middle): removed entries are tombstoned and skipped.
 */
export class HeldQueue {
  #items: Array<Held | undefined> = [];
  #head = 0;
  #live = 0;
  readonly #index = new Map<Held, number>();

  get length(): number {
    return this.#live;
  }

  push(h: Held): void {
    this.#index.set(h, this.#items.length);
    this.#items.push(h);
    this.#live++;
  }

  shift(): Held | undefined {
    while (this.#head < this.#items.length) {
      const h = this.#items[this.#head++];
      if (!h) continue;
      this.#index.delete(h);
      this.#live--;
      this.#compact();
      return h;
    }
    return undefined;
  }

  /** Takes `h` out of the queue; false when it already left. */
  remove(h: Held): boolean {
    const i = this.#index.get(h);
    if (i === undefined) return false;
    this.#index.delete(h);
    this.#items[i] = undefined;
    this.#live--;
    this.#compact();
    return true;
  }

  #compact(): void {
    if (this.#live === 0) {
      this.#items = [];
      this.#head = 0;
      this.#index.clear();
      return;
    }
    if (this.#head < 1024 || this.#head * 2 < this.#items.length) return;
    this.#items = this.#items.slice(this.#head);
    this.#head = 0;
    this.#index.clear();
    this.#items.forEach((h, i) => h && this.#index.set(h, i));
  }
}
