import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Mode } from 'cloudevents';
import { startSink, type RecordingSink } from '../helpers/sink.js';
import { channelYaml, startSluice, waitUntil } from '../helpers/sluice.js';
import { parseResourcesText } from '../../src/resources/index.js';
import { createSluiceKinds } from '../../src/kinds.js';
import { asEvent, brokerYaml, emitTo, idsByPath, metricValue, triggerYaml, waitIdle, type Sluice } from './broker-helpers.js';

// Each Trigger delivers to its own path on one sink, so what each one matched is visible.
const TRIGGERS: Array<[name: string, spec: string, expected: string[]]> = [
  ['all', '', ['e1', 'e2', 'e3', 'e4']],
  ['legacy-exists', '  filter: {attributes: {region: ""}}', ['e1', 'e2', 'e4']],
  ['legacy-exact', '  filter: {attributes: {type: com.example.order.created, region: eu}}', ['e1']],
  ['legacy-extension', '  filter: {attributes: {priority: high}}', ['e4']],
  ['exact', '  filters: [{exact: {type: com.example.order.cancelled}}]', ['e2']],
  ['exact-case', '  filters: [{exact: {type: COM.EXAMPLE.ORDER.CANCELLED}}]', []],
  ['prefix', '  filters: [{prefix: {type: com.example.order.}}]', ['e1', 'e2']],
  ['suffix', '  filters: [{suffix: {source: /eu}}]', ['e1', 'e3']],
  ['all-of', '  filters: [{all: [{prefix: {type: com.example.}}, {suffix: {source: /eu}}]}]', ['e1', 'e3']],
  ['any-of', '  filters: [{any: [{exact: {region: us}}, {exact: {priority: high}}]}]', ['e2', 'e4']],
  ['not', '  filters: [{not: {prefix: {type: com.example.}}}]', ['e4']],
  ['cesql', `  filters: [{cesql: "region = 'eu' AND EXISTS subject AND INT(subject) > 100"}]`, ['e1']],
  ['cesql-functions', `  filters: [{cesql: "UPPER(region) IN ('US', 'APAC') OR (LENGTH(source) = 2 XOR FALSE)"}]`, ['e2', 'e4']],
  [
    'nested',
    `  filters:
    - any:
        - all: [{exact: {region: eu}}, {not: {exact: {type: org.other.thing}}}]
        - cesql: "source LIKE '/billing/%'"`,
    ['e1', 'e3'],
  ],
  ['anded', `  filters: [{prefix: {type: com.example.}}, {cesql: "region IN ('us', 'eu')"}]`, ['e1', 'e2']],
  ['filters-override', '  filter: {attributes: {type: nope}}\n  filters: [{exact: {type: org.other.thing}}]', ['e4']],
];

const EVENTS: Array<Record<string, unknown>> = [
  { id: 'e1', type: 'com.example.order.created', source: '/shop/eu', region: 'eu', subject: '123', data: { n: 1 } },
  { id: 'e2', type: 'com.example.order.cancelled', source: '/shop/us', region: 'us', subject: '7' },
  { id: 'e3', type: 'com.example.invoice.paid', source: '/billing/eu' },
  { id: 'e4', type: 'org.other.thing', source: '/x', region: 'eu', priority: 'high' },
];

