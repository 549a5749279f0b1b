import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { HTTP, CloudEvent } from 'cloudevents';
import { ApiServerSource } from '../../src/sources/apiserver/index.js';
import { deploymentObj, eventObj, namespaceObj, podObj, waitUntil } from '../helpers/fake-kube-api.js';
import { startSink } from '../helpers/sink.js';
import { dataOf, kubeConfigFor, startHarness } from './apiserver-harness.js';

describe('ApiServerSource events', () => {
  test('Reference mode: add, update and delete of Pods as Knative reports them', async () => {
    const h = await startHarness(
      { resources: [{ apiVersion: 'v1', kind: 'Pod' }], sink: { uri: 'http://sink.example/' } },
      { seed: (api) => api.create(podObj('default', 'existing-0')) },
    );
    try {
      // The pod that existed before the source started is reported once, as Knative's adapter does.
      await h.waitEvents(1);
      h.api.create(podObj('default', 'web-1', { labels: { app: 'web' } }));
      h.api.create(podObj('other', 'elsewhere')); // another namespace: not watched
      h.api.update('v1', 'Pod', 'default', 'web-1', (p) => ((p.status as { phase: string }).phase = 'Running'));
      h.api.delete('v1', 'Pod', 'default', 'web-1');
      await h.waitEvents(4);
      assert.deepEqual(h.summary(), ['ref.add default/existing-0', 'ref.add default/web-1', 'ref.update default/web-1', 'ref.delete default/web-1']);

      const add = h.events[1]!.attributes;
      assert.equal(add.specversion, '1.0');
      assert.equal(add.type, 'dev.knative.apiserver.ref.add');
      assert.equal(add.source, h.api.url);
      // Knative's self link: /apis/ also for the core group.
      assert.equal(add.subject, '/apis/v1/namespaces/default/pods/web-1');
      assert.equal(add.kind, 'Pod');
      assert.equal(add.name, 'web-1');
      assert.equal(add.namespace, 'default');
      assert.equal(add.apiversion, 'v1');
      assert.equal(add.datacontenttype, 'application/json');
      assert.ok(!Number.isNaN(Date.parse(add.time ?? '')));
      // corev1.ObjectReference as Go serialises it, byte for byte.
      assert.equal(h.events[1]!.data?.toString(), '{"kind":"Pod","namespace":"default","name":"web-1","apiVersion":"v1"}');
      assert.equal(h.events[3]!.attributes.type, 'dev.knative.apiserver.ref.delete');
      const ids = new Set(h.events.map((e) => e.attributes.id));
      assert.equal(ids.size, 4, 'every change gets its own id');
      assert.match(add.id ?? '', /^[0-9a-f-]{36}$/);
      assert.deepEqual(h.source.watchedScopes, ['default']);
    } finally {
      await h.close();
    }
  });

  test('Resource mode: the object itself (apiVersion and kind filled in for listed items) for apps/v1 Deployments', async () => {
    const h = await startHarness(
      { mode: 'Resource', resources: [{ apiVersion: 'apps/v1', kind: 'Deployment' }], sink: { uri: 'http://sink.example/' }, ceOverrides: { extensions: { team: 'payments' } } },
      { namespace: 'shop', seed: (api) => api.create(deploymentObj('shop', 'cart')) },
    );
    try {
      await h.waitEvents(1);
      const listed = dataOf(h.events[0]);
      assert.equal(listed.apiVersion, 'apps/v1');
      assert.equal(listed.kind, 'Deployment');
      assert.equal((listed.metadata as { name: string }).name, 'cart');
      h.api.update('apps/v1', 'Deployment', 'shop', 'cart', (d) => ((d.spec as { replicas: number }).replicas = 3));
      h.api.delete('apps/v1', 'Deployment', 'shop', 'cart');
      await h.waitEvents(3);
      assert.deepEqual(h.summary(), ['resource.add shop/cart', 'resource.update shop/cart', 'resource.delete shop/cart']);
      const upd = h.events[1]!;
      assert.equal(upd.attributes.type, 'dev.knative.apiserver.resource.update');
      assert.equal(upd.attributes.subject, '/apis/apps/v1/namespaces/shop/deployments/cart');
      assert.equal(upd.attributes.apiversion, 'apps/v1');
      assert.equal(upd.attributes.team, 'payments', 'ceOverrides extension applied');
      assert.equal((dataOf(upd).spec as { replicas: number }).replicas, 3);
      assert.ok((dataOf(upd).metadata as { uid: string }).uid, 'the whole object is carried');
    } finally {
      await h.close();
    }
  });

  test('resources[].selector filters server-side (matchLabels and matchExpressions); relabelled out = delete', async () => {
    const h = await startHarness({
      resources: [
        { apiVersion: 'v1', kind: 'Pod', selector: { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['frontend', 'edge'] }] } },
        { apiVersion: 'v1', kind: 'Event' },
      ],
      sink: { uri: 'http://sink.example/' },
    });
    try {
      await h.api.waitForWatches(2);
      const podWatch = h.api.requests.find((r) => r.path.endsWith('/pods') && r.query.watch === 'true');
      assert.equal(podWatch?.query.labelSelector, 'app=web,tier in (edge,frontend)');
      h.api.create(podObj('default', 'db-0', { labels: { app: 'db', tier: 'frontend' } }));
      h.api.create(podObj('default', 'web-back', { labels: { app: 'web', tier: 'backend' } }));
      h.api.create(podObj('default', 'web-front', { labels: { app: 'web', tier: 'frontend' } }));
      h.api.update('v1', 'Pod', 'default', 'web-front', (p) => (p.metadata.labels = { app: 'web', tier: 'backend' }));
      h.api.create(eventObj('default', 'web-front.17a2b', { kind: 'Pod', name: 'web-front' }));
      await h.waitEvents(3);
      // Each watch delivers in order; the Pod and Event watches are not ordered against each other.
      const summary = h.summary();
      assert.equal(summary.length, 3);
      assert.deepEqual(summary.filter((e) => !e.endsWith('.17a2b')), ['ref.add default/web-front', 'ref.delete default/web-front']);
      const event = h.events.find((e) => e.attributes.name === 'web-front.17a2b');
      assert.ok(event, 'the Event object was reported');
      assert.equal(event.attributes.type, 'dev.knative.apiserver.ref.add');
      assert.equal(event.attributes.subject, '/apis/v1/namespaces/default/events/web-front.17a2b');
    } finally {
      await h.close();
    }
  });

  test('owner filter passes only objects whose controller matches', async () => {
    const h = await startHarness({
      resources: [{ apiVersion: 'v1', kind: 'Pod' }],
      owner: { apiVersion: 'apps/v1', kind: 'ReplicaSet' },
      sink: { uri: 'http://sink.example/' },
    });
    try {
      await h.api.waitForWatches(1);
      h.api.create(podObj('default', 'bare'));
      h.api.create(podObj('default', 'from-job', { owner: { apiVersion: 'batch/v1', kind: 'Job', name: 'nightly' } }));
      h.api.create(podObj('default', 'not-controller', { owner: { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', controller: false } }));
      h.api.create(podObj('default', 'web-7d9f-abc', { owner: { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-7d9f' } }));
      h.api.delete('v1', 'Pod', 'default', 'bare');
      h.api.delete('v1', 'Pod', 'default', 'web-7d9f-abc');
      await h.waitEvents(2);
      // Events on one watch arrive in order, so nothing filtered can still be on its way.
      assert.deepEqual(h.summary(), ['ref.add default/web-7d9f-abc', 'ref.delete default/web-7d9f-abc']);
    } finally {
      await h.close();
    }
  });

  test('namespaceSelector: watches matching namespaces, follows new ones and drops relabelled ones', async () => {
    const h = await startHarness(
      { resources: [{ apiVersion: 'v1', kind: 'Pod' }], namespaceSelector: { matchLabels: { env: 'prod' } }, sink: { uri: 'http://sink.example/' } },
      {
        seed: (api) => {
          api.create(namespaceObj('team-a', { env: 'prod' }));
          api.create(namespaceObj('team-b', { env: 'dev' }));
          api.create(podObj('team-a', 'a-0'));
          api.create(podObj('team-b', 'b-0'));
        },
      },
    );
    try {
      await h.waitEvents(1);
      assert.deepEqual(h.source.watchedScopes, ['team-a']);
      h.api.create(namespaceObj('team-c', { env: 'prod' }));
      await h.api.waitForWatches(1, '/namespaces/team-c/pods');
      h.api.create(podObj('team-c', 'c-1'));
      h.api.create(podObj('team-b', 'b-1'));
      await h.waitEvents(2);
      assert.deepEqual(h.summary(), ['ref.add team-a/a-0', 'ref.add team-c/c-1']);
      h.api.update('v1', 'Namespace', undefined, 'team-a', (n) => (n.metadata.labels = { env: 'retired' }));
      await waitUntil(() => h.api.openWatches('/namespaces/team-a/pods').length === 0, 10_000, () => 'the team-a watch to close');
      assert.deepEqual(h.source.watchedScopes, ['team-c']);
      h.api.create(podObj('team-a', 'a-after'));
      h.api.create(podObj('team-c', 'c-2'));
      await h.waitEvents(3);
      assert.deepEqual(h.summary(2), ['ref.add team-c/c-2']);
    } finally {
      await h.close();
    }
  });

  test('an empty namespaceSelector watches the whole cluster with one watch; cluster-scoped kinds have Knative subjects', async () => {
    const h = await startHarness(
      { resources: [{ apiVersion: 'v1', kind: 'Pod' }, { apiVersion: 'v1', kind: 'Namespace' }], namespaceSelector: {}, sink: { uri: 'http://sink.example/' } },
      { emitExisting: false, seed: (api) => api.create(podObj('x', 'old')) },
    );
    try {
      await h.api.waitForWatches(2);
      assert.deepEqual(h.api.openWatches().map((w) => w.split('?')[0]).sort(), ['/api/v1/namespaces', '/api/v1/pods']);
      h.api.create(namespaceObj('fresh'));
      await h.waitEvents(1);
      h.api.create(podObj('fresh', 'p'));
      await h.waitEvents(2);
      assert.deepEqual(h.summary(), ['ref.add fresh', 'ref.add fresh/p'], 'emitExisting: false skips what existed');
      const ns = h.events[0]!;
      assert.equal(ns.attributes.subject, '/apis/v1/namespaces//namespaces/fresh');
      assert.equal(ns.attributes.namespace, undefined);
      assert.equal(ns.data?.toString(), '{"kind":"Namespace","name":"fresh","apiVersion":"v1"}');
    } finally {
      await h.close();
    }
  });

  test('events reach a real HTTP sink in binary mode through an emit function', async () => {
    const sink = await startSink();
    const h = await startHarness({ resources: [{ apiVersion: 'v1', kind: 'Pod' }], sink: { uri: sink.url } });
    try {
      // Replace nothing: a second source on the same API server emits over HTTP.
      const viaHttp = new ApiServerSource({ name: 'http', namespace: 'default', spec: { resources: [{ apiVersion: 'v1', kind: 'Pod' }], sink: { uri: sink.url } }, kubeConfig: kubeConfigFor(h.api), retryInitialMs: 20 });
      await viaHttp.start(async (e) => {
        const ce = new CloudEvent({ ...e.attributes, data: e.data }, false);
        const msg = HTTP.binary(ce);
        const res = await fetch(sink.url, { method: 'POST', headers: msg.headers as Record<string, string>, body: msg.body as Buffer });
        if (res.status >= 300) throw new Error(`sink answered ${res.status}`);
      });
      try {
        h.api.create(podObj('default', 'api-0'));
        await sink.waitFor(1);
        const r = sink.requests[0]!;
        assert.equal(r.headers['ce-type'], 'dev.knative.apiserver.ref.add');
        assert.equal(r.headers['ce-subject'], '/apis/v1/namespaces/default/pods/api-0');
        assert.equal(r.headers['ce-kind'], 'Pod');
        assert.equal(r.headers['ce-apiversion'], 'v1');
        assert.deepEqual(JSON.parse(r.body.toString()), { kind: 'Pod', namespace: 'default', name: 'api-0', apiVersion: 'v1' });
      } finally {
        await viaHttp.stop();
      }
    } finally {
      await h.close();
      await sink.close();
    }
  });
});
