import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CloudEvent } from 'cloudevents';
import { parse } from 'yaml';
import {
  compileTriggerFilter, FilterError, triggerFilterIssues, type CompiledFilter, type TriggerFilterSpec,
} from '../../src/broker/filters/index.js';
import { SluiceError } from '../../src/errors.js';

const base = { specversion: '1.0', id: 'e-1', source: 'https://github.com/acme/shop', type: 'dev.knative.source.github.push' };
const ev = (extra: Record<string, string> = {}): Record<string, string> => ({ ...base, ...extra });

function rejects(spec: unknown, ...expected: RegExp[]): FilterError {
  let caught: unknown;
  try {
    compileTriggerFilter(spec as TriggerFilterSpec);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof FilterError, `expected FilterError, got ${String(caught)}`);
  assert.ok(caught instanceof SluiceError);
  assert.equal(caught.code, 'SLUICE_ERR_INVALID_FILTER');
  assert.equal(caught.statusCode, 400);
  for (const re of expected) assert.match(caught.message, re);
  return caught;
}

describe('legacy filter.attributes', () => {
  test('no filter, empty filter and empty attributes match every event', () => {
    for (const spec of [undefined, null, {}, { filter: {} }, { filter: { attributes: {} } }, { filter: null, filters: [] }]) {
      const f = compileTriggerFilter(spec as TriggerFilterSpec);
      assert.equal(f(ev()), true);
      assert.equal(f({}), true);
    }
  });

  test('exact, case-sensitive, every attribute must match', () => {
    const f = compileTriggerFilter({ filter: { attributes: { type: 'dev.knative.source.github.push', source: base.source } } });
    assert.equal(f(ev()), true);
    assert.equal(f(ev({ type: 'dev.knative.source.github.Push' })), false);
    assert.equal(f(ev({ source: 'https://github.com/acme/other' })), false);
    assert.equal(f(ev({ type: 'dev.knative.source.github.push.extra' })), false);
  });

  test('extension attributes match exactly and a missing one does not match', () => {
    const f = compileTriggerFilter({ filter: { attributes: { repository: 'shop', action: 'opened' } } });
    assert.equal(f(ev({ repository: 'shop', action: 'opened' })), true);
    assert.equal(f(ev({ repository: 'shop' })), false);
    assert.equal(f(ev({ repository: 'shop', action: '' })), false);
  });

  test('"" means the attribute must exist, with any value (even empty)', () => {
    const f = compileTriggerFilter({ filter: { attributes: { subject: '', type: base.type } } });
    assert.equal(f(ev({ subject: 'a10867b14bb7' })), true);
    assert.equal(f(ev({ subject: '' })), true);
    assert.equal(f(ev()), false);
    assert.equal(f(ev({ subject: 'x', type: 'other' })), false);
  });

  test('attribute names that are Object.prototype members are never found on the prototype', () => {
    const f = compileTriggerFilter({ filter: { attributes: { constructor: '' } } });
    assert.equal(f(ev()), false);
    assert.equal(f(ev({ constructor: 'x' })), true);
    const g = compileTriggerFilter({ filters: [{ prefix: { tostring: 'a' } }, { exact: { constructor: 'b' } }] });
    assert.equal(g(ev()), false);
    assert.equal(g(ev({ tostring: 'ab', constructor: 'b' })), true);
  });
});

