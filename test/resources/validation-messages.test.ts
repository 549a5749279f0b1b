import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ResourceValidationError } from '../../src/errors.js';
import { parseResourcesText, validateResourceObject } from '../../src/resources/index.js';

const SUB_HEAD = `apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata:
  name: to-sink
`;
const CHANNEL_REF = `  channel:
    apiVersion: messaging.knative.dev/v1
    kind: InMemoryChannel
    name: orders
`;

/** Messages of every error in a file whose 2nd document is `doc` (1st is a valid channel). */
function messages(doc: string, file = 'config/subs.yaml'): string[] {
  const r = parseResourcesText(`apiVersion: messaging.knative.dev/v1\nkind: InMemoryChannel\nmetadata: {name: orders}\n---\n${doc}`, file);
  assert.equal(r.resources[0]?.resource.metadata.name, 'orders', 'the valid document still loads');
  return r.errors.flatMap((e) => e.message.split('\n'));
}

describe('error messages (exact text)', () => {
  test('an invalid ISO-8601 duration', () => {
    assert.deepEqual(messages(`${SUB_HEAD}spec:\n${CHANNEL_REF}  subscriber: {uri: "http://sink.example.com/"}\n  delivery:\n    backoffDelay: 5s\n`), [
      'config/subs.yaml#2 Subscription default/to-sink: spec.delivery.backoffDelay: "5s" is not an ISO-8601 duration',
    ]);
  });

  test('the error carries origin, kind, namespace/name and issues', () => {
    const r = parseResourcesText(`${SUB_HEAD}  namespace: shop\nspec:\n${CHANNEL_REF}  subscriber: {uri: "http://x/"}\n  delivery: {timeout: PT0S}\n`, 'a.yaml');
    const e = r.errors[0]!;
    assert.ok(e instanceof ResourceValidationError);
    assert.deepEqual(e.origin, { file: 'a.yaml', document: 1 });
    assert.equal(e.kind, 'Subscription');
    assert.equal(e.resourceName, 'shop/to-sink');
    assert.deepEqual(e.issues, [{ path: 'spec.delivery.timeout', message: '"PT0S" must be longer than zero' }]);
    assert.equal(e.statusCode, 400);
  });

  test('unknown fields are named, at every level, all of them at once', () => {
    assert.deepEqual(
      messages(`${SUB_HEAD}  owner: team-a\nspec:\n${CHANNEL_REF}    group: messaging\n  subscriber:\n    uri: http://x/\n  foo: 1\n  delivery: {retries: 3}\nextra: true\n`),
      [
        'config/subs.yaml#2 Subscription default/to-sink: metadata.owner: unknown field "owner"',
        'config/subs.yaml#2 Subscription default/to-sink: extra: unknown field "extra"',
        'config/subs.yaml#2 Subscription default/to-sink: spec.channel.group: unknown field "group"',
        'config/subs.yaml#2 Subscription default/to-sink: spec.delivery.retries: unknown field "retries"',
        'config/subs.yaml#2 Subscription default/to-sink: spec.foo: unknown field "foo"',
      ],
    );
  });

  test('missing required fields', () => {
    assert.deepEqual(messages(`${SUB_HEAD}spec:\n  channel: {kind: InMemoryChannel}\n`), [
      'config/subs.yaml#2 Subscription default/to-sink: spec.channel.apiVersion: required',
      'config/subs.yaml#2 Subscription default/to-sink: spec.channel.name: required',
      'config/subs.yaml#2 Subscription default/to-sink: spec.subscriber: required',
    ]);
  });

  test('missing apiVersion, kind and metadata.name', () => {
    assert.deepEqual(messages('spec: {}\n'), ['config/subs.yaml#2: apiVersion: required', 'config/subs.yaml#2: kind: required', 'config/subs.yaml#2: metadata.name: required']);
    assert.deepEqual(messages('apiVersion: messaging.knative.dev/v1\nkind: InMemoryChannel\nmetadata: {namespace: shop}\n'), [
      'config/subs.yaml#2 InMemoryChannel: metadata.name: required',
    ]);
  });

  test('wrong types say what was expected and what was found', () => {
    assert.deepEqual(
      messages(`${SUB_HEAD}  labels: {tier: 1}\nspec:\n  channel: orders\n  subscriber: {uri: [http://x/]}\n  delivery: {retry: "3", deadLetterSink: {uri: http://dls/}, backoffPolicy: true}\n`),
      [
        'config/subs.yaml#2 Subscription default/to-sink: metadata.labels.tier: expected string, got number 1',
        'config/subs.yaml#2 Subscription default/to-sink: spec.channel: expected object, got string "orders"',
        'config/subs.yaml#2 Subscription default/to-sink: spec.subscriber.uri: expected string, got array',
        'config/subs.yaml#2 Subscription default/to-sink: spec.delivery.retry: expected number, got string "3"',
        'config/subs.yaml#2 Subscription default/to-sink: spec.delivery.backoffPolicy: true is not one of exponential, linear',
      ],
    );
    assert.deepEqual(messages('apiVersion: messaging.knative.dev/v1\nkind: 7\nmetadata: {name: x}\n'), ['config/subs.yaml#2 default/x: kind: expected string, got number 7']);
    assert.deepEqual(messages('- apiVersion: v1\n'), ['config/subs.yaml#2: a resource must be a mapping with apiVersion, kind and metadata, got array']);
  });

  test('delivery rules: retry >= 0 integer, backoffPolicy, every duration', () => {
    assert.deepEqual(
      messages(`${SUB_HEAD}spec:\n${CHANNEL_REF}  subscriber: {uri: "http://x/"}\n  delivery: {retry: -1, backoffPolicy: fast, timeout: 10s, retryAfterMax: PT1Y}\n`).map((m) => m.slice(m.indexOf(': ') + 2)),
      ['spec.delivery.retry: must be >= 0, got -1', 'spec.delivery.backoffPolicy: "fast" is not one of exponential, linear', 'spec.delivery.timeout: "10s" is not an ISO-8601 duration', 'spec.delivery.retryAfterMax: "PT1Y" is not an ISO-8601 duration'],
    );
    assert.deepEqual(
      messages(`${SUB_HEAD}spec:\n${CHANNEL_REF}  subscriber: {uri: "http://x/"}\n  delivery: {retry: 2.5}\n`).map((m) => m.slice(m.indexOf(': ') + 2)),
      ['spec.delivery.retry: expected integer, got number 2.5'],
    );
  });

  test('destinations: ref and/or uri; absolute http(s) without ref, relative with ref', () => {
    const sub = (subscriber: string) => messages(`${SUB_HEAD}spec:\n${CHANNEL_REF}  subscriber: ${subscriber}\n`).map((m) => m.slice(m.indexOf(': ') + 2));
    assert.deepEqual(sub('{}'), ['spec.subscriber: needs ref or uri']);
    assert.deepEqual(sub('{uri: /events}'), ['spec.subscriber.uri: "/events" is not an absolute http(s) URL (a relative uri needs a ref)']);
    assert.deepEqual(sub('{uri: "ftp://files.example.com/in"}'), ['spec.subscriber.uri: "ftp://files.example.com/in" is not an absolute http(s) URL (a relative uri needs a ref)']);
    assert.deepEqual(sub('{ref: {apiVersion: v1, kind: Service, name: svc}, uri: "http://other/"}'), ['spec.subscriber.uri: "http://other/" must be a relative path when ref is set']);
    assert.deepEqual(sub('{ref: {apiVersion: v1, kind: Service, name: svc}, uri: /events}'), []);
    assert.deepEqual(sub('{uri: "https://sink.example.com:8443/a?b=c"}'), []);
  });

  test('names must be DNS-1123', () => {
    assert.deepEqual(messages('apiVersion: messaging.knative.dev/v1\nkind: InMemoryChannel\nmetadata: {name: My_Channel, namespace: Shop}\n'), [
      `config/subs.yaml#2 InMemoryChannel Shop/My_Channel: metadata.name: "My_Channel" is not a valid name: use lowercase letters, digits and '-', starting and ending with a letter or digit, at most 253 characters`,
      `config/subs.yaml#2 InMemoryChannel Shop/My_Channel: metadata.namespace: "Shop" is not a valid namespace: use lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters`,
    ]);
    const long = 'a'.repeat(254);
    assert.equal(messages(`apiVersion: messaging.knative.dev/v1\nkind: InMemoryChannel\nmetadata: {name: ${long}}\n`).length, 1);
    assert.deepEqual(messages(`apiVersion: messaging.knative.dev/v1\nkind: InMemoryChannel\nmetadata: {name: ${'a'.repeat(253)}}\n`), []);
  });

  test('unknown kinds list what the apiVersion group supports', () => {
    assert.deepEqual(messages('apiVersion: messaging.knative.dev/v1\nkind: KafkaChannel\nmetadata: {name: k}\n'), [
      'config/subs.yaml#2 KafkaChannel default/k: kind: unknown kind "KafkaChannel" for messaging.knative.dev/v1; supported kinds in messaging.knative.dev: Channel, InMemoryChannel, Subscription',
    ]);
    assert.deepEqual(messages('apiVersion: messaging.knative.dev/v1beta1\nkind: InMemoryChannel\nmetadata: {name: k}\n'), [
      'config/subs.yaml#2 InMemoryChannel default/k: apiVersion: InMemoryChannel is not served as messaging.knative.dev/v1beta1; use messaging.knative.dev/v1',
    ]);
    assert.deepEqual(messages('apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n'), [
      'config/subs.yaml#2 Widget default/w: apiVersion: unknown apiVersion "example.com/v1" (kind Widget); supported apiVersions: messaging.knative.dev/v1, v1',
    ]);
    assert.deepEqual(messages('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n'), [
      'config/subs.yaml#2 ConfigMap default/c: kind: unknown kind "ConfigMap" for v1; supported kinds in the core group (v1): Secret',
    ]);
  });

  test('cross-field rules: the channel must be in the Subscription namespace; Channel templates', () => {
    assert.deepEqual(messages(`${SUB_HEAD}  namespace: shop\nspec:\n${CHANNEL_REF}    namespace: billing\n  subscriber: {uri: "http://x/"}\n`), [
      'config/subs.yaml#2 Subscription shop/to-sink: spec.channel.namespace: "billing" must be the Subscription\'s own namespace "shop"',
    ]);
    assert.deepEqual(messages(`${SUB_HEAD}  namespace: shop\nspec:\n${CHANNEL_REF}    namespace: shop\n  subscriber: {uri: "http://x/"}\n`), []);
    assert.deepEqual(
      messages('apiVersion: messaging.knative.dev/v1\nkind: Channel\nmetadata: {name: c}\nspec:\n  channelTemplate:\n    apiVersion: messaging.knative.dev/v1\n    kind: InMemoryChannel\n    spec: {capacity: 0, delivery: {retry: x}, size: 3}\n'),
      [
        'config/subs.yaml#2 Channel default/c: spec.channelTemplate.spec.delivery.retry: expected number, got string "x"',
        'config/subs.yaml#2 Channel default/c: spec.channelTemplate.spec.capacity: must be > 0, got 0',
        'config/subs.yaml#2 Channel default/c: spec.channelTemplate.spec.size: unknown field "size"',
      ],
    );
    assert.deepEqual(messages('apiVersion: messaging.knative.dev/v1\nkind: Channel\nmetadata: {name: c}\nspec:\n  channelTemplate: {apiVersion: messaging.knative.dev/v1, kind: Channel}\n'), [
      'config/subs.yaml#2 Channel default/c: spec.channelTemplate.kind: a Channel cannot be backed by another Channel; name a channel implementation such as InMemoryChannel',
    ]);
    // A template of a kind this registry does not know is left to the runtime to report.
    assert.deepEqual(messages('apiVersion: messaging.knative.dev/v1\nkind: Channel\nmetadata: {name: c}\nspec:\n  channelTemplate: {apiVersion: messaging.knative.dev/v1beta1, kind: KafkaChannel, spec: {numPartitions: 3}}\n'), []);
  });

  test('annotation keys with dots are quoted in paths', () => {
    assert.deepEqual(messages('apiVersion: messaging.knative.dev/v1\nkind: InMemoryChannel\nmetadata:\n  name: c\n  annotations:\n    autoscaling.knative.dev/min-scale: 1\n'), [
      'config/subs.yaml#2 InMemoryChannel default/c: metadata.annotations["autoscaling.knative.dev/min-scale"]: expected string, got number 1',
    ]);
  });
});

