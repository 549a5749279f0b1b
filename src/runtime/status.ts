import type { ResourceStatus } from '../resources/types.js';

// The status builders live with the resources; the runtime adds only the merge rule.
export { isReady, readyStatus } from '../resources/status.js';

/** Keeps `lastTransitionTime` when the Ready condition did not change, so AGE-like columns stay meaningful. */
export function mergeStatus(prev: ResourceStatus | undefined, next: ResourceStatus): ResourceStatus {
  const p = prev?.conditions.find((c) => c.type === 'Ready');
  const n = next.conditions.find((c) => c.type === 'Ready');
  if (p && n && p.status === n.status && p.reason === n.reason && p.message === n.message) n.lastTransitionTime = p.lastTransitionTime;
  return next;
}
