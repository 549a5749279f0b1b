import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CloudEvent, HTTP } from 'cloudevents';
import { request } from 'undici';
import { InvalidOptionError } from '../../src/errors.js';
import { startSluice, channelYaml, waitUntil } from '../helpers/sluice.js';
import { startSink } from '../helpers/sink.js';
import { FakeKubeAppsApi } from '../helpers/fake-kube-apps-api.js';
import { resourceStatus } from './e2e-helpers.js';

function deploymentSubscription(name: string, deployment: string): string {
  return `---
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata: {name: ${name}}
spec:
  channel: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: jobs}
  subscriber:
    ref: {apiVersion: apps/v1, kind: Deployment, name: ${deployment}}
  delivery: {retry: 0}
`;
}

test('a subscriber ref to an apps/v1 Deployment: the first event scales it 0 -> 1 through the scale subresource, is delivered once ready, and idle brings it back to 0', async () => {
  const api = await new FakeKubeAppsApi().start();
  // Stands in for the pods behind the Deployment's Kubernetes Service.
  const pods = await startSink();
  api.readyDelayMs = 200;
  api.addDeployment('default', 'worker', 0, {
    'activator.sluice.dev/url': pods.url,
    'autoscaling.knative.dev/initial-scale': '0',
    'autoscaling.knative.dev/window': '300ms',
  });
  const sluice = await startSluice(channelYaml('jobs') + deploymentSubscription('jobs-to-worker', 'worker'), { kubeConfig: () => api.kubeConfig() });
  try {
    const sub = await resourceStatus(sluice, 'Subscription', 'jobs-to-worker');
    assert.equal(sub.conditions[0]!.status, 'True', JSON.stringify(sub));
    // The Deployment's annotations are read and applied (initial-scale 0 keeps it at zero).
    await waitUntil(() => api.requests.some((r) => r.method === 'GET' && r.path.endsWith('/deployments/worker')), 5000, 'the Deployment to be read');
    assert.equal(api.deployment('default', 'worker')!.replicas, 0);

    const msg = HTTP.binary(new CloudEvent({ id: 'job-1', source: '/e2e', type: 'dev.sluice.job', data: { n: 1 } }));
    const res = await request(`${sluice.url}/channels/default/jobs`, { method: 'POST', headers: msg.headers as Record<string, string>, body: msg.body as string });
    await res.body.dump();
    assert.equal(res.statusCode, 202);
    await pods.waitFor(1, 10_000);
    assert.equal(pods.requests[0]!.headers['ce-id'], 'job-1');
    assert.equal(pods.requests.length, 1, 'delivered once, with retry 0: the wake-up cost no attempt');
    const patches = api.requests.filter((r) => r.method === 'PATCH');
    assert.equal(patches[0]!.path, '/apis/apps/v1/namespaces/default/deployments/worker/scale');
    assert.deepEqual(patches.at(-1)!.body, [{ op: 'replace', path: '/spec/replicas', value: 1 }]);
    await waitUntil(() => api.deployment('default', 'worker')!.replicas === 0, 10_000, 'the Deployment to go back to zero');
  } finally {
    await sluice.close();
    await pods.close();
    await api.close();
  }
});

test('a Deployment ref without any Kubernetes configuration: the Subscription is not Ready and says why', async () => {
  const sluice = await startSluice(channelYaml('jobs') + deploymentSubscription('jobs-to-worker', 'worker'), {
    kubeConfig: () => {
      throw new InvalidOptionError('no Kubernetes configuration found: pass --kubeconfig <file>, set KUBECONFIG');
    },
  });
  try {
    const sub = await resourceStatus(sluice, 'Subscription', 'jobs-to-worker');
    assert.equal(sub.conditions[0]!.status, 'False');
    assert.equal(sub.conditions[0]!.reason, 'KubernetesUnavailable');
    assert.match(sub.conditions[0]!.message!, /spec\.subscriber: apps\/v1 Deployment refs need the Kubernetes API: no Kubernetes configuration found/);
  } finally {
    await sluice.close();
  }
});
