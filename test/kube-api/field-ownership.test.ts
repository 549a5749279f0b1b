import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyConflicts, leafPaths, withoutFields } from '../../src/kube-api/field-ownership.js';
import { fieldSetOf } from '../../src/kube-api/patch.js';

const live = { apiVersion: 'v', kind: 'K', metadata: { name: 'x', labels: { team: 'a', tier: 'gold' } }, spec: { subscriber: { uri: 'http://a/' }, delivery: { retry: 3 } } };

test('leaf paths of a field set: scalars, lists and maps owned whole', () => {
  assert.deepEqual(leafPaths(fieldSetOf({ metadata: { labels: { team: 'a' } }, spec: { subscriber: { uri: 'u' }, list: [1, 2] } })), [
    ['metadata', 'labels', 'team'],
    ['spec', 'subscriber', 'uri'],
    ['spec', 'list'],
  ]);
});

test("a different value for a field another manager's apply owns is a conflict; an equal one is shared; Update entries never conflict", () => {
  const applied = { metadata: { labels: { team: 'b', tier: 'gold' } }, spec: { subscriber: { uri: 'http://a/' } } };
  const others = [
    { manager: 'ci', operation: 'Apply', fieldsV1: fieldSetOf({ metadata: { labels: { team: 'a', tier: 'gold' } }, spec: { subscriber: { uri: 'http://a/' } } }) },
    { manager: 'kubectl-edit', operation: 'Update', fieldsV1: fieldSetOf({ metadata: { labels: { team: 'a' } } }) },
  ];
  assert.deepEqual(applyConflicts(live, applied, fieldSetOf(applied), others), [{ manager: 'ci', field: '.metadata.labels.team' }]);
  assert.deepEqual(applyConflicts(live, { spec: { delivery: { retry: 5 } } }, fieldSetOf({ spec: { delivery: { retry: 5 } } }), others), [], 'a field nobody else owns');
});

test('withoutFields drops the taken leaves and maps left empty', () => {
  const f = fieldSetOf({ metadata: { labels: { team: 'a' } }, spec: { subscriber: { uri: 'u' }, x: 1 } });
  assert.deepEqual(withoutFields(f, [['metadata', 'labels', 'team'], ['spec', 'subscriber', 'uri']]), { 'f:spec': { 'f:x': {} } });
  assert.deepEqual(f['f:metadata'], { 'f:labels': { 'f:team': {} } }, 'the input is not changed');
});
