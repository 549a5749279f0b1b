import type { SluiceEvent } from './types.js';

/**
 * Per-event bookkeeping that a held event costs besides its data and attribute strings
 * (the object, its arrays and queue slots), so that a flood of empty events is bounded
 * by bytes too, not only by count.
 */
const OVERHEAD_BYTES = 256;

/**
 * What holding `event` in memory costs, roughly: its data bytes, its attribute names and
 * values (UTF-16 in V8, so two bytes a character) and a fixed overhead. An estimate that
 * errs on the high side: byte bounds exist to keep RSS predictable, not to be exact.
 */
export function eventBytes(event: SluiceEvent): number {
  let n = OVERHEAD_BYTES + (event.data?.length ?? 0);
  const a = event.attributes;
  for (const k in a) n += 2 * (k.length + (a[k]?.length ?? 0));
  return n;
}