describe('Broker routing through Triggers (CloudEvents SDK in, real HTTP sinks out)', () => {
  let sink: RecordingSink;
  let s: Sluice;
  before(async () => {
    sink = await startSink();
    const yaml = brokerYaml('default') + TRIGGERS.map(([name, spec]) => triggerYaml(name, 'default', `${sink.url}${name}`, spec)).join('\n');
    s = await startSluice(yaml);
  });
  after(async () => {
    await s?.close();
    await sink?.close();
  });
  // Each test sends its own events and reads only what arrived after it started.
  beforeEach(async () => {
    await waitIdle(s, 'default');
    sink.requests.length = 0;
  });

  test('every filter dialect, nesting included, delivers exactly the events it matches', async () => {
    const binary = emitTo(`${s.url}/default/default`, Mode.BINARY);
    const structured = emitTo(`${s.url}/default/default`, Mode.STRUCTURED);
    for (const [i, e] of EVENTS.entries()) await (i % 2 ? structured : binary)(e);
    const total = TRIGGERS.reduce((n, [, , exp]) => n + exp.length, 0);
    await sink.waitFor(total, 10_000);
    await waitIdle(s, 'default');
    const expected = Object.fromEntries(TRIGGERS.filter(([, , exp]) => exp.length).map(([name, , exp]) => [`/${name}`, [...exp].sort()]));
    assert.deepEqual(idsByPath(sink.requests), expected);
  });

  test('subscribers get the event with knativearrivaltime, without the broker TTL, data unchanged', async () => {
    await emitTo(`${s.url}/default/default`)({ id: 'as-sent', type: 'com.example.order.cancelled', region: 'eu', data: { n: 1 } });
    await waitUntil(() => sink.requests.some((x) => x.url === '/exact'), 10_000, 'the /exact delivery');
    const r = sink.requests.find((x) => x.url === '/exact')!;
    const e = asEvent(r);
    assert.equal(e.id, 'as-sent');
    assert.ok(typeof e.knativearrivaltime === 'string' && !Number.isNaN(Date.parse(e.knativearrivaltime as string)), 'knativearrivaltime is an RFC 3339 time');
    assert.equal(r.headers['ce-knativebrokerttl'], undefined);
    assert.equal(r.headers.prefer, 'reply');
    assert.deepEqual(e.data, { n: 1 });
    assert.equal(e.region, 'eu');
  });

  test('ingress: 202 once stored, 404 unknown broker, 400 bad event, 405 other methods', async () => {
    const url = `${s.url}/default/default`;
    const ok = await fetch(url, { method: 'POST', headers: { 'ce-specversion': '1.0', 'ce-id': 'x1', 'ce-source': '/t', 'ce-type': 'nothing.matches' } });
    assert.equal(ok.status, 202);
    const missing = await fetch(`${s.url}/default/nope`, { method: 'POST', headers: { 'ce-specversion': '1.0', 'ce-id': 'x', 'ce-source': '/t', 'ce-type': 't' } });
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { reason: string }).reason, 'SLUICE_ERR_NOT_FOUND');
    const bad = await fetch(url, { method: 'POST', headers: { 'ce-specversion': '1.0', 'ce-source': '/t', 'ce-type': 't' } });
    assert.equal(bad.status, 400);
    const body = (await bad.json()) as { error: string; reason: string };
    assert.match(body.error, /id/);
    const get = await fetch(url);
    assert.equal(get.status, 405);
    assert.match(get.headers.get('allow') ?? '', /POST/);
    await get.body?.cancel();
    const expired = await fetch(url, { method: 'POST', headers: { 'ce-specversion': '1.0', 'ce-id': 'x2', 'ce-source': '/t', 'ce-type': 't', 'ce-knativebrokerttl': '1' } });
    assert.equal(expired.status, 400);
    assert.equal(((await expired.json()) as { reason: string }).reason, 'SLUICE_ERR_TTL_EXPIRED');
  });

  test('metrics: per-trigger backlog gauges under the broker', async () => {
    const exact = { namespace_name: 'default', resource: 'default', subscription: 'exact' };
    const delivered = await metricValue(s, 'sluice_events_delivered_total', exact);
    await emitTo(`${s.url}/default/default`)({ id: 'counted', type: 'com.example.order.cancelled' });
    await waitUntil(async () => (await metricValue(s, 'sluice_events_delivered_total', exact)) === delivered + 1, 10_000, 'the /exact delivery counted');
    await waitIdle(s, 'default');
    assert.match(await s.metrics.registry.metrics(), /sluice_subscription_backlog_events\{namespace_name="default",resource="default",subscription="exact"\} 0/);
    assert.equal(await metricValue(s, 'sluice_events_delivered_total', exact), delivered + 1);
  });

  test('status: Broker address and Ready; Trigger subscriberUri', () => {
    const views = s.runtime.listResources();
    const broker = views.find((v) => v.kind === 'Broker')!;
    const st = broker.status as { address: { url: string }; conditions: Array<{ status: string; reason: string }> };
    assert.equal(st.address.url, `${s.url}/default/default`);
    assert.equal(st.conditions[0]!.status, 'True');
    const t = views.find((v) => v.kind === 'Trigger' && v.metadata.name === 'exact')!;
    const ts = t.status as { subscriberUri: string; conditions: Array<{ status: string }> };
    assert.equal(ts.conditions[0]!.status, 'True');
    assert.equal(ts.subscriberUri, `${sink.url}exact`);
  });
});

