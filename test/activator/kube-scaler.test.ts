import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Activator, KubeDeploymentScaler, deploymentServiceConfig } from '../../src/activator/index.js';
import { silentLogger } from '../../src/observability/logger.js';
import { FakeKubeAppsApi } from '../helpers/fake-kube-apps-api.js';
import { startSink, type RecordingSink } from '../helpers/sink.js';
import { waitUntil } from './helpers.js';

const logger = silentLogger();
const never = new AbortController().signal;

describe('KubeDeploymentScaler against a fake apps/v1 API', () => {
  let api: FakeKubeAppsApi;
  let sink: RecordingSink; // stands in for the Kubernetes Service in front of the pods
  before(async () => {
    api = await new FakeKubeAppsApi().start();
    sink = await startSink((_req, res) => {
      res.statusCode = 200;
      res.end('ok');
    });
  });
  after(async () => {
    await api.close();
    await sink.close();
  });

  test('0 -> 1 on the first request via a JSON Patch of the scale subresource, then back to 0 when idle', async () => {
    api.readyDelayMs = 200;
    api.addDeployment('apps', 'web', 0);
    const activator = new Activator({ logger });
    try {
      const scaler = new KubeDeploymentScaler({ namespace: 'apps', deployment: 'web', url: sink.url, kubeConfig: api.kubeConfig(), logger, pollIntervalMs: 50 });
      const svc = await activator.apply(
        deploymentServiceConfig({
          namespace: 'apps',
          name: 'web',
          annotations: { 'autoscaling.knative.dev/initial-scale': '0', 'autoscaling.knative.dev/window': '300ms' },
        }),
        scaler,
      );
      assert.equal(svc.status().scaler, 'kubernetes');
      const t0 = Date.now();
      const lease = await activator.resolver('apps/web').acquire(never);
      assert.ok(Date.now() - t0 >= 150, 'held until the pods were ready');
      assert.equal(lease.url, sink.url);
      lease.release();
      const patches = api.requests.filter((r) => r.method === 'PATCH');
      assert.ok(patches.length >= 1);
      assert.equal(patches[0]!.path, '/apis/apps/v1/namespaces/apps/deployments/web/scale');
      assert.equal(patches[0]!.contentType, 'application/json-patch+json');
      assert.deepEqual(patches.at(-1)!.body, [{ op: 'replace', path: '/spec/replicas', value: 1 }]);
      assert.equal(api.deployment('apps', 'web')!.replicas, 1);
      assert.ok(svc.status().lastColdStart);
      await waitUntil(() => api.deployment('apps', 'web')!.replicas === 0, 10_000, 'scale back to zero');
      await waitUntil(() => svc.status().replicas.ready === 0, 10_000, 'readiness to follow');
    } finally {
      await activator.close();
    }
  });

  test('scales up with load (target) and spreads capacity over ready replicas (containerConcurrency x readyReplicas)', async () => {
    api.readyDelayMs = 100;
    api.addDeployment('apps', 'busy', 1);
    const activator = new Activator({ logger });
    try {
      const scaler = new KubeDeploymentScaler({ namespace: 'apps', deployment: 'busy', url: sink.url, kubeConfig: api.kubeConfig(), logger, pollIntervalMs: 50 });
      const svc = await activator.apply(
        deploymentServiceConfig({
          namespace: 'apps',
          name: 'busy',
          containerConcurrency: 1,
          annotations: { 'autoscaling.knative.dev/target': '1', 'autoscaling.knative.dev/max-scale': '3', 'autoscaling.knative.dev/window': '300ms' },
        }),
        scaler,
      );
      await waitUntil(() => svc.status().replicas.ready === 1, 10_000, 'existing replica seen');
      const resolver = activator.resolver('apps/busy');
      const leases = await Promise.all([resolver.acquire(never), resolver.acquire(never), resolver.acquire(never)]);
      assert.equal(api.deployment('apps', 'busy')!.replicas, 3);
      assert.equal(svc.status().replicas.ready, 3);
      for (const l of leases) l.release();
      await waitUntil(() => api.deployment('apps', 'busy')!.replicas === 0, 10_000, 'scale down to zero');
    } finally {
      await activator.close();
    }
  });

  test('API failures are reported in status and retried; a missing Deployment is a clear error', async () => {
    api.readyDelayMs = 50;
    api.addDeployment('apps', 'flaky', 0);
    const scaler = new KubeDeploymentScaler({ namespace: 'apps', deployment: 'flaky', url: sink.url, kubeConfig: api.kubeConfig(), logger, pollIntervalMs: 50 });
    scaler.attach({ endpointsChanged: () => {}, drain: async () => {} });
    api.failNext(1, 500);
    await assert.rejects(scaler.setScale(1), (err: Error & { code?: string; status?: number }) => err.code === 'SLUICE_ERR_KUBE_API' && err.status === 500);
    assert.match(scaler.status().lastError ?? '', /scaling to 1 failed \(HTTP 500\)/);
    // The poll loop notices spec.replicas != desired and patches again.
    const ep = await scaler.ensureReady(AbortSignal.timeout(10_000));
    assert.equal(ep.url, sink.url);
    assert.equal(ep.slots, 1);
    await scaler.close();

    const missing = new KubeDeploymentScaler({ namespace: 'apps', deployment: 'nope', url: sink.url, kubeConfig: api.kubeConfig(), logger, pollIntervalMs: 50 });
    missing.attach({ endpointsChanged: () => {}, drain: async () => {} });
    await assert.rejects(missing.setScale(1), /deployments.apps "nope" not found/);
    await missing.close();
  });

  test('pods that crash drop readiness; held requests wait for the recovery', async () => {
    api.readyDelayMs = 150;
    api.addDeployment('apps', 'wobbly', 1);
    const activator = new Activator({ logger });
    try {
      const scaler = new KubeDeploymentScaler({ namespace: 'apps', deployment: 'wobbly', url: sink.url, kubeConfig: api.kubeConfig(), logger, pollIntervalMs: 30, resyncIntervalMs: 30 });
      const svc = await activator.apply(deploymentServiceConfig({ namespace: 'apps', name: 'wobbly', annotations: { 'autoscaling.knative.dev/min-scale': '1' } }), scaler);
      await waitUntil(() => svc.status().replicas.ready === 1, 10_000, 'ready');
      api.crashPods('apps', 'wobbly', 0);
      await waitUntil(() => svc.status().replicas.ready === 0, 10_000, 'crash noticed');
      const lease = await activator.resolver('apps/wobbly').acquire(never);
      lease.release();
      assert.equal(svc.status().replicas.restarts, 1);
    } finally {
      await activator.close();
    }
  });
});