describe('validateResourceObject', () => {
  test('validates a plain object, without origin', () => {
    const ok = validateResourceObject({ apiVersion: 'messaging.knative.dev/v1', kind: 'InMemoryChannel', metadata: { name: 'x' }, spec: { capacity: 3 } });
    assert.equal(ok.type, 'resource');
    if (ok.type === 'resource') {
      assert.deepEqual(ok.loaded.resource, { apiVersion: 'messaging.knative.dev/v1', kind: 'InMemoryChannel', metadata: { name: 'x', namespace: 'default' }, spec: { capacity: 3 } });
      // The document as written rides along (what the Kubernetes-shaped API shows and patches).
      assert.deepEqual(ok.loaded.raw, { apiVersion: 'messaging.knative.dev/v1', kind: 'InMemoryChannel', metadata: { name: 'x' }, spec: { capacity: 3 } });
    }

    const bad = validateResourceObject({ apiVersion: 'messaging.knative.dev/v1', kind: 'InMemoryChannel', metadata: { name: 'x' }, spec: { capacity: 1.5 } });
    assert.equal(bad.type, 'invalid');
    if (bad.type === 'invalid') assert.equal(bad.error.message, 'InMemoryChannel default/x: spec.capacity: expected integer, got number 1.5');

    for (const v of [null, 'text', 42, undefined]) assert.equal(validateResourceObject(v).type, 'invalid');
  });

  test('with an origin', () => {
    const r = validateResourceObject({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, spec: {} }, { file: 'admin-api', document: 1 });
    assert.equal(r.type, 'invalid');
    if (r.type === 'invalid') assert.equal(r.error.message, 'admin-api#1 Secret default/s: spec: unknown field "spec"');
  });
});
