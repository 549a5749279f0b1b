import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ResourceStatus } from '../../src/resources/types.js';
import { startSluice } from '../helpers/sluice.js';

// A flow whose own destinations lead back into it would send every event round for ever:
// it is not wired (Ready False, naming the field) unless annotated sluice.dev/allow-loop.

function ready(s: Awaited<ReturnType<typeof startSluice>>, kind: string, name: string) {
  const r = s.runtime.listResources().find((v) => v.kind === kind && v.metadata.name === name)!;
  return (r.status as ResourceStatus).conditions.find((c) => c.type === 'Ready')!;
}

test('a Sequence or Parallel that sends into itself is not wired; allow-loop wires it anyway', async () => {
  const s = await startSluice(`apiVersion: flows.knative.dev/v1
kind: Sequence
metadata: {name: circle}
spec:
  steps:
    - uri: "http://127.0.0.1:9/"
  reply: {ref: {apiVersion: flows.knative.dev/v1, kind: Sequence, name: circle}}
---
apiVersion: flows.knative.dev/v1
kind: Sequence
metadata: {name: step-self}
spec:
  steps:
    - ref: {apiVersion: flows.knative.dev/v1, kind: Sequence, name: step-self}
---
apiVersion: flows.knative.dev/v1
kind: Sequence
metadata: {name: meant, annotations: {sluice.dev/allow-loop: "true"}}
spec:
  steps:
    - uri: "http://127.0.0.1:9/"
  reply: {ref: {apiVersion: flows.knative.dev/v1, kind: Sequence, name: meant}}
---
apiVersion: flows.knative.dev/v1
kind: Parallel
metadata: {name: fork}
spec:
  branches:
    - subscriber: {uri: "http://127.0.0.1:9/"}
    - subscriber: {ref: {apiVersion: flows.knative.dev/v1, kind: Parallel, name: fork}}
---
apiVersion: flows.knative.dev/v1
kind: Sequence
metadata: {name: fine}
spec:
  steps:
    - uri: "http://127.0.0.1:9/"
  reply: {ref: {apiVersion: flows.knative.dev/v1, kind: Parallel, name: fork}}
`);
  try {
    const circle = ready(s, 'Sequence', 'circle');
    assert.equal(circle.status, 'False');
    assert.equal(circle.reason, 'DestinationIsSequenceItself');
    assert.match(circle.message ?? '', /spec\.reply .* is an address of this Sequence itself.*sluice\.dev\/allow-loop/);
    assert.equal(s.runtime.targets.paths.has('flows/default/sequences/circle'), false, 'not wired');
    assert.match(ready(s, 'Sequence', 'step-self').message ?? '', /spec\.steps\[0\]/);
    const fork = ready(s, 'Parallel', 'fork');
    assert.equal(fork.reason, 'DestinationIsParallelItself');
    assert.match(fork.message ?? '', /spec\.branches\[1\]\.subscriber/);
    assert.equal(ready(s, 'Sequence', 'meant').status, 'True', 'annotated: wired anyway');
    // Another flow as reply is no loop: it waits for that flow's address, not for a loop verdict.
    assert.notEqual(ready(s, 'Sequence', 'fine').reason, 'DestinationIsSequenceItself');
  } finally {
    await s.close();
  }
});
