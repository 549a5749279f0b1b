// A ref to a core `v1` Service (Knative's samples use them as sinks and subscribers):
// inside a cluster it resolves to the Service's DNS name, as Knative resolves it; outside
// one the status says why it cannot and what to use; and one named after a Knative Service
// that Sluice runs is that Service, as Knative gives every Knative Service a core Service.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultClusterDomain } from '../../src/server/sluice-server.js';
import { startSink } from '../helpers/sink.js';
import { channelYaml, startSluice, waitUntil } from '../helpers/sluice.js';
import { relayServiceYaml, resourceStatus } from './e2e-helpers.js';

function coreRefSubscription(name: string, service: string, apiVersion = 'v1'): string {
  return `---
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata: {name: ${name}}
spec:
  channel: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: ch}
  subscriber:
    ref: {apiVersion: ${apiVersion}, kind: Service, name: ${service}}
`;
}

type Status = Awaited<ReturnType<typeof resourceStatus>> & { physicalSubscription?: { subscriberUri?: string } };

describe('refs to core v1 Services', () => {
  const open: Array<{ close(): Promise<void> }> = [];
  after(async () => {
    for (const c of open.reverse()) await c.close();
  });

  test('outside a cluster: not ready, and the status names the DNS name it would need and what to use instead', async () => {
    const s = await startSluice(channelYaml('ch') + coreRefSubscription('to-core', 'event-display'), { clusterDomain: undefined });
    open.push(s);
    const st = (await resourceStatus(s, 'Subscription', 'to-core')) as Status;
    const ready = st.conditions.find((c) => c.type === 'Ready');
    assert.equal(ready?.status, 'False');
    assert.match(ready?.message ?? '', /http:\/\/event-display\.default\.svc\.cluster\.local\/ only from inside a cluster/);
    assert.match(ready?.message ?? '', /use uri/);
  });

  test('inside a cluster: the Service DNS name, in the ref namespace and the cluster domain', async () => {
    const s = await startSluice(channelYaml('ch') + coreRefSubscription('to-core', 'event-display'), { clusterDomain: 'corp.internal' });
    open.push(s);
    const st = (await resourceStatus(s, 'Subscription', 'to-core')) as Status;
    assert.equal(st.conditions.find((c) => c.type === 'Ready')?.status, 'True');
    assert.equal(st.physicalSubscription?.subscriberUri, 'http://event-display.default.svc.corp.internal/');
  });

  test('another apiVersion for kind Service is refused by name', async () => {
    const s = await startSluice(channelYaml('ch') + coreRefSubscription('odd', 'x', 'apps/v1'), { clusterDomain: 'cluster.local' });
    open.push(s);
    const ready = ((await resourceStatus(s, 'Subscription', 'odd')) as Status).conditions.find((c) => c.type === 'Ready');
    assert.equal(ready?.status, 'False');
    assert.match(ready?.message ?? '', /apiVersion must be serving\.knative\.dev\/v1 .* or v1 .*, not apps\/v1/);
  });

  test("a core Service named after a Knative Service Sluice runs is that Service: events reach it", async () => {
    const sink = await startSink();
    open.push(sink);
    const s = await startSluice(channelYaml('ch') + relayServiceYaml('hello', { env: { RELAY_TO: sink.url } }) + coreRefSubscription('to-hello', 'hello'), { clusterDomain: undefined });
    open.push(s);
    await waitUntil(async () => ((await resourceStatus(s, 'Subscription', 'to-hello')) as Status).conditions.find((c) => c.type === 'Ready')?.status === 'True', 15_000, 'the Subscription to be ready');
    const st = (await resourceStatus(s, 'Subscription', 'to-hello')) as Status;
    assert.match(st.physicalSubscription?.subscriberUri ?? '', /\/services\/default\/hello$/);
    const res = await fetch(`${s.url}/channels/default/ch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'ce-specversion': '1.0', 'ce-id': 'c1', 'ce-source': 'test', 'ce-type': 'test.core' },
      body: '{"n":1}',
    });
    assert.equal(res.status, 202);
    await waitUntil(() => sink.requests.length > 0, 15_000, 'the event to reach the Service');
  });

  test('the default cluster domain: none outside a pod; $CLUSTER_DOMAIN or cluster.local inside one', () => {
    assert.equal(defaultClusterDomain({}), undefined);
    assert.equal(defaultClusterDomain({ KUBERNETES_SERVICE_HOST: '10.0.0.1' }), 'cluster.local');
    assert.equal(defaultClusterDomain({ KUBERNETES_SERVICE_HOST: '10.0.0.1', CLUSTER_DOMAIN: 'corp.internal' }), 'corp.internal');
  });
});
