import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { NATSS_IGNORED_REASONS, natsChannelConfig } from '../../src/channels/nats/index.js';
import { InvalidOptionError } from '../../src/errors.js';
import { createSluiceKinds } from '../../src/kinds.js';
import { parseResourcesText } from '../../src/resources/index.js';

// NatsJetStreamChannel in eventing-natss's own schema (spec.stream, spec.consumerConfigTemplate):
// it validates, its values become the settings the JetStream channel runs with, what Sluice
// cannot honour is listed with why, and only invalid values are refused, by field.

const load = (yaml: string) => parseResourcesText(yaml, 'natss.yaml', { registry: createSluiceKinds() });
const messages = (r: ReturnType<typeof load>) => r.errors.map((e) => e.message).join('\n');

function channel(spec: string, name = 'orders'): string {
  return `apiVersion: messaging.knative.dev/v1alpha1
kind: NatsJetStreamChannel
metadata:
  name: ${name}
spec:
${spec}`;
}

/** Every field of natss's CRD, each with a value (as natss's docs list them). */
const FULL = channel(`  delivery:
    retry: 3
    backoffPolicy: exponential
    backoffDelay: PT1S
  stream:
    overrideName: ORDERS
    config:
      additionalSubjects: [legacy.orders]
      retention: Interest
      maxConsumers: 10
      maxMsgs: 1000000
      maxBytes: 1073741824
      discard: Old
      maxAge: 24h
      maxMsgSize: 65536
      storage: File
      replicas: 3
      noAck: false
      duplicateWindow: 1h30m
      placement: {cluster: east, tags: [ssd]}
      mirror: {name: upstream}
      sources: [{name: a, optStartSeq: 5, filterSubject: x.>}]
  consumerConfigTemplate:
    deliverPolicy: New
    optStartSeq: 10
    ackWait: 45s
    maxDeliver: 5
    filterSubject: orders.created
    replayPolicy: Original
    rateLimitBPS: 1000000
    sampleFrequency: "30%"
    maxAckPending: 64
    consumerType: Push
    fetchMaxWait: 100
    fetchBatchSize: 10
  deploymentSpecTemplate:
    nodeSelector: {disk: ssd}
    resources: {limits: {cpu: "1"}}
  subscribers:
    - uid: 2f9b5e8e-1b7a-4c7e-9f0e-0d2b0c8f0b1a
      subscriberUri: http://example.default.svc.cluster.local
`);

