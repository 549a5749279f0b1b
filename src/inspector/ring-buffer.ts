/** Fixed-capacity buffer that overwrites its oldest entry: memory stays bounded however busy Sluice is. */
export class RingBuffer<T> {
  readonly capacity: number;
  readonly #items: Array<T | undefined>;
  #next = 0;
  #size = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.#items = new Array<T | undefined>(capacity);
  }

  get size(): number {
    return this.#size;
  }

  push(item: T): void {
    this.#items[this.#next] = item;
    this.#next = (this.#next + 1) % this.capacity;
    if (this.#size < this.capacity) this.#size++;
  }

  /** Up to `limit` entries accepted by `keep`, newest first. */
  newest(limit: number, keep: (item: T) => boolean = () => true): T[] {
    const out: T[] = [];
    for (let i = 1; i <= this.#size && out.length < limit; i++) {
      const item = this.#items[(this.#next - i + this.capacity) % this.capacity] as T;
      if (keep(item)) out.push(item);
    }
    return out;
  }
}
