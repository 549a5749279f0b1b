import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startSink, type RecordingSink } from '../helpers/sink.js';
import { channelYaml, startSluice, subscriptionYaml, waitUntil } from '../helpers/sluice.js';
import { parseResourcesText } from '../../src/resources/index.js';
import { createSluiceKinds } from '../../src/kinds.js';
import type { ResourceStatus } from '../../src/resources/types.js';
import { ALLOW_LOOP_ANNOTATION, channelCycles, ingressAddressOf, subscriptionSelfLoop, triggerSelfLoop } from '../../src/runtime/loop-guard.js';
import { brokerYaml, emitTo, metricValue, triggerYaml, waitIdle, type Sluice } from './broker-helpers.js';

async function applyYaml(s: Sluice, yaml: string): Promise<void> {
  const loaded = parseResourcesText(yaml, 'more.yaml', { registry: createSluiceKinds() });
  if (loaded.errors.length) throw new Error(loaded.errors.map((e) => e.message).join('\n'));
  await s.runtime.apply(loaded.resources, loaded.secrets);
}

function ready(s: Sluice, kind: string, name: string) {
  const r = s.runtime.listResources().find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(r, `${kind} ${name} exists`);
  const c = (r.status as ResourceStatus).conditions.find((x) => x.type === 'Ready');
  assert.ok(c, `${kind} ${name} has a Ready condition`);
  return c;
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

const BROKER_REF = '{apiVersion: eventing.knative.dev/v1, kind: Broker, name: b}';
const allowLoop = `  annotations: {${ALLOW_LOOP_ANNOTATION}: "true"}`;

describe('loop detection: the address helpers', () => {
  const bases = ['https://events.example.com/', 'http://127.0.0.1:8080'];

  test('a URL is matched to a broker or channel normalised: case, default port, trailing slash, query, encoding, loopback names', () => {
    const broker = { kind: 'broker', namespace: 'default', name: 'b' };
    for (const url of [
      'https://EVENTS.example.com:443/default/b',
      'https://events.example.com/default/b/',
      'https://events.example.com//default//b?x=1#f',
      'https://events.example.com/%64efault/b',
      'http://localhost:8080/default/b',
      'http://[::1]:8080/default/b/',
    ]) {
      assert.deepEqual(ingressAddressOf(url, bases), broker, url);
    }
    for (const url of ['http://events.example.com/default/b', 'https://events.example.com:8443/default/b', 'http://127.0.0.1:8081/default/b', 'https://other.example.com/default/b']) {
      assert.equal(ingressAddressOf(url, bases), undefined, url);
    }
    assert.equal(ingressAddressOf('https://events.example.com/default/b/x', bases), undefined);
    assert.equal(ingressAddressOf('https://events.example.com/sources/default/gh', bases), undefined);
    assert.equal(ingressAddressOf('https://events.example.com/services/default/svc', bases), undefined);
    assert.deepEqual(ingressAddressOf('https://events.example.com/channels/default/c/', bases), { kind: 'channel', namespace: 'default', name: 'c' });
    assert.deepEqual(ingressAddressOf('http://c-kn-channel.default.svc.cluster.local', []), { kind: 'channel', namespace: 'default', name: 'c' });
    assert.deepEqual(ingressAddressOf('http://c-kn-channel.team.svc:8080/any/path', []), { kind: 'channel', namespace: 'team', name: 'c' });
    // A public URL with a path prefix (behind a proxy that strips it).
    assert.deepEqual(ingressAddressOf('https://gw.example.com/sluice/default/b', ['https://gw.example.com/sluice']), broker);
    assert.equal(ingressAddressOf('https://gw.example.com/default/b', ['https://gw.example.com/sluice']), undefined);
  });

  test('only the own broker or channel is a self-loop', () => {
    assert.equal(triggerSelfLoop('https://events.example.com/default/b', 'default', 'b', bases)?.reason, 'SubscriberIsOwnBroker');
    assert.equal(triggerSelfLoop('https://events.example.com/default/other', 'default', 'b', bases), undefined);
    assert.equal(triggerSelfLoop('https://events.example.com/team/b', 'default', 'b', bases), undefined);
    assert.equal(triggerSelfLoop('https://events.example.com/channels/default/b', 'default', 'b', bases), undefined);
    assert.equal(subscriptionSelfLoop({ subscriber: 'http://sink.example/' }, 'default', 'c', bases), undefined);
    assert.equal(subscriptionSelfLoop({ subscriber: 'http://sink.example/', reply: 'http://c-kn-channel.default.svc.cluster.local' }, 'default', 'c', bases)?.reason, 'ReplyIsOwnChannel');
  });

  test('cycles of two or more channels are found, chains and self-edges are not', () => {
    const loops = channelCycles(
      [
        { subscription: 'default/a-to-b', from: 'default/a', urls: ['https://events.example.com/channels/default/b'] },
        { subscription: 'default/b-to-c', from: 'default/b', urls: ['http://sink.example/', 'http://c-kn-channel.default.svc.cluster.local'] },
        { subscription: 'default/c-to-a', from: 'default/c', urls: ['http://localhost:8080/channels/default/a'] },
        { subscription: 'default/c-to-d', from: 'default/c', urls: ['https://events.example.com/channels/default/d'] },
        { subscription: 'default/d-to-d', from: 'default/d', urls: ['https://events.example.com/channels/default/d'] },
        { subscription: 'default/d-to-b', from: 'default/d', urls: ['https://events.example.com/default/b'] },
      ],
      bases,
    );
    assert.deepEqual([...loops.keys()].sort(), ['default/a-to-b', 'default/b-to-c', 'default/c-to-a']);
    const l = loops.get('default/a-to-b')!;
    assert.equal(l.reason, 'ChannelLoop');
    assert.match(l.description, /default\/a → default\/b → default\/c → default\/a/);
    assert.match(l.description, /Subscriptions default\/a-to-b, default\/b-to-c, default\/c-to-a/);
  });
});

describe('a Trigger whose subscriber is its own Broker', () => {
  let sink: RecordingSink;
  let s: Sluice;
  before(async () => {
    sink = await startSink();
    const yaml =
      brokerYaml('b') +
      brokerYaml('b2') +
      triggerYaml('healthy', 'b', `${sink.url}healthy`) +
      `---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: loop-ref}
spec:
  broker: b
  subscriber: {ref: ${BROKER_REF}}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: intended
${allowLoop}
spec:
  broker: b2
  subscriber: {ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: b2}}
`;
    s = await startSluice(yaml);
    // The broker's address is known only once the port is bound: a loopback alias and a trailing slash.
    await applyYaml(s, triggerYaml('loop-uri', 'b', `${s.url.replace('127.0.0.1', 'localhost')}/default/b/`));
  });
  after(async () => {
    await s?.close();
    await sink?.close();
  });

  test('is Ready False with reason SubscriberIsOwnBroker, by ref and by uri, and is not subscribed', () => {
    for (const name of ['loop-ref', 'loop-uri']) {
      const c = ready(s, 'Trigger', name);
      assert.equal(c.status, 'False', name);
      assert.equal(c.reason, 'SubscriberIsOwnBroker', name);
      assert.match(c.message ?? '', /own Broker default\/b/);
      assert.match(c.message ?? '', /sluice\.dev\/allow-loop/);
    }
    assert.equal(ready(s, 'Trigger', 'healthy').status, 'True');
    const subs = Object.keys(s.brokers.instances.get('default/b')!.channel.stats().subscriptions);
    assert.deepEqual(subs, ['default/healthy']);
  });

  test('events are delivered once to the other Triggers, with no loop and no TTL expiry', async () => {
    const emit = emitTo(`${s.url}/default/b`);
    for (const id of ['l1', 'l2', 'l3']) await emit({ id });
    await sink.waitFor(3);
    await waitIdle(s, 'b');
    await pause(200);
    assert.deepEqual(sink.requests.map((r) => r.headers['ce-id']).sort(), ['l1', 'l2', 'l3']);
    assert.equal(await metricValue(s, 'sluice_broker_ttl_expired_total', { resource: 'b' }), 0);
  });

  test('with the allow-loop annotation it is Ready and wired', () => {
    assert.equal(ready(s, 'Trigger', 'intended').status, 'True');
    assert.ok('default/intended' in s.brokers.instances.get('default/b2')!.channel.stats().subscriptions);
  });

  test('a wired Trigger changed to point at its own broker is unwired; fixed, it is wired again', async () => {
    await applyYaml(s, triggerYaml('healthy', 'b', `${s.url}/default/b`));
    assert.equal(ready(s, 'Trigger', 'healthy').reason, 'SubscriberIsOwnBroker');
    assert.deepEqual(Object.keys(s.brokers.instances.get('default/b')!.channel.stats().subscriptions), []);
    await applyYaml(s, triggerYaml('healthy', 'b', `${sink.url}healthy`));
    assert.equal(ready(s, 'Trigger', 'healthy').status, 'True');
    assert.deepEqual(Object.keys(s.brokers.instances.get('default/b')!.channel.stats().subscriptions), ['default/healthy']);
  });
});

describe('a Subscription whose subscriber or reply is its own channel', () => {
  let sink: RecordingSink;
  let s: Sluice;
  const subs = () => Object.keys(s.runtime.channelStats().find((c) => c.name === 'c')!.stats.subscriptions).sort();
  before(async () => {
    sink = await startSink();
    const ref = '{ref: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: c}}';
    const yaml =
      channelYaml('c') +
      subscriptionYaml('ok', 'c', `${sink.url}ok`) +
      subscriptionYaml('self-ref', 'c', 'http://placeholder.invalid/').replace('subscriber: {uri: "http://placeholder.invalid/"}', `subscriber: ${ref}`) +
      subscriptionYaml('self-host', 'c', 'http://c-kn-channel.default.svc.cluster.local') +
      subscriptionYaml('self-reply', 'c', `${sink.url}self-reply`, `  reply: ${ref}\n`) +
      subscriptionYaml('intended', 'c', 'http://c-kn-channel.default.svc.cluster.local').replace('metadata: {name: intended}', `metadata:\n  name: intended\n${allowLoop}`) +
      '---\n' + channelYaml('x') +
      '---\n' + channelYaml('y') +
      subscriptionYaml('x-to-y', 'x', 'http://y-kn-channel.default.svc.cluster.local') +
      subscriptionYaml('y-to-x', 'y', 'http://x-kn-channel.default.svc.cluster.local');
    s = await startSluice(yaml);
    await applyYaml(s, subscriptionYaml('self-uri', 'c', `${s.url}/channels/default/c/`));
  });
  after(async () => {
    await s?.close();
    await sink?.close();
  });

  test('is Ready False with SubscriberIsOwnChannel (by ref, uri and Host address) or ReplyIsOwnChannel', () => {
    for (const [name, reason] of [
      ['self-ref', 'SubscriberIsOwnChannel'],
      ['self-uri', 'SubscriberIsOwnChannel'],
      ['self-host', 'SubscriberIsOwnChannel'],
      ['self-reply', 'ReplyIsOwnChannel'],
    ] as const) {
      const c = ready(s, 'Subscription', name);
      assert.equal(c.status, 'False', name);
      assert.equal(c.reason, reason, name);
      assert.match(c.message ?? '', /own channel default\/c/, name);
    }
  });

  test('with the allow-loop annotation it is Ready and wired; the others are not wired', () => {
    assert.equal(ready(s, 'Subscription', 'intended').status, 'True');
    assert.deepEqual(subs(), ['default/intended', 'default/ok']);
  });

  test('a two-channel cycle is Ready False with ChannelLoop on both Subscriptions', () => {
    for (const name of ['x-to-y', 'y-to-x']) {
      const c = ready(s, 'Subscription', name);
      assert.equal(c.status, 'False', name);
      assert.equal(c.reason, 'ChannelLoop', name);
    }
    assert.match(ready(s, 'Subscription', 'x-to-y').message ?? '', /default\/x → default\/y → default\/x/);
  });

  test('the normal Subscription on the same channel still delivers each event once', async () => {
    // Without the loop-allowed one, so the channel's events do not go round.
    await s.runtime.delete('Subscription', 'default', 'intended');
    const emit = emitTo(`${s.url}/channels/default/c`);
    for (const id of ['c1', 'c2']) await emit({ id });
    await sink.waitFor(2);
    await pause(200);
    assert.deepEqual(sink.requests.map((r) => `${r.url} ${String(r.headers['ce-id'])}`).sort(), ['/ok c1', '/ok c2']);
  });

  test('breaking the cycle wires the remaining Subscription', async () => {
    await s.runtime.delete('Subscription', 'default', 'y-to-x');
    await waitUntil(() => ready(s, 'Subscription', 'x-to-y').status === 'True');
  });
});
