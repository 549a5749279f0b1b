import type { Condition, ResourceStatus } from '../resources/types.js';

/** Builds a status with a single `Ready` condition, Knative style. */
export function readyStatus(ready: boolean, reason: string, message?: string, extra: Record<string, unknown> = {}): ResourceStatus {
  const c: Condition = { type: 'Ready', status: ready ? 'True' : 'False', reason, lastTransitionTime: new Date().toISOString() };
  if (message) c.message = message;
  return { conditions: [c], ...extra };
}

/** Keeps `lastTransitionTime` when the Ready condition did not change, so AGE-like columns stay meaningful. */
export function mergeStatus(prev: ResourceStatus | undefined, next: ResourceStatus): ResourceStatus {
  const p = prev?.conditions.find((c) => c.type === 'Ready');
  const n = next.conditions.find((c) => c.type === 'Ready');
  if (p && n && p.status === n.status && p.reason === n.reason && p.message === n.message) n.lastTransitionTime = p.lastTransitionTime;
  return next;
}

export function isReady(status: ResourceStatus | undefined): boolean {
  return status?.conditions.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}