describe('NatsJetStreamChannel in eventing-natss schema', () => {
  test('a document using every natss field validates', () => {
    const r = load(FULL);
    assert.equal(messages(r), '');
    assert.equal(r.resources[0]!.resource.kind, 'NatsJetStreamChannel');
  });

  test('its values reach the settings the channel runs with', () => {
    const spec = load(FULL).resources[0]!.resource.spec as Record<string, unknown>;
    const { settings } = natsChannelConfig(spec, 'test');
    assert.deepEqual(settings, {
      streamName: 'ORDERS',
      maxAgeMs: 86_400_000,
      duplicateWindowMs: 5_400_000,
      maxMessages: 1_000_000,
      maxBytes: 1_073_741_824,
      maxMsgSize: 65_536,
      replicas: 3,
      storage: 'file',
      ackWaitMs: 45_000,
      maxAckPending: 64,
      deliver: { policy: 'new' },
    });
  });

  test('what Sluice cannot honour is accepted and listed, each with why', () => {
    const spec = load(FULL).resources[0]!.resource.spec as Record<string, unknown>;
    const { ignored } = natsChannelConfig(spec, 'test');
    const byPath = Object.fromEntries(ignored.map((f) => [f.path, f.reason]));
    assert.deepEqual(Object.keys(byPath).sort(), [
      'spec.consumerConfigTemplate.consumerType',
      'spec.consumerConfigTemplate.fetchBatchSize',
      'spec.consumerConfigTemplate.fetchMaxWait',
      'spec.consumerConfigTemplate.filterSubject',
      'spec.consumerConfigTemplate.maxDeliver',
      'spec.consumerConfigTemplate.optStartSeq',
      'spec.consumerConfigTemplate.rateLimitBPS',
      'spec.consumerConfigTemplate.replayPolicy',
      'spec.consumerConfigTemplate.sampleFrequency',
      'spec.deploymentSpecTemplate',
      'spec.stream.config.additionalSubjects',
      'spec.stream.config.discard',
      'spec.stream.config.maxConsumers',
      'spec.stream.config.mirror',
      'spec.stream.config.placement',
      'spec.stream.config.retention',
      'spec.stream.config.sources',
    ]);
    assert.equal(byPath['spec.stream.config.retention'], NATSS_IGNORED_REASONS.interest);
    assert.match(byPath['spec.stream.config.discard']!, /429/);
    assert.match(byPath['spec.consumerConfigTemplate.maxDeliver']!, /dead-letter sink/);
  });

  test('values that are what Sluice does anyway are honoured silently; zero values mean "not set", as in Go', () => {
    const r = load(
      channel(`  stream:
    config:
      retention: Limits
      discard: New
      noAck: false
      maxMsgs: 0
      maxAge: "0"
      replicas: 0
      maxConsumers: -1
  consumerConfigTemplate:
    deliverPolicy: All
    replayPolicy: Instant
    consumerType: Pull
    maxDeliver: -1
    maxAckPending: -1
    sampleFrequency: "0"
`),
    );
    assert.equal(messages(r), '');
    const { settings, ignored } = natsChannelConfig(r.resources[0]!.resource.spec as Record<string, unknown>, 'test');
    assert.deepEqual(ignored, []);
    assert.deepEqual(settings, { maxAgeMs: 604_800_000, maxBytes: -1, maxMessages: -1, replicas: 1, storage: 'file', ackWaitMs: 30_000, deliver: { policy: 'all' } });
  });

  test('retention Work (or WorkQueue) is accepted and explained; storage Memory is honoured', () => {
    for (const retention of ['Work', 'WorkQueue']) {
      const r = load(channel(`  stream: {config: {retention: ${retention}, storage: Memory}}\n`));
      assert.equal(messages(r), '');
      const { settings, ignored } = natsChannelConfig(r.resources[0]!.resource.spec as Record<string, unknown>, 'test');
      assert.equal(settings.storage, 'memory');
      assert.deepEqual(ignored, [{ path: 'spec.stream.config.retention', reason: NATSS_IGNORED_REASONS.work }]);
    }
  });

  test('deliverPolicy ByStartSequence and ByStartTime take their start', () => {
    const seq = load(channel('  consumerConfigTemplate: {deliverPolicy: ByStartSequence, optStartSeq: 42}\n'));
    const time = load(channel('  consumerConfigTemplate: {deliverPolicy: ByStartTime, optStartTime: "2024-05-01T02:00:00+02:00"}\n'));
    assert.equal(messages(seq) + messages(time), '');
    assert.deepEqual(natsChannelConfig(seq.resources[0]!.resource.spec as Record<string, unknown>, 't').settings.deliver, { policy: 'by_start_sequence', optStartSeq: 42 });
    assert.deepEqual(natsChannelConfig(time.resources[0]!.resource.spec as Record<string, unknown>, 't').settings.deliver, { policy: 'by_start_time', optStartTime: '2024-05-01T00:00:00.000Z' });
  });

  test("Sluice's flat fields still work, and may be combined with natss's when no setting is given twice", () => {
    const r = load(channel('  maxAge: P1D\n  storage: memory\n  consumerConfigTemplate: {ackWait: 1m}\n'));
    assert.equal(messages(r), '');
    const { settings } = natsChannelConfig(r.resources[0]!.resource.spec as Record<string, unknown>, 'test');
    assert.equal(settings.maxAgeMs, 86_400_000);
    assert.equal(settings.storage, 'memory');
    assert.equal(settings.ackWaitMs, 60_000);
  });
});