describe('Broker lifecycle: refs, status reasons, runtime deletes', () => {
  let sink: RecordingSink;
  let s: Sluice;
  after(async () => {
    await s?.close();
    await sink?.close();
  });

  test('ref: {kind: Broker} resolves; missing broker and subscriber give Knative reasons; deletes tear down', async () => {
    sink = await startSink();
    s = await startSluice(
      channelYaml('in') +
        `---
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata: {name: into-broker}
spec:
  channel: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: in}
  subscriber: {ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: shop}}
` +
        brokerYaml('shop') +
        triggerYaml('orders', 'shop', `${sink.url}orders`, '  filters: [{exact: {type: order}}]') +
        triggerYaml('orphan', 'gone', sink.url) +
        `---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: unresolved}
spec:
  broker: shop
  subscriber: {ref: {apiVersion: messaging.sluice.dev/v1alpha1, kind: EventDisplay, name: missing}}
`,
    );
    const status = (kind: string, name: string) => {
      const v = s.runtime.listResources().find((r) => r.kind === kind && r.metadata.name === name)!;
      return (v.status as { conditions: Array<{ status: string; reason: string; message?: string }> }).conditions[0]!;
    };
    assert.equal(status('Subscription', 'into-broker').status, 'True');
    assert.deepEqual([status('Trigger', 'orphan').status, status('Trigger', 'orphan').reason], ['False', 'BrokerDoesNotExist']);
    assert.deepEqual([status('Trigger', 'unresolved').status, status('Trigger', 'unresolved').reason], ['False', 'SubscriberResolveFailed']);

    // Through a channel into the broker, then to the Trigger.
    await emitTo(`${s.url}/channels/default/in`)({ id: 'via-channel', type: 'order' });
    await sink.waitFor(1);
    assert.equal(sink.requests[0]!.url, '/orders');
    assert.ok(sink.requests[0]!.headers['ce-knativearrivaltime']);

    // Deleting the Trigger stops its deliveries; deleting the Broker removes its address.
    assert.equal(await s.runtime.delete('Trigger', 'default', 'orders'), true);
    await emitTo(`${s.url}/default/shop`)({ id: 'after-delete', type: 'order' });
    await waitIdle(s, 'shop');
    assert.equal(sink.requests.length, 1);
    assert.equal(await s.runtime.delete('Broker', 'default', 'shop'), true);
    const r = await fetch(`${s.url}/default/shop`, { method: 'POST', headers: { 'ce-specversion': '1.0', 'ce-id': 'x', 'ce-source': '/t', 'ce-type': 'order' } });
    assert.equal(r.status, 404);
    assert.equal(status('Trigger', 'unresolved').reason, 'BrokerDoesNotExist');
    assert.equal(status('Subscription', 'into-broker').reason, 'DestinationNotResolved');
    await waitUntil(() => !s.brokers.instances.has('default/shop'), 1000, 'broker instance removed');
  });

  test("re-applying a Trigger's filter or the Broker's channel config takes effect at once", async () => {
    const sink2 = await startSink();
    const live = await startSluice('');
    const load = (text: string) => parseResourcesText(text, 'live.yaml', { registry: createSluiceKinds() }).resources;
    const cm = (capacity: number) => `apiVersion: v1
kind: ConfigMap
metadata: {name: small}
data:
  channel-template-spec: |
    apiVersion: messaging.knative.dev/v1
    kind: InMemoryChannel
    spec: {capacity: ${capacity}}
`;
    const broker = brokerYaml('live', 'spec:\n  config: {apiVersion: v1, kind: ConfigMap, name: small}\n');
    try {
      await live.runtime.apply(load(cm(100) + broker + triggerYaml('t', 'live', sink2.url, '  filters: [{exact: {type: a}}]')));
      const emit = emitTo(`${live.url}/default/live`);
      await emit({ id: '1', type: 'a' });
      await emit({ id: '2', type: 'b' });
      await sink2.waitFor(1);
      const generation = live.brokers.instances.get('default/live')!.generation;
      await live.runtime.apply(load(cm(200) + triggerYaml('t', 'live', sink2.url, '  filters: [{exact: {type: b}}]')));
      assert.notEqual(live.brokers.instances.get('default/live')!.generation, generation, 'a new backing channel');
      await emit({ id: '3', type: 'a' });
      await emit({ id: '4', type: 'b' });
      await sink2.waitFor(2);
      await waitIdle(live, 'live');
      assert.deepEqual(sink2.requests.map((r) => r.headers['ce-id']), ['1', '4']);
    } finally {
      await live.close();
      await sink2.close();
    }
  });
});

describe('config/broker-example.yaml', () => {
  test('runs with no other service: orders reach the displays their Triggers select', async () => {
    const s = await startSluice(readFileSync('config/broker-example.yaml', 'utf8'));
    try {
      const emit = emitTo(`${s.url}/default/default`);
      await emit({ id: 'o1', source: '/shop', type: 'dev.example.order.created', region: 'eu' });
      await emit({ id: 'o2', source: '/shop', type: 'dev.example.order.created', region: 'us' });
      await emit({ id: 'p1', source: '/shop', type: 'dev.example.payment' });
      const ids = (name: string) => s.displays.displays.get(`default/${name}`)?.recent().map((e) => e.attributes.id) ?? [];
      await waitUntil(() => ids('orders').length === 2 && ids('eu-orders').length === 1, 5000, 'the displays');
      await waitIdle(s, 'default');
      assert.deepEqual(ids('orders').sort(), ['o1', 'o2']);
      assert.deepEqual(ids('eu-orders'), ['o1']);
      assert.deepEqual(ids('broker-dead-letters'), []);
    } finally {
      await s.close();
    }
  });
});
