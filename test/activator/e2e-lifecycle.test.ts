import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { parseResourcesText } from '../../src/resources/index.js';
import { createSluiceKinds } from '../../src/kinds.js';
import { startSluice, channelYaml, waitUntil } from '../helpers/sluice.js';
import { startSink } from '../helpers/sink.js';
import { alive, binaryEvent, relayed, relayServiceYaml, resourceStatus, serviceSubscriptionYaml } from './e2e-helpers.js';

const warm = { 'autoscaling.knative.dev/min-scale': '1', 'autoscaling.knative.dev/initial-scale': '1' };

async function call(url: string): Promise<{ status: number; pid: number; version: string; body: string }> {
  const res = await request(url, { method: 'POST', body: 'x' });
  const body = await res.body.text();
  return { status: res.statusCode, pid: Number(res.headers['x-replica-pid']), version: String(res.headers['x-version']), body };
}

test('Service lifecycle: an image-only Service without a container runtime is not Ready while others serve; a change rolls; delete and close stop the replicas', async () => {
  const imageOnly = `---
apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: bad}
spec:
  template:
    spec:
      containers:
        - image: ghcr.io/example/encoder:1
`;
  const sink = await startSink();
  // A uri next to a Service ref is a path below the service's root.
  const withPath = serviceSubscriptionYaml('to-other', 'c', 'other').replace(/(ref: \{[^}]*\})\n/, '$1\n    uri: /hooks/in?x=1\n');
  const yaml =
    channelYaml('c') +
    imageOnly +
    relayServiceYaml('good', { annotations: warm }) +
    relayServiceYaml('other', { annotations: warm, env: { RELAY_TO: sink.url } }) +
    serviceSubscriptionYaml('to-bad', 'c', 'bad') +
    withPath;
  const sluice = await startSluice(yaml, { containerRuntime: 'none' });
  const pids: number[] = [];
  try {
    // The image-only Service: not Ready, with a reason naming the field; nothing crashed.
    const bad = await resourceStatus(sluice, 'Service', 'bad');
    assert.equal(bad.conditions[0]!.status, 'False');
    assert.equal(bad.conditions[0]!.reason, 'ContainerRuntimeUnavailable');
    assert.match(bad.conditions[0]!.message!, /image ghcr\.io\/example\/encoder:1 cannot run: container runtime disabled \(--container-runtime none\); set command/);
    const sub = await resourceStatus(sluice, 'Subscription', 'to-bad');
    assert.equal(sub.conditions[0]!.status, 'False');
    assert.match(sub.conditions[0]!.message!, /spec\.subscriber: Service default\/bad is not ready/);
    const res = await request(`${sluice.url}/services/default/bad/`);
    assert.equal(res.statusCode, 503);
    const err = (await res.body.json()) as { error: string; reason: string };
    assert.equal(err.reason, 'SLUICE_ERR_NOT_READY');
    assert.match(err.error, /cannot run: container runtime disabled/);
    const toOther = await resourceStatus(sluice, 'Subscription', 'to-other');
    assert.equal((toOther.physicalSubscription as { subscriberUri: string }).subscriberUri, `${sluice.url}/services/default/other/hooks/in?x=1`);
    const ev = binaryEvent('p1');
    const posted = await request(`${sluice.url}/channels/default/c`, { method: 'POST', headers: ev.headers, body: ev.body });
    await posted.body.dump();
    assert.equal(posted.statusCode, 202);
    await sink.waitFor(1, 10_000);
    assert.equal(relayed(sink.requests[0]!).url, '/hooks/in?x=1');
    const missing = await request(`${sluice.url}/services/default/nope/`);
    assert.equal(missing.statusCode, 404);
    await missing.body.dump();

    // The others serve.
    const v1 = await call(`${sluice.url}/services/default/good/`);
    assert.equal(v1.status, 202);
    assert.equal(v1.version, 'v1');
    const other = await call(`${sluice.url}/services/default/other/?direct=1`);
    assert.equal(other.status, 202);
    pids.push(v1.pid, other.pid);
    await waitUntil(async () => (await resourceStatus(sluice, 'Service', 'good')).conditions[0]!.status === 'True', 5000, 'good Ready');

    // A change rolls: a request in flight on v1 finishes on v1, new requests reach v2, v1 stops.
    const inFlight = call(`${sluice.url}/services/default/good/slow?sleep=700`);
    await waitUntil(() => sluice.services.activator.get('default/good')!.status().inFlight === 1, 5000, 'the slow request to be in flight');
    const changed = parseResourcesText(relayServiceYaml('good', { annotations: warm, env: { VERSION: 'v2' } }), 'update.yaml', { registry: createSluiceKinds() });
    await sluice.runtime.apply(changed.resources);
    const during: Array<Promise<{ status: number; version: string }>> = [];
    let v2: { pid: number; version: string } | undefined;
    await waitUntil(async () => {
      const p = call(`${sluice.url}/services/default/good/`);
      during.push(p);
      const r = await p;
      if (r.version === 'v2') v2 = r;
      return r.version === 'v2';
    }, 15_000, 'v2 to serve');
    for (const r of await Promise.all(during)) assert.equal(r.status, 202, 'no request failed during the rollout');
    const slow = await inFlight;
    assert.equal(slow.status, 202);
    assert.equal(slow.version, 'v1', 'the in-flight request finished on the old version');
    await waitUntil(() => !alive(v1.pid), 15_000, 'the v1 replica to stop after draining');
    assert.ok(alive(v2!.pid));

    // Delete: replicas stop, the route goes.
    await sluice.runtime.delete('Service', 'default', 'good');
    await waitUntil(() => !alive(v2!.pid), 15_000, 'the deleted Service replica to stop');
    const gone = await request(`${sluice.url}/services/default/good/`);
    assert.equal(gone.statusCode, 404);
    await gone.body.dump();
    assert.ok(alive(other.pid), 'other Services are untouched');
  } finally {
    await sluice.close();
    await sink.close();
  }
  // Close: no replica is left behind.
  for (const pid of pids) assert.equal(alive(pid), false, `replica ${pid} stopped with the server`);
});