describe('filters (Subscriptions API dialects)', () => {
  test('exact: every pair must match, on core attributes and extensions', () => {
    const f = compileTriggerFilter({ filters: [{ exact: { type: base.type, owner: 'acme' } }] });
    assert.equal(f(ev({ owner: 'acme' })), true);
    assert.equal(f(ev({ owner: 'Acme' })), false);
    assert.equal(f(ev()), false);
  });

  test('prefix and suffix on core attributes and extensions', () => {
    const p = compileTriggerFilter({ filters: [{ prefix: { type: 'dev.knative.source.github.', sender: 'oct' } }] });
    assert.equal(p(ev({ sender: 'octocat' })), true);
    assert.equal(p(ev({ sender: 'hubot' })), false);
    assert.equal(p(ev()), false, 'a missing extension never matches a prefix');
    const s = compileTriggerFilter({ filters: [{ suffix: { type: '.push', repository: '-api' } }] });
    assert.equal(s(ev({ repository: 'shop-api' })), true);
    assert.equal(s(ev({ repository: 'shop-web' })), false);
    assert.equal(s(ev({ type: 'x.pull_request', repository: 'shop-api' })), false);
  });

  test('elements of filters are ANDed', () => {
    const f = compileTriggerFilter({ filters: [{ prefix: { type: 'dev.knative.' } }, { suffix: { type: '.push' } }, { exact: { owner: 'acme' } }] });
    assert.equal(f(ev({ owner: 'acme' })), true);
    assert.equal(f(ev({ owner: 'someone' })), false);
    assert.equal(f(ev({ owner: 'acme', type: 'dev.knative.source.github.issues' })), false);
  });

  test('all, any and not', () => {
    const all = compileTriggerFilter({ filters: [{ all: [{ exact: { owner: 'acme' } }, { prefix: { repository: 'shop' } }] }] });
    assert.equal(all(ev({ owner: 'acme', repository: 'shop-api' })), true);
    assert.equal(all(ev({ owner: 'acme', repository: 'infra' })), false);
    const any = compileTriggerFilter({ filters: [{ any: [{ exact: { action: 'opened' } }, { exact: { action: 'reopened' } }] }] });
    assert.equal(any(ev({ action: 'opened' })), true);
    assert.equal(any(ev({ action: 'reopened' })), true);
    assert.equal(any(ev({ action: 'closed' })), false);
    assert.equal(any(ev()), false);
    const not = compileTriggerFilter({ filters: [{ not: { exact: { sender: 'dependabot[bot]' } } }] });
    assert.equal(not(ev({ sender: 'octocat' })), true);
    assert.equal(not(ev({ sender: 'dependabot[bot]' })), false);
    assert.equal(not(ev()), true, 'not of a missing attribute match is true');
  });

  test('nesting: not inside any inside all, with CESQL deep inside', () => {
    const spec: TriggerFilterSpec = {
      filters: [
        {
          all: [
            { prefix: { type: 'dev.knative.source.github.' } },
            {
              any: [
                { not: { suffix: { sender: '[bot]' } } },
                { all: [{ exact: { sender: 'release[bot]' } }, { cesql: "action IN ('published', 'released')" }] },
              ],
            },
          ],
        },
      ],
    };
    const f = compileTriggerFilter(spec);
    assert.equal(f(ev({ sender: 'octocat' })), true, 'a human passes');
    assert.equal(f(ev({ sender: 'dependabot[bot]' })), false, 'other bots do not');
    assert.equal(f(ev({ sender: 'release[bot]', action: 'published' })), true, 'the release bot passes on publish');
    assert.equal(f(ev({ sender: 'release[bot]', action: 'created' })), false);
    assert.equal(f(ev({ sender: 'release[bot]' })), false, 'CESQL on a missing attribute is an error: no match');
    assert.equal(f(ev({ type: 'com.example.order', sender: 'octocat' })), false);
  });

  test('cesql dialect: true only when the expression is true without error', () => {
    const f = compileTriggerFilter({ filters: [{ cesql: "source LIKE '%/acme/%' AND type IN ('dev.knative.source.github.push', 'dev.knative.source.github.create')" }] });
    assert.equal(f(ev()), true);
    assert.equal(f(ev({ source: 'https://github.com/other/shop' })), false);
    const n = compileTriggerFilter({ filters: [{ cesql: 'INT(retries) < 3' }] });
    assert.equal(n(ev({ retries: '2' })), true);
    assert.equal(n(ev({ retries: '3' })), false);
    assert.equal(n(ev({ retries: 'many' })), false, 'a failed cast is an error: no match');
    assert.equal(n(ev()), false);
    const notBool = compileTriggerFilter({ filters: [{ cesql: "CONCAT('a', 'b')" }] });
    assert.equal(notBool(ev()), false, 'a non-boolean result never passes');
    const negated = compileTriggerFilter({ filters: [{ not: { cesql: "myext = 'x'" } }] });
    assert.equal(negated(ev({ myext: 'y' })), true);
    assert.equal(negated(ev({ myext: 'x' })), false);
  });

  test('filters overrides filter when non-empty; an empty filters list leaves filter in force', () => {
    const both = compileTriggerFilter({ filter: { attributes: { type: 'never.matches' } }, filters: [{ exact: { owner: 'acme' } }] });
    assert.equal(both(ev({ owner: 'acme' })), true);
    assert.equal(both(ev({ owner: 'x' })), false);
    const legacyOnly = compileTriggerFilter({ filter: { attributes: { type: 'never.matches' } }, filters: [] });
    assert.equal(legacyOnly(ev()), false);
    assert.equal(legacyOnly(ev({ type: 'never.matches' })), true);
  });

  test('there is no filtering on data: data and data_base64 are not attributes', () => {
    assert.throws(() => compileTriggerFilter({ filters: [{ exact: { 'data.kind': 'x' } }] }), FilterError);
    const f = compileTriggerFilter({ filters: [{ cesql: 'EXISTS data' }] });
    assert.equal(f(ev()), false);
  });
});

