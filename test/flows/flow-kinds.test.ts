import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseResourcesText } from '../../src/resources/index.js';
import { createSluiceKinds } from '../../src/kinds.js';

function issues(yaml: string): string[] {
  const r = parseResourcesText(yaml, 'flows.yaml', { registry: createSluiceKinds() });
  return r.errors.flatMap((e) => (e.issues ?? []).map((i) => `${i.path}: ${i.message}`));
}

const seq = (spec: string) => `apiVersion: flows.knative.dev/v1\nkind: Sequence\nmetadata: {name: s}\nspec:\n${spec}\n`;
const par = (spec: string) => `apiVersion: flows.knative.dev/v1\nkind: Parallel\nmetadata: {name: p}\nspec:\n${spec}\n`;

describe('Sequence and Parallel validation', () => {
  test('a Sequence needs at least one step', () => {
    assert.deepEqual(issues(seq('  steps: []')), ['spec.steps: must have at least one item']);
    assert.deepEqual(issues(seq('  reply: {uri: "http://x/"}')), ['spec.steps: required']);
  });

  test('bad step destinations are named by index, with the shared destination rules', () => {
    const got = issues(seq(`  steps:
  - {uri: "/relative"}
  - {}
  - {ref: {apiVersion: v1, kind: Service, name: x}, uri: "http://abs/"}
  - {uri: "http://ok/", delivery: {retry: -1}, extra: 1}`));
    assert.deepEqual(got.sort(), [
      'spec.steps[0].uri: "/relative" is not an absolute http(s) URL (a relative uri needs a ref)',
      'spec.steps[1]: needs ref or uri',
      'spec.steps[2].uri: "http://abs/" must be a relative path when ref is set',
      'spec.steps[3].delivery.retry: must be >= 0, got -1',
      'spec.steps[3].extra: unknown field "extra"',
    ]);
  });

  test('channelTemplate must name a channel implementation, whose spec is checked as that kind', () => {
    const steps = '  steps: [{uri: "http://a/"}]';
    assert.deepEqual(issues(seq(`  channelTemplate: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel}\n${steps}`)), []);
    const [notChannel] = issues(seq(`  channelTemplate: {apiVersion: eventing.knative.dev/v1, kind: Broker}\n${steps}`));
    assert.match(notChannel ?? '', /^spec\.channelTemplate: Broker \(eventing\.knative\.dev\/v1\) is not a channel kind; use one of .*InMemoryChannel/);
    assert.match(issues(seq(`  channelTemplate: {apiVersion: messaging.knative.dev/v1, kind: Channel}\n${steps}`))[0] ?? '', /^spec\.channelTemplate\.kind: /);
    assert.match(issues(par(`  channelTemplate: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, spec: {capacityy: 3}}\n  branches: [{subscriber: {uri: "http://a/"}}]`))[0] ?? '', /^spec\.channelTemplate\.spec\.capacityy: unknown field/);
  });

  test('a Parallel needs at least one branch, each with a subscriber; filter and reply are destinations', () => {
    assert.deepEqual(issues(par('  branches: []')), ['spec.branches: must have at least one item']);
    assert.deepEqual(issues(par('  branches:\n  - {filter: {uri: "nope"}, reply: {}}')).sort(), [
      'spec.branches[0].filter.uri: "nope" is not an absolute http(s) URL (a relative uri needs a ref)',
      'spec.branches[0].reply: needs ref or uri',
      'spec.branches[0].subscriber: required',
    ]);
  });

  test('refs without a namespace default to the flow\'s', () => {
    const r = parseResourcesText(
      `apiVersion: flows.knative.dev/v1\nkind: Parallel\nmetadata: {name: p, namespace: team}\nspec:\n  branches:\n  - subscriber: {ref: {apiVersion: v1, kind: Service, name: s}}\n    delivery: {deadLetterSink: {ref: {apiVersion: v1, kind: Service, name: d}}}\n`,
      'x.yaml',
      { registry: createSluiceKinds() },
    );
    assert.deepEqual(r.errors, []);
    const spec = r.resources[0]!.resource.spec as { branches: Array<{ subscriber: { ref: { namespace: string } }; delivery: { deadLetterSink: { ref: { namespace: string } } } }> };
    assert.equal(spec.branches[0]!.subscriber.ref.namespace, 'team');
    assert.equal(spec.branches[0]!.delivery.deadLetterSink.ref.namespace, 'team');
  });
});
