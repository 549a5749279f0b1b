// Shared set-up for the sources' end-to-end tests (not a test file itself).
import assert from 'node:assert/strict';
import { parseResourcesText } from '../../src/resources/index.js';
import type { Condition, ResourceStatus } from '../../src/resources/types.js';
import { createSluiceKinds } from '../../src/kinds.js';
import type { startSluice } from '../helpers/sluice.js';

export type Sluice = Awaited<ReturnType<typeof startSluice>>;

export const secretYaml = (name: string, data: Record<string, string>): string => `---
apiVersion: v1
kind: Secret
metadata: {name: ${name}}
stringData:
${Object.entries(data)
  .map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`)
  .join('\n')}
`;

/** An InMemoryChannel and a Subscription from it to `subscriber`. */
export const channelAndSubscription = (channel: string, subscriber: string): string => `---
apiVersion: messaging.knative.dev/v1
kind: InMemoryChannel
metadata: {name: ${channel}}
---
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata: {name: ${channel}-to-sink}
spec:
  channel: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: ${channel}}
  subscriber: {uri: "${subscriber}"}
`;

export const toChannel = (name: string): string => `{ref: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: ${name}}}`;

/** The status the admin API shows for a resource. */
export function statusOf(s: Sluice, kind: string, name: string): ResourceStatus {
  const r = s.runtime.listResources().find((v) => v.kind === kind && v.metadata.name === name);
  assert.ok(r, `${kind} ${name} is listed`);
  return r.status as ResourceStatus;
}

export function readyOf(s: Sluice, kind: string, name: string): Condition | undefined {
  return statusOf(s, kind, name).conditions.find((c) => c.type === 'Ready');
}

/** Applies more YAML to a running Sluice, as `sluice apply` would. */
export async function apply(s: Sluice, yaml: string): Promise<void> {
  const loaded = parseResourcesText(yaml, 'apply.yaml', { registry: createSluiceKinds() });
  assert.deepEqual(loaded.errors.map((e) => e.message), []);
  await s.runtime.apply(loaded.resources, loaded.secrets);
}
