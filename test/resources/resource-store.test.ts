import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import {
  isReady,
  loadResources,
  parseResourcesText,
  readyStatus,
  ResourceStore,
  type LoadedResource,
  type ResourceEvent,
  type SecretEvent,
} from '../../src/resources/index.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function one(yaml: string): LoadedResource {
  const r = parseResourcesText(yaml, 'store.yaml');
  assert.deepEqual(r.errors, []);
  return r.resources[0]!;
}

const channel = (extra = '') => one(`apiVersion: messaging.knative.dev/v1\nkind: InMemoryChannel\nmetadata:\n  name: orders\n  namespace: shop\n${extra}`);

describe('ResourceStore', () => {
  test('apply: created, unchanged, updated; uid, generation and creationTimestamp are assigned', () => {
    const store = new ResourceStore({ now: () => new Date('2025-01-02T03:04:05.000Z') });
    assert.equal(store.apply(channel()), 'created');
    const first = store.get('InMemoryChannel', 'shop', 'orders')!;
    assert.match(first.metadata.uid!, UUID);
    assert.equal(first.metadata.generation, 1);
    assert.equal(first.metadata.creationTimestamp, '2025-01-02T03:04:05.000Z');
    assert.equal(first.apiVersion, 'messaging.knative.dev/v1');

    assert.equal(store.apply(channel()), 'unchanged');
    // A label change is an update but not a new generation (as in Kubernetes).
    assert.equal(store.apply(channel('  labels: {team: a}\n')), 'updated');
    const relabelled = store.get('InMemoryChannel', 'shop', 'orders')!;
    assert.equal(relabelled.metadata.generation, 1);
    assert.deepEqual(relabelled.metadata.labels, { team: 'a' });

    assert.equal(store.apply(channel('  labels: {team: a}\nspec: {capacity: 5}\n')), 'updated');
    const changed = store.get('InMemoryChannel', 'shop', 'orders')!;
    assert.equal(changed.metadata.generation, 2);
    assert.equal(changed.metadata.uid, first.metadata.uid);
    assert.equal(changed.metadata.creationTimestamp, first.metadata.creationTimestamp);
    assert.deepEqual(changed.spec, { capacity: 5 });

    // Re-applying what the store handed out (with its uid/generation) changes nothing.
    assert.equal(store.apply({ resource: changed }), 'unchanged');
    assert.equal(store.originOf('InMemoryChannel/shop/orders')?.file, 'store.yaml');
  });

  test('stored resources are frozen copies', () => {
    const store = new ResourceStore();
    const input = channel('spec: {capacity: 5}\n');
    store.apply(input);
    (input.resource.spec as { capacity: number }).capacity = 99;
    const stored = store.get<{ capacity: number }>('InMemoryChannel', 'shop', 'orders')!;
    assert.equal(stored.spec.capacity, 5);
    assert.throws(() => {
      stored.spec.capacity = 1;
    }, TypeError);
  });

  test('get, list by kind, delete', async () => {
    const store = new ResourceStore();
    const loaded = await loadResources([fileURLToPath(new URL('./fixtures/imc-subscription.yaml', import.meta.url))]);
    for (const l of loaded.resources) assert.equal(store.apply(l), 'created');
    assert.equal(store.size, 3);
    assert.deepEqual(store.list('InMemoryChannel').map((r) => r.metadata.name), ['my-channel', 'my-reply-channel']);
    assert.deepEqual(store.list().map((r) => r.kind), ['InMemoryChannel', 'Subscription', 'InMemoryChannel']);
    assert.equal(store.get('Subscription', 'default', 'my-subscription')?.kind, 'Subscription');
    assert.equal(store.get('Subscription', 'other', 'my-subscription'), undefined);
    assert.equal(store.delete('Subscription', 'default', 'my-subscription'), true);
    assert.equal(store.delete('Subscription', 'default', 'my-subscription'), false);
    assert.equal(store.list('Subscription').length, 0);
  });

  test('watch: added, updated, deleted; unchanged and status changes are silent; unsubscribe', () => {
    const store = new ResourceStore();
    const events: ResourceEvent[] = [];
    const stop = store.watch((e) => events.push(e));
    store.apply(channel());
    store.apply(channel());
    store.apply(channel('spec: {capacity: 7}\n'));
    store.setStatus('InMemoryChannel/shop/orders', readyStatus(true, 'ChannelReady'));
    store.delete('InMemoryChannel', 'shop', 'orders');
    assert.deepEqual(
      events.map((e) => [e.type, e.resource.kind, e.resource.metadata.name, e.resource.metadata.generation, e.origin?.file]),
      [
        ['added', 'InMemoryChannel', 'orders', 1, 'store.yaml'],
        ['updated', 'InMemoryChannel', 'orders', 2, 'store.yaml'],
        ['deleted', 'InMemoryChannel', 'orders', 2, 'store.yaml'],
      ],
    );
    stop();
    store.apply(channel());
    assert.equal(events.length, 3);
  });

  test('a throwing listener does not stop the store or the other listeners', () => {
    const failures: unknown[] = [];
    const store = new ResourceStore({ onListenerError: (err) => failures.push(err) });
    const seen: string[] = [];
    store.watch(() => {
      throw new Error('listener bug');
    });
    store.watch((e) => seen.push(e.type));
    assert.equal(store.apply(channel()), 'created');
    assert.deepEqual(seen, ['added']);
    assert.equal((failures[0] as Error).message, 'listener bug');
  });

  test('status per resource, dropped with the resource', () => {
    const store = new ResourceStore();
    const key = ResourceStore.key('InMemoryChannel', 'shop', 'orders');
    assert.equal(store.setStatus(key, readyStatus(true, 'ChannelReady')), false, 'no status for an unknown resource');
    store.apply(channel());
    assert.equal(store.getStatus(key), undefined);
    const st = readyStatus(false, 'BackendNotReady', 'nats is not connected', { address: { url: 'http://localhost:8080/channels/shop/orders' } });
    assert.equal(store.setStatus(key, st), true);
    assert.equal(store.getStatus(key), st);
    assert.equal(isReady(store.getStatus(key)), false);
    // A spec update keeps the last status until a reconciler reports a new one.
    store.apply(channel('spec: {capacity: 2}\n'));
    assert.equal(store.getStatus(key), st);
    store.delete('InMemoryChannel', 'shop', 'orders');
    store.apply(channel());
    assert.equal(store.getStatus(key), undefined);
  });

  test('Secrets: applySecret, getSecret, watchSecrets, deleteSecret', () => {
    const store = new ResourceStore();
    const load = (token: string) => parseResourcesText(`apiVersion: v1\nkind: Secret\nmetadata: {name: gh}\nstringData: {secretToken: ${token}}\n`, 's.yaml').secrets[0]!;
    const events: SecretEvent[] = [];
    store.watchSecrets((e) => events.push(e));
    assert.equal(store.applySecret(load('one')), 'created');
    assert.equal(store.applySecret(load('one')), 'unchanged');
    assert.equal(store.applySecret(load('two')), 'updated');
    const s = store.getSecret('default', 'gh')!;
    assert.ok(Buffer.isBuffer(s.data.secretToken));
    assert.equal(s.data.secretToken!.toString(), 'two');
    assert.match(s.metadata.uid!, UUID);
    assert.equal(store.getSecret('other', 'gh'), undefined);
    assert.equal(store.deleteSecret('default', 'gh'), true);
    assert.deepEqual(events.map((e) => [e.type, e.secret.data.secretToken!.toString()]), [
      ['added', 'one'],
      ['updated', 'two'],
      ['deleted', 'two'],
    ]);
  });

  test('applyAll with prune: what a config reload does', () => {
    const store = new ResourceStore();
    const v1 = parseResourcesText(
      `apiVersion: messaging.knative.dev/v1
kind: InMemoryChannel
metadata: {name: a}
---
apiVersion: messaging.knative.dev/v1
kind: InMemoryChannel
metadata: {name: b}
---
apiVersion: v1
kind: Secret
metadata: {name: s}
stringData: {k: v}
`,
      'v1.yaml',
    );
    assert.deepEqual(store.applyAll(v1), { created: ['InMemoryChannel/default/a', 'InMemoryChannel/default/b', 'Secret/default/s'], updated: [], unchanged: [], deleted: [] });
    const v2 = parseResourcesText('apiVersion: messaging.knative.dev/v1\nkind: InMemoryChannel\nmetadata: {name: a}\nspec: {capacity: 3}\n', 'v2.yaml');
    const events: string[] = [];
    store.watch((e) => events.push(`${e.type} ${e.resource.metadata.name}`));
    assert.deepEqual(store.applyAll(v2, { prune: true }), { created: [], updated: ['InMemoryChannel/default/a'], unchanged: [], deleted: ['InMemoryChannel/default/b', 'Secret/default/s'] });
    assert.deepEqual(events, ['updated a', 'deleted b']);
    assert.equal(store.getSecret('default', 's'), undefined);
  });
});

describe('readyStatus', () => {
  test('builds a Ready condition with an ISO lastTransitionTime and extra fields', () => {
    const before = Date.now();
    const st = readyStatus(true, 'SubscriptionReady', undefined, { physicalSubscription: { subscriberUri: 'http://x/' }, observedGeneration: 2 });
    assert.equal(st.conditions.length, 1);
    const c = st.conditions[0]!;
    assert.deepEqual({ ...c, lastTransitionTime: '' }, { type: 'Ready', status: 'True', reason: 'SubscriptionReady', lastTransitionTime: '' });
    assert.equal(new Date(c.lastTransitionTime).toISOString(), c.lastTransitionTime);
    assert.ok(Date.parse(c.lastTransitionTime) >= before - 1000);
    assert.equal(st.observedGeneration, 2);
    assert.ok(isReady(st));
    const bad = readyStatus(false, 'ChannelNotFound', 'InMemoryChannel default/x not found');
    assert.equal(bad.conditions[0]!.status, 'False');
    assert.equal(bad.conditions[0]!.message, 'InMemoryChannel default/x not found');
    assert.ok(!isReady(bad));
  });
});
