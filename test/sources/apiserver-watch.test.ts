import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { KubeApiError } from '../../src/errors.js';
import { ApiServerSource } from '../../src/sources/apiserver/index.js';
import { podObj, startFakeKubeApi, waitUntil } from '../helpers/fake-kube-api.js';
import { kubeConfigFor, startHarness } from './apiserver-harness.js';

const podSpec = { resources: [{ apiVersion: 'v1', kind: 'Pod' }], sink: { uri: 'http://sink.example/' } };
const isWatch = (r: { path: string; query: Record<string, string> }) => r.path === '/api/v1/namespaces/default/pods' && r.query.watch === 'true';
const isList = (r: { path: string; query: Record<string, string> }) => r.path === '/api/v1/namespaces/default/pods' && r.query.watch === undefined;

describe('ApiServerSource watch resilience', () => {
  test('a dropped watch resumes from the last resourceVersion: no replays, nothing missed, no relist', async () => {
    const h = await startHarness(podSpec, { seed: (api) => api.create(podObj('default', 'p0')) });
    try {
      await h.api.waitForWatches(1);
      h.api.create(podObj('default', 'p1'));
      await h.waitEvents(2);
      const lastSeen = String(h.api.resourceVersion);
      // Cut the connection and make changes while no watch is open.
      h.api.refuseWatches = true;
      assert.equal(h.api.dropWatches(), 1);
      h.api.create(podObj('default', 'p2'));
      h.api.update('v1', 'Pod', 'default', 'p1', (p) => ((p.status as { phase: string }).phase = 'Running'));
      h.api.refuseWatches = false;
      await h.waitEvents(4);
      h.api.create(podObj('default', 'p3'));
      await h.waitEvents(5);
      assert.deepEqual(h.summary(), ['ref.add default/p0', 'ref.add default/p1', 'ref.add default/p2', 'ref.update default/p1', 'ref.add default/p3']);
      const resumed = h.api.requests.filter(isWatch).filter((r) => r.query.resourceVersion === lastSeen);
      assert.ok(resumed.length >= 1, `re-watched from resourceVersion ${lastSeen}: ${JSON.stringify(h.api.requests.filter(isWatch).map((r) => r.query.resourceVersion))}`);
      assert.equal(h.api.count(isList), 1, 'no relist after a plain drop');
    } finally {
      await h.close();
    }
  });

  for (const goneMode of ['stream', 'http'] as const) {
    test(`410 Gone (${goneMode}) relists and reports only the differences, never duplicate adds`, async () => {
      const h = await startHarness(podSpec, {
        seed: (api) => {
          api.create(podObj('default', 'keep'));
          api.create(podObj('default', 'change'));
          api.create(podObj('default', 'vanish'));
        },
      });
      try {
        await h.waitEvents(3);
        await h.api.waitForWatches(1);
        h.api.goneMode = goneMode;
        h.api.refuseWatches = true;
        h.api.dropWatches();
        h.api.update('v1', 'Pod', 'default', 'change', (p) => (p.metadata.labels = { rev: '2' }));
        h.api.delete('v1', 'Pod', 'default', 'vanish');
        h.api.create(podObj('default', 'newcomer'));
        // Recreated under the same name: a different object (new uid).
        h.api.delete('v1', 'Pod', 'default', 'keep');
        h.api.create(podObj('default', 'keep'));
        h.api.compact();
        h.api.refuseWatches = false;
        await h.waitEvents(8);
        await h.api.waitForWatches(1);
        h.api.create(podObj('default', 'after'));
        await h.waitEvents(9);
        const afterRelist = h.summary(3);
        assert.deepEqual(afterRelist.slice(0, 5).sort(), ['ref.add default/keep', 'ref.add default/newcomer', 'ref.delete default/keep', 'ref.delete default/vanish', 'ref.update default/change']);
        assert.equal(afterRelist.at(-1), 'ref.add default/after');
        assert.equal(afterRelist.length, 6, afterRelist.join(' | '));
        // delete of the old `keep` comes before the add of the new one.
        assert.ok(afterRelist.indexOf('ref.delete default/keep') < afterRelist.indexOf('ref.add default/keep'));
        assert.equal(h.api.count(isList), 2, 'one relist');
        if (goneMode === 'http') {
          assert.ok(h.api.count(isWatch) >= 3);
        }
      } finally {
        await h.close();
      }
    });
  }

  test('ERROR 410 in an open watch stream relists without duplicate adds', async () => {
    const h = await startHarness(podSpec, { seed: (api) => api.create(podObj('default', 'a')) });
    try {
      await h.waitEvents(1);
      await h.api.waitForWatches(1);
      h.api.refuseWatches = true; // hold the re-watch until the test has changed things
      assert.equal(h.api.expireWatches(), 1);
      await waitUntil(() => h.api.count(isList) === 2, 10_000, () => 'a relist');
      h.api.update('v1', 'Pod', 'default', 'a', (p) => (p.metadata.labels = { x: 'y' }));
      h.api.compact();
      h.api.refuseWatches = false;
      // The watch after the relist starts from the relist's version, which is now compacted:
      // it relists again and finds `a` changed.
      await h.waitEvents(2);
      h.api.create(podObj('default', 'b'));
      await h.waitEvents(3);
      assert.deepEqual(h.summary(), ['ref.add default/a', 'ref.update default/a', 'ref.add default/b']);
    } finally {
      await h.close();
    }
  });

  test('stop() closes every watch, cancels retries and sends nothing more', async () => {
    const h = await startHarness({ ...podSpec, resources: [{ apiVersion: 'v1', kind: 'Pod' }, { apiVersion: 'apps/v1', kind: 'Deployment' }] });
    try {
      await h.api.waitForWatches(2);
      await h.source.stop();
      await h.source.stop(); // idempotent
      await waitUntil(() => h.api.openWatches().length === 0, 10_000, () => 'all watches closed');
      const requestsAtStop = h.api.requests.length;
      h.api.create(podObj('default', 'late'));
      h.api.dropWatches();
      // Give a (wrongly) surviving retry timer (20-200 ms) ample time to show itself.
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(h.api.requests.length, requestsAtStop, 'no request after stop()');
      assert.equal(h.events.length, 0);
    } finally {
      await h.close();
    }
  });

  test('start() fails clearly: unknown kind, unknown group, refused credentials', async () => {
    const api = await startFakeKubeApi({ token: 'right' });
    try {
      const make = (spec: unknown, token = 'right') =>
        new ApiServerSource({ name: 's', namespace: 'default', spec: spec as typeof podSpec, kubeConfig: kubeConfigFor(api, token) });
      await assert.rejects(make({ ...podSpec, resources: [{ apiVersion: 'v1', kind: 'Widget' }] }).start(async () => {}), (err: unknown) => {
        assert.ok(err instanceof KubeApiError);
        assert.match(err.message, /no kind "Widget" in v1/);
        return true;
      });
      await assert.rejects(make({ ...podSpec, resources: [{ apiVersion: 'serving.knative.dev/v1', kind: 'Service' }] }).start(async () => {}), /does not serve apiVersion "serving.knative.dev\/v1"/);
      await assert.rejects(make(podSpec, 'wrong').start(async () => {}), (err: unknown) => {
        assert.ok(err instanceof KubeApiError);
        assert.equal(err.status, 401);
        return true;
      });
      assert.equal(api.openWatches().length, 0);
    } finally {
      await api.close();
    }
  });

  test('a sink that refuses events gets retries, in order, and the watch keeps going', async () => {
    const api = await startFakeKubeApi({ token: 't' });
    const got: string[] = [];
    let refusals = 2;
    const source = new ApiServerSource({ name: 's', namespace: 'default', spec: podSpec, kubeConfig: kubeConfigFor(api, 't'), emitRetryDelayMs: 10, retryInitialMs: 20 });
    try {
      await source.start(async (e) => {
        if (refusals-- > 0) throw new Error('429 channel full');
        got.push(`${e.attributes.type} ${e.attributes.name}`);
      });
      api.create(podObj('default', 'one'));
      api.create(podObj('default', 'two'));
      await waitUntil(() => got.length === 2, 10_000, () => `2 delivered (have ${got.join(', ')})`);
      assert.deepEqual(got, ['dev.knative.apiserver.ref.add one', 'dev.knative.apiserver.ref.add two']);
    } finally {
      await source.stop();
      await api.close();
    }
  });
});