describe('NatsJetStreamChannel natss values that cannot work are refused by field', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['a bad Go duration', '  stream: {config: {maxAge: 24x}}\n', /spec\.stream\.config\.maxAge: "24x" is not a duration \(use Go's form, e\.g\. 24h or 1h30m\)/],
    ['an ISO duration where natss takes a Go one', '  consumerConfigTemplate: {ackWait: PT30S}\n', /spec\.consumerConfigTemplate\.ackWait: "PT30S" is not a duration \(use Go's form/],
    ['a negative duration', '  stream: {config: {duplicateWindow: -2m}}\n', /spec\.stream\.config\.duplicateWindow: "-2m" is not a duration/],
    ['an unknown storage', '  stream: {config: {storage: Disk}}\n', /spec\.stream\.config\.storage: "Disk" is not one of File, Memory/],
    ['an unknown retention', '  stream: {config: {retention: Forever}}\n', /spec\.stream\.config\.retention: "Forever" is not one of Limits, Interest, Work, WorkQueue/],
    ['a limit below -1', '  stream: {config: {maxBytes: -2}}\n', /spec\.stream\.config\.maxBytes: must be -1 \(no limit\), 0 \(not set\) or a positive number/],
    ['too many replicas', '  stream: {config: {replicas: 7}}\n', /spec\.stream\.config\.replicas: must be <= 5/],
    ['a stream name JetStream refuses', '  stream: {overrideName: "my.stream"}\n', /spec\.stream\.overrideName: "my\.stream" is not a JetStream stream name/],
    ['an unknown field', '  stream: {config: {maxAges: 1h}}\n', /spec\.stream\.config\.maxAges: unknown field "maxAges"/],
    ['a maxAge under a second', '  stream: {config: {maxAge: 500ms}}\n', /spec\.stream\.config\.maxAge: must be at least 1 second/],
    ['a dedup window longer than maxAge', '  stream: {config: {maxAge: 1h, duplicateWindow: 2h}}\n', /spec\.stream\.config\.duplicateWindow: must not be longer than the stream's maxAge \(3600s\)/],
    ['ByStartSequence without a start', '  consumerConfigTemplate: {deliverPolicy: ByStartSequence}\n', /spec\.consumerConfigTemplate\.optStartSeq: required with deliverPolicy ByStartSequence/],
    ['a start time that is no time', '  consumerConfigTemplate: {deliverPolicy: ByStartTime, optStartTime: yesterday}\n', /spec\.consumerConfigTemplate\.optStartTime: "yesterday" is not an RFC 3339 time/],
    ['a sampleFrequency over 100%', '  consumerConfigTemplate: {sampleFrequency: "130%"}\n', /spec\.consumerConfigTemplate\.sampleFrequency: "130%" is not a percentage from 0 to 100/],
    ['the same setting twice', '  maxAge: PT1H\n  stream: {config: {maxAge: 2h}}\n', /spec\.stream\.config\.maxAge: spec\.maxAge sets this too; keep one of the two/],
  ];
  for (const [what, spec, expected] of cases) {
    test(what, () => {
      const r = load(channel(spec));
      assert.equal(r.resources.length, 0);
      assert.match(messages(r), new RegExp(`natss\\.yaml#1 NatsJetStreamChannel default/orders: ${expected.source}`));
    });
  }

  test("in a Channel's channelTemplate or a Broker's ConfigMap the natss fields are checked alike, under the template's path", () => {
    const template = (spec: string) => `    apiVersion: messaging.knative.dev/v1alpha1
    kind: NatsJetStreamChannel
    spec:
      stream: {config: ${spec}}
`;
    const yaml = (spec: string) => `apiVersion: messaging.knative.dev/v1
kind: Channel
metadata: {name: tpl}
spec:
  channelTemplate:
${template(spec).replace(/^ {4}/gm, '    ')}---
apiVersion: v1
kind: ConfigMap
metadata: {name: nats-channel}
data:
  channel-template-spec: |
${template(spec)}`;
    assert.equal(messages(load(yaml('{maxAge: 24h, storage: File, discard: Old}'))), '');
    const bad = messages(load(yaml('{maxAge: 1h, duplicateWindow: 2h}')));
    assert.match(bad, /natss\.yaml#1 Channel default\/tpl: spec\.channelTemplate\.spec\.stream\.config\.duplicateWindow: must not be longer than the stream's maxAge/);
    assert.match(bad, /natss\.yaml#2 ConfigMap default\/nats-channel: data\.channel-template-spec: spec\.stream\.config\.duplicateWindow: must not be longer/);
  });

  test('the channel factory refuses them too, for callers that skip the loader', () => {
    assert.throws(
      () => natsChannelConfig({ stream: { config: { maxAge: '24x' } } }, 'NatsJetStreamChannel default/x'),
      (e: unknown) => e instanceof InvalidOptionError && /NatsJetStreamChannel default\/x: spec\.stream\.config\.maxAge: "24x" is not a duration/.test(e.message),
    );
    assert.throws(() => natsChannelConfig({ stream: { config: { maxAge: '1h', duplicateWindow: '2h' } } }, 'x'), /duplicateWindow: must not be longer/);
  });
});
