import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.js';
import { startSink, type RecordingSink } from '../helpers/sink.js';
import { startSluice, waitUntil } from '../helpers/sluice.js';
import { asEvent, emitTo, triggerYaml, type Sluice } from './broker-helpers.js';

// Two ways to put a broker on JetStream: Knative's spec.config naming a ConfigMap whose
// channel-template-spec is the channel to create, and Sluice's channel-kind annotation.
function yaml(sinkUrl: string): string {
  return (
    `apiVersion: v1
kind: ConfigMap
metadata: {name: nats-channel}
data:
  channel-template-spec: |
    apiVersion: messaging.knative.dev/v1alpha1
    kind: NatsJetStreamChannel
    spec: {ackWait: PT1S}
---
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {name: durable}
spec:
  config: {apiVersion: v1, kind: ConfigMap, name: nats-channel}
---
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata:
  name: annotated
  annotations: {sluice.dev/channel-kind: NatsJetStreamChannel}
` +
    triggerYaml('orders', 'durable', `${sinkUrl}orders`, '  filters: [{exact: {type: order}}]\n  delivery: {retry: 20, backoffPolicy: linear, backoffDelay: PT0.1S}') +
    triggerYaml('blue', 'annotated', `${sinkUrl}blue`, '  filters: [{exact: {team: blue}}]\n  delivery: {retry: 20, backoffPolicy: linear, backoffDelay: PT0.1S}')
  );
}

describe('Broker backed by a NatsJetStreamChannel', () => {
  let nats: NatsServer;
  let sink: RecordingSink;
  const servers: Sluice[] = [];
  before(async () => {
    nats = await startNatsServer();
  });
  after(async () => {
    await Promise.all(servers.map((s) => s.close()));
    await sink?.close();
    await nats?.dispose();
  });

  const start = async () => {
    const s = await startSluice(yaml(sink.url), { nats: { servers: nats.url }, drainTimeoutMs: 500 });
    servers.push(s);
    for (const key of ['default/durable', 'default/annotated']) {
      await waitUntil(() => s.brokers.instances.get(key)?.ingress.notReadyReason() === undefined, 15_000, `${key} connected to NATS`);
    }
    return s;
  };

  test('events are kept in JetStream across a Sluice restart and delivered by their trigger; the annotation picks JetStream too', async () => {
    let up = false;
    const accepted = new Set<string>();
    sink = await startSink((req, res) => {
      if (up) accepted.add(`${req.url} ${String(req.headers['ce-id'])}`);
      res.statusCode = up ? 202 : 503;
      res.end();
    });
    const first = await start();
    assert.equal(first.brokers.instances.get('default/durable')!.backendKind, 'NatsJetStreamChannel');
    assert.equal(first.brokers.instances.get('default/annotated')!.backendKind, 'NatsJetStreamChannel');

    const emit = emitTo(`${first.url}/default/durable`);
    for (let i = 0; i < 5; i++) await emit({ id: `o${i}`, type: 'order' });
    await emit({ id: 'other', type: 'not-an-order' });
    // The subscriber is down: every matching event is attempted and kept for a retry.
    const attempted = () => new Set(sink.requests.map((r) => `${r.url} ${String(r.headers['ce-id'])}`));
    await waitUntil(() => attempted().size === 5, 15_000, 'first attempts');
    await first.close();

    up = true;
    const second = await start();
    await emitTo(`${second.url}/default/annotated`)({ id: 'b1', type: 'x', team: 'blue' });
    await emitTo(`${second.url}/default/annotated`)({ id: 'r1', type: 'x', team: 'red' });
    const want = ['/blue b1', '/orders o0', '/orders o1', '/orders o2', '/orders o3', '/orders o4'];
    await waitUntil(() => want.every((w) => accepted.has(w)), 20_000, 'every matching event delivered after the restart').catch((err: Error) => {
      throw new Error(`${err.message}; delivered: ${[...accepted].join(', ')}; requests: ${sink.requests.length}`);
    });
    assert.deepEqual([...attempted()].sort(), want, 'no other event reached a subscriber');
    const order = asEvent(sink.requests.find((r) => r.headers['ce-id'] === 'o0')!);
    assert.ok(order.knativearrivaltime);
    assert.equal(sink.requests.find((r) => r.headers['ce-id'] === 'o0')!.headers['ce-knativebrokerttl'], undefined);
    const status = second.runtime.listResources().find((v) => v.kind === 'Broker' && v.metadata.name === 'durable')!.status as {
      backend: string;
      address: { url: string };
    };
    assert.equal(status.backend, 'NatsJetStreamChannel');
    assert.equal(status.address.url, `${second.url}/default/durable`);
  });
});
