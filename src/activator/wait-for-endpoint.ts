import type { Endpoint, Scaler } from './scaler.js';

/**
 * Resolves with the first ready endpoint of `scaler`, re-checking each time the scaler
 * calls the waiters in `waiters` (its change notifications); rejects when `signal` aborts.
 */
export function waitForEndpoint(scaler: Pick<Scaler, 'endpoints'>, waiters: Set<() => void>, signal?: AbortSignal): Promise<Endpoint> {
  const now = scaler.endpoints()[0];
  if (now) return Promise.resolve(now);
  return new Promise<Endpoint>((resolve, reject) => {
    const check = () => {
      const ep = scaler.endpoints()[0];
      if (!ep) return;
      cleanup();
      resolve(ep);
    };
    const onAbort = () => {
      cleanup();
      reject(signal?.reason ?? new Error('aborted'));
    };
    const cleanup = () => {
      waiters.delete(check);
      signal?.removeEventListener('abort', onAbort);
    };
    if (signal?.aborted) return onAbort();
    waiters.add(check);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