describe('invalid filters are rejected with their path', () => {
  test('an element with no dialect, or more than one', () => {
    const e = rejects(
      { filters: [{ exact: { type: 'a' } }, { any: [{}] }] },
      /^filters\[1\]\.any\[0\]: exactly one of exact, prefix, suffix, all, any, not, cesql must be set$/,
    );
    assert.equal(e.path, 'filters[1].any[0]');
    assert.deepEqual(e.issues[0]?.path, ['filters', 1, 'any', 0]);
    rejects({ filters: [{ exact: { type: 'a' }, prefix: { type: 'b' } }] }, /^filters\[0\]: exactly one of .* must be set \(found exact, prefix\)$/);
    rejects({ filters: [{ exact: {} }] }, /^filters\[0\]: exactly one of/);
    rejects({ filters: [{ all: [] }] }, /^filters\[0\]: exactly one of/);
    rejects({ filters: [{ cesql: '' }] }, /^filters\[0\]: exactly one of/);
  });

  test('empty values, bad attribute names and wrong types', () => {
    rejects({ filters: [{ exact: { type: '' } }] }, /^filters\[0\]\.exact\.type: value must not be empty$/);
    rejects({ filters: [{ not: { prefix: { Type: 'x' } } }] }, /^filters\[0\]\.not\.prefix\.Type: attribute names are lower-case/);
    rejects({ filters: [{ suffix: { 'my-ext': 'x' } }] }, /^filters\[0\]\.suffix\["my-ext"\]: attribute names/);
    rejects({ filters: [{ exact: { ttl: 5 } }] }, /^filters\[0\]\.exact\.ttl: value must be a string, got number 5$/);
    rejects({ filters: [{ exact: 'type=a' }] }, /^filters\[0\]\.exact: must be a map of attribute names to values, got string "type=a"$/);
    rejects({ filters: [{ any: { exact: { a: 'b' } } }] }, /^filters\[0\]\.any: must be a list of filters, got a map$/);
    rejects({ filters: [{ not: [{ exact: { a: 'b' } }] }] }, /^filters\[0\]\.not: must be a filter, got a list$/);
    rejects({ filters: [{ cesql: 42 }] }, /^filters\[0\]\.cesql: must be a CloudEvents SQL expression/);
    rejects({ filters: { exact: { a: 'b' } } }, /^filters: must be a list of filters, got a map$/);
    rejects({ filters: ['type = a'] }, /^filters\[0\]: must be a filter/);
    rejects({ filter: { attributes: { type: 3 } } }, /^filter\.attributes\.type: value must be a string, got number 3$/);
    rejects({ filter: { attributes: ['a'] } }, /^filter\.attributes: must be a map/);
    rejects('type=a', /must be a map with "filter" and\/or "filters"/);
  });

  test('unknown fields are reported by name', () => {
    rejects({ filters: [{ exact: { a: 'b' }, exactly: { a: 'b' } }] }, /^filters\[0\]\.exactly: unknown field/);
    rejects({ filter: { attributes: { a: 'b' }, extensions: {} } }, /^filter\.extensions: unknown field/);
  });

  test('CESQL syntax errors carry the path and the position', () => {
    const e = rejects({ filters: [{ all: [{ exact: { a: 'b' } }, { cesql: "type = 'x' AND AND" }] }] }, /^filters\[0\]\.all\[1\]\.cesql: unexpected token "AND" at position 15$/);
    assert.equal(e.path, 'filters[0].all[1].cesql');
    rejects({ filters: [{ cesql: 'NOSUCH(type)' }] }, /^filters\[0\]\.cesql: unknown function NOSUCH at position 0$/);
    rejects({ filters: [{ cesql: 'x LIKE 123' }] }, /LIKE pattern must be a string literal/);
  });

  test('every problem is reported at once, and triggerFilterIssues lists them without throwing', () => {
    const spec = { filters: [{}, { exact: { a: '' } }, { cesql: '(' }] };
    const e = rejects(spec);
    assert.equal(e.message.split('\n').length, 3);
    const issues = triggerFilterIssues(spec as TriggerFilterSpec);
    assert.deepEqual(issues.map((i) => i.path), [['filters', 0], ['filters', 1, 'exact', 'a'], ['filters', 2, 'cesql']]);
    assert.deepEqual(triggerFilterIssues({ filters: [{ exact: { a: 'b' } }] }), []);
  });

  test('a filter that is invalid is rejected even when filters overrides it', () => {
    rejects({ filter: { attributes: { Bad: 'x' } }, filters: [{ exact: { a: 'b' } }] }, /^filter\.attributes\.Bad:/);
  });
});

