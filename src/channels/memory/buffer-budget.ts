import { getHeapStatistics } from 'node:v8';
import { InvalidOptionError } from '../../errors.js';

/**
 * The default process-wide bound on bytes held by in-memory channels: a quarter of V8's
 * heap limit. Event data lives outside the heap (Buffers), but parsing, copies for each
 * hop and the garbage collector's headroom make a buffered byte cost more than one byte
 * of RSS, so a quarter leaves room for everything else the process does.
 */
export function defaultMaxBufferedBytes(): number {
  return Math.floor(getHeapStatistics().heap_size_limit / 4);
}

/**
 * One byte budget shared by every in-memory channel of a process (`--max-buffered-bytes`):
 * a channel reserves what it accepts and releases it when every subscription finished
 * with it. Each channel has its own bound too; this one keeps many channels together
 * from exhausting memory.
 */
export class BufferBudget {
  readonly maxBytes: number;
  #used = 0;

  constructor(maxBytes: number = defaultMaxBufferedBytes()) {
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) throw new InvalidOptionError(`max buffered bytes must be a positive integer, got ${String(maxBytes)}`);
    this.maxBytes = maxBytes;
  }

  get usedBytes(): number {
    return this.#used;
  }

  /** Takes `bytes` from the budget; false (nothing taken) when they do not fit. */
  tryReserve(bytes: number): boolean {
    if (this.#used + bytes > this.maxBytes) return false;
    this.#used += bytes;
    return true;
  }

  release(bytes: number): void {
    this.#used = Math.max(0, this.#used - bytes);
  }
}
