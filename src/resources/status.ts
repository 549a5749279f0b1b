import type { Condition, ResourceStatus } from './types.js';

/**
 * A Knative-style status with one `Ready` condition. `extra` adds kind-specific fields
 * (`address`, `physicalSubscription`, `observedGeneration`).
 */
export function readyStatus(ready: boolean, reason: string, message?: string, extra: Record<string, unknown> = {}): ResourceStatus {
  const condition: Condition = { type: 'Ready', status: ready ? 'True' : 'False', reason, lastTransitionTime: new Date().toISOString() };
  if (message) condition.message = message;
  return { ...extra, conditions: [condition] };
}

/** The `Ready` condition of a status, if any. */
export function readyCondition(status: ResourceStatus | undefined): Condition | undefined {
  return status?.conditions.find((c) => c.type === 'Ready');
}

export function isReady(status: ResourceStatus | undefined): boolean {
  return readyCondition(status)?.status === 'True';
}