describe('Knative Trigger YAML and real CloudEvents', () => {
  // The Trigger from Knative's docs on the new filters, unchanged.
  const trigger = parse(`
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: my-service-trigger
spec:
  broker: default
  filters:
    - cesql: "source LIKE '%commerce%' AND type IN ('order.created', 'order.updated', 'order.canceled')"
    - any:
        - exact:
            type: order.created
        - not:
            prefix:
              region: eu-
  subscriber:
    ref:
      apiVersion: serving.knative.dev/v1
      kind: Service
      name: my-service
`) as { spec: TriggerFilterSpec };

  /** Sluice's canonical form: every context attribute as a string, no data. */
  function attributesOf(ce: CloudEvent<unknown>): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(ce.toJSON())) {
      if (k !== 'data' && k !== 'data_base64' && v !== undefined) out[k] = String(v);
    }
    return out;
  }

  test('the compiled filter decides on events built by the CloudEvents SDK', () => {
    const f: CompiledFilter = compileTriggerFilter(trigger.spec);
    const make = (type: string, source: string, ext: Record<string, string> = {}): Record<string, string> =>
      attributesOf(new CloudEvent({ type, source, data: { big: 'payload that is never looked at' }, ...ext }));
    assert.equal(f(make('order.created', 'https://shop.example/commerce/eu', { region: 'eu-west' })), true);
    assert.equal(f(make('order.updated', 'https://shop.example/commerce', { region: 'us-east' })), true);
    assert.equal(f(make('order.updated', 'https://shop.example/commerce', { region: 'eu-west' })), false);
    assert.equal(f(make('order.updated', 'https://shop.example/commerce')), true, 'no region: not (prefix) holds');
    assert.equal(f(make('order.shipped', 'https://shop.example/commerce')), false);
    assert.equal(f(make('order.created', 'https://blog.example/')), false);
  });

  test('compiled filters are reusable and independent', () => {
    const a = compileTriggerFilter({ filters: [{ cesql: "myext = 'a'" }] });
    const b = compileTriggerFilter({ filters: [{ cesql: "myext = 'b'" }] });
    for (let i = 0; i < 3; i++) {
      assert.equal(a(ev({ myext: 'a' })), true);
      assert.equal(b(ev({ myext: 'a' })), false);
      assert.equal(a(ev()), false);
      assert.equal(a(ev({ myext: 'a' })), true, 'an error in one evaluation does not leak into the next');
    }
  });
});
