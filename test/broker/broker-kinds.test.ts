import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseResourcesText } from '../../src/resources/index.js';
import { createSluiceKinds } from '../../src/kinds.js';
import { brokerBacking, type BrokerSpec, type ConfigMapContent } from '../../src/broker/index.js';
import type { Resource } from '../../src/resources/types.js';

const registry = createSluiceKinds();

function load(yaml: string) {
  return parseResourcesText(yaml, 'config/broker.yaml', { registry });
}

function messages(yaml: string): string[] {
  return load(yaml).errors.flatMap((e) => e.message.split('\n'));
}

const trigger = (spec: string) => `apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: t}
spec:
  broker: default
  subscriber: {uri: "http://sink.example.com/"}
${spec}`;

describe('Broker and Trigger kinds', () => {
  test('a Knative Broker and Trigger load unchanged, with defaults', () => {
    const r = load(`apiVersion: eventing.knative.dev/v1
kind: Broker
metadata:
  name: default
  namespace: shop
  annotations: {eventing.knative.dev/broker.class: MTChannelBasedBroker}
spec:
  config: {apiVersion: v1, kind: ConfigMap, name: config-br-default-channel, namespace: knative-eventing}
  delivery: {retry: 3, backoffPolicy: linear, backoffDelay: PT1S, deadLetterSink: {ref: {apiVersion: v1, kind: Service, name: dls}}}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: orders, namespace: shop}
spec:
  broker: default
  filter:
    attributes: {type: dev.example.order, region: ""}
  subscriber:
    ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: orders}
`);
    assert.deepEqual(r.errors, []);
    const [broker, trig] = r.resources.map((x) => x.resource);
    assert.equal(broker!.kind, 'Broker');
    assert.equal((broker!.spec as unknown as BrokerSpec).delivery?.deadLetterSink?.ref?.namespace, 'shop');
    assert.equal((trig!.spec as { subscriber: { ref: { namespace: string } } }).subscriber.ref.namespace, 'shop');
  });

  test('bad CESQL is reported at load with the field path and the position', () => {
    assert.deepEqual(messages(trigger(`  filters:\n    - exact: {type: a}\n    - cesql: "type = 'a' AND (source"\n`)), [
      'config/broker.yaml#1 Trigger default/t: spec.filters[1].cesql: unexpected end of expression at position 22',
    ]);
    const m = messages(trigger(`  filters:\n    - cesql: "type = = 'a'"\n`));
    assert.equal(m.length, 1);
    assert.match(m[0]!, /spec\.filters\[0\]\.cesql: .*position 7/);
  });

  test('an unknown dialect, two dialects in one element and nested problems are all reported at once', () => {
    assert.deepEqual(
      messages(
        trigger(`  filters:
    - exact: {type: a}
      prefix: {type: b}
    - all:
        - any: [{sql: "type = 'a'"}]
    - not: {suffix: {type: ""}}
    - cesql: "NOSUCH(type)"
`),
      ),
      [
        'config/broker.yaml#1 Trigger default/t: spec.filters[0]: exactly one of exact, prefix, suffix, all, any, not, cesql must be set (found exact, prefix)',
        'config/broker.yaml#1 Trigger default/t: spec.filters[1].all[0].any[0].sql: unknown field; a filter has exactly one of exact, prefix, suffix, all, any, not, cesql',
        'config/broker.yaml#1 Trigger default/t: spec.filters[1].all[0].any[0]: exactly one of exact, prefix, suffix, all, any, not, cesql must be set',
        'config/broker.yaml#1 Trigger default/t: spec.filters[2].not.suffix.type: value must not be empty',
        'config/broker.yaml#1 Trigger default/t: spec.filters[3].cesql: unknown function NOSUCH at position 0',
      ],
    );
  });

  test('the legacy filter is checked too; unknown Trigger fields are named', () => {
    assert.match(messages(trigger(`  brokerz: x\n`))[0]!, /Trigger default\/t: spec.*brokerz/);
    assert.deepEqual(messages(trigger(`  filter: {attributes: {Type: x}}\n`)), [
      'config/broker.yaml#1 Trigger default/t: spec.filter.attributes.Type: attribute names are lower-case letters a-z and digits 0-9 (CloudEvents naming)',
    ]);
    assert.match(messages('apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata: {name: t}\nspec: {subscriber: {uri: "http://x/"}}\n')[0]!, /spec\.broker: required/);
  });

  test('Broker class, channel-kind annotation and config are checked at load', () => {
    const m = messages(`apiVersion: eventing.knative.dev/v1
kind: Broker
metadata:
  name: b
  annotations: {eventing.knative.dev/broker.class: Kafka, sluice.dev/channel-kind: KafkaChannel}
spec:
  config: {apiVersion: v1, kind: Secret, name: x}
`);
    assert.equal(m.length, 3);
    assert.match(m[0]!, /metadata\.annotations\["eventing\.knative\.dev\/broker\.class"\]: broker class "Kafka" is not implemented/);
    assert.match(m[1]!, /metadata\.annotations\["sluice\.dev\/channel-kind"\]: "KafkaChannel" is not a channel kind; use one of InMemoryChannel, NatsJetStreamChannel, RedisChannel/);
    assert.match(m[2]!, /spec\.config\.kind: "Secret" is not supported/);
  });

  test("a ConfigMap's channel-template-spec is validated like a channel's spec", () => {
    const m = messages(`apiVersion: v1
kind: ConfigMap
metadata: {name: cm}
data:
  channel-template-spec: |
    apiVersion: messaging.knative.dev/v1
    kind: InMemoryChannel
    spec: {capacity: 0}
`);
    assert.deepEqual(m, ['config/broker.yaml#1 ConfigMap default/cm: data.channel-template-spec: spec.capacity: must be > 0, got 0']);
    assert.match(messages('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata:\n  channel-template-spec: "kind: Nope"\n')[0]!, /apiVersion: required/);
  });

  test('the backing channel: annotation, class, ConfigMap, the stock config name, else the default', () => {
    const def = { apiVersion: 'messaging.knative.dev/v1', kind: 'InMemoryChannel' };
    const nats = 'apiVersion: messaging.knative.dev/v1alpha1\nkind: NatsJetStreamChannel\nspec: {storage: memory}\n';
    const cms = new Map<string, ConfigMapContent>([['default/nats', { data: { 'channel-template-spec': nats } }], ['default/empty', { data: {} }]]);
    const lookups = { configMap: (ns: string, n: string) => cms.get(`${ns}/${n}`), defaultTemplate: def };
    const b = (annotations: Record<string, string> | undefined, config?: string): Resource<BrokerSpec> => ({
      apiVersion: 'eventing.knative.dev/v1',
      kind: 'Broker',
      metadata: { name: 'b', namespace: 'default', ...(annotations ? { annotations } : {}) },
      spec: config ? { config: { apiVersion: 'v1', kind: 'ConfigMap', name: config, namespace: 'default' } } : {},
    });
    assert.deepEqual(brokerBacking(b(undefined), lookups), { ok: true, template: def });
    assert.deepEqual(brokerBacking(b(undefined, 'config-br-default-channel'), lookups), { ok: true, template: def });
    assert.deepEqual(brokerBacking(b(undefined, 'nats'), lookups), {
      ok: true,
      template: { apiVersion: 'messaging.knative.dev/v1alpha1', kind: 'NatsJetStreamChannel', spec: { storage: 'memory' } },
    });
    assert.deepEqual(brokerBacking(b({ 'sluice.dev/channel-kind': 'RedisChannel' }, 'nats'), lookups), { ok: true, template: { apiVersion: '', kind: 'RedisChannel' } });
    assert.equal((brokerBacking(b({ 'sluice.dev/channel-kind': 'NatsJetStreamChannel' }, 'nats'), lookups) as { template: { spec: unknown } }).template.spec !== undefined, true);
    assert.deepEqual(brokerBacking(b({ 'eventing.knative.dev/broker.class': 'RedisChannel' }), lookups), { ok: true, template: { apiVersion: '', kind: 'RedisChannel' } });
    assert.deepEqual(brokerBacking(b(undefined, 'missing'), lookups), { ok: false, reason: 'BrokerConfigNotFound', message: 'spec.config: ConfigMap default/missing not found' });
    assert.equal((brokerBacking(b(undefined, 'empty'), lookups) as { reason: string }).reason, 'BrokerConfigInvalid');
  });
});
