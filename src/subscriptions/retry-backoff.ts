// Capped exponential backoff for Sluice's own retry loops (reconnects, restarts,
// registrations); a subscription's delivery backoff follows Knative's rules in backoff.ts.

export interface RetryBackoff {
  /** Wait before the first retry. */
  readonly initialMs: number;
  /** Longest wait (none by default). */
  readonly maxMs?: number;
  /** 'full': uniform in [0, d); 'equal': d/2 plus uniform in [0, d/2); none by default (replicas retry in step). */
  readonly jitter?: 'full' | 'equal';
  /** Uniform in [0, 1); Math.random by default. */
  readonly random?: () => number;
}

/** The wait before retry `attempt` (0 for the first): `initialMs` doubled per attempt, capped at `maxMs`, then jittered. */
export function nextBackoffMs(attempt: number, b: RetryBackoff): number {
  const d = Math.min(b.initialMs * 2 ** Math.min(Math.max(attempt, 0), 64), b.maxMs ?? Infinity);
  if (b.jitter === undefined) return d;
  const r = (b.random ?? Math.random)();
  return Math.round(b.jitter === 'full' ? d * r : d / 2 + (d / 2) * r);
}
