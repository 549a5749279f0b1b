import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ResourceValidationError } from '../../src/errors.js';
import { spawnSupervised } from '../../src/process/index.js';
import { silentLogger } from '../../src/observability/logger.js';
import { sinkBindingKind, SinkBindingIndex } from '../../src/sources/sinkbinding/index.js';
import { startSink } from '../helpers/sink.js';

const broker = { ref: { apiVersion: 'eventing.knative.dev/v1', kind: 'Broker', name: 'default' } };
const deployment = (name: string, labels: Record<string, string> = {}, namespace = 'shop') => ({ apiVersion: 'apps/v1', kind: 'Deployment', namespace, name, labels });

describe('SinkBindingIndex', () => {
  test('by name: K_SINK and K_CE_OVERRIDES for the subject only', () => {
    const index = new SinkBindingIndex();
    index.set({
      namespace: 'shop',
      name: 'bind-cart',
      spec: { subject: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'cart' }, sink: broker, ceOverrides: { extensions: { team: 'checkout' } } },
      sinkUrl: 'http://127.0.0.1:8080/shop/default',
    });
    assert.deepEqual(index.envFor(deployment('cart')), { K_SINK: 'http://127.0.0.1:8080/shop/default', K_CE_OVERRIDES: '{"extensions":{"team":"checkout"}}' });
    assert.equal(index.envFor(deployment('payments')), undefined, 'another name');
    assert.equal(index.envFor(deployment('cart', {}, 'other')), undefined, 'another namespace');
    assert.equal(index.envFor({ ...deployment('cart'), apiVersion: 'serving.knative.dev/v1', kind: 'Service' }), undefined, 'another kind');
  });

  test('by selector (matchLabels and matchExpressions); no ceOverrides means no K_CE_OVERRIDES', () => {
    const index = new SinkBindingIndex();
    index.set({
      namespace: 'shop',
      name: 'bind-web',
      spec: { subject: { apiVersion: 'apps/v1', kind: 'Deployment', selector: { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'stage', operator: 'NotIn', values: ['canary'] }] } }, sink: broker },
      sinkUrl: 'http://sink.local/',
    });
    assert.deepEqual(index.envFor(deployment('front', { app: 'web' })), { K_SINK: 'http://sink.local/' });
    assert.equal(index.envFor(deployment('front-canary', { app: 'web', stage: 'canary' })), undefined);
    assert.equal(index.envFor(deployment('db', { app: 'db' })), undefined);
    assert.equal(index.envFor(deployment('unlabelled')), undefined);
  });

  test('replace, remove, conflicts resolved by name, change notifications', () => {
    const index = new SinkBindingIndex();
    let changes = 0;
    const off = index.onChange(() => changes++);
    const spec = (name: string) => ({ subject: { apiVersion: 'apps/v1', kind: 'Deployment', name }, sink: broker });
    index.set({ namespace: 'shop', name: 'zeta', spec: spec('cart'), sinkUrl: 'http://z/' });
    index.set({ namespace: 'shop', name: 'alpha', spec: spec('cart'), sinkUrl: 'http://a/' });
    assert.deepEqual(index.bindingsFor(deployment('cart')).map((b) => b.name), ['alpha', 'zeta']);
    assert.equal(index.envFor(deployment('cart'))?.K_SINK, 'http://a/', 'first by name wins, whatever the load order');
    // Re-pointing `alpha` at another subject removes it from `cart`.
    index.set({ namespace: 'shop', name: 'alpha', spec: spec('orders'), sinkUrl: 'http://a2/' });
    assert.equal(index.envFor(deployment('cart'))?.K_SINK, 'http://z/');
    assert.equal(index.envFor(deployment('orders'))?.K_SINK, 'http://a2/');
    assert.equal(index.size, 2);
    assert.equal(index.remove('shop', 'zeta'), true);
    assert.equal(index.remove('shop', 'zeta'), false);
    assert.equal(index.envFor(deployment('cart')), undefined);
    assert.equal(changes, 4);
    off();
    index.remove('shop', 'alpha');
    assert.equal(changes, 4);
    assert.equal(index.size, 0);
  });

  test('bad bindings are refused with the field named', () => {
    const index = new SinkBindingIndex();
    const set = (spec: unknown, namespace = 'shop') => () => index.set({ namespace, name: 'b', spec: spec as never, sinkUrl: 'http://s/' });
    assert.throws(set({ subject: { apiVersion: 'apps/v1', kind: 'Deployment' }, sink: broker }), /SinkBinding shop\/b: spec\.subject: exactly one of name and selector/);
    assert.throws(set({ subject: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'a', selector: {} }, sink: broker }), /exactly one of name and selector/);
    assert.throws(set({ subject: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'a', namespace: 'other' }, sink: broker }), (err: unknown) => {
      assert.ok(err instanceof ResourceValidationError);
      assert.equal(err.issues[0]?.path, 'spec.subject.namespace');
      return true;
    });
    assert.throws(set({ subject: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'a' } }), /spec\.sink/);
    assert.throws(set({ subject: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'a' }, sink: broker, ceOverrides: { extensions: { id: 'x' } } }), /spec\.ceOverrides\.extensions\.id: is a CloudEvents context attribute/);
    assert.equal(index.size, 0);
  });

  test('the env it gives reaches a process Sluice runs, which posts to the bound sink', async () => {
    const sink = await startSink();
    const index = new SinkBindingIndex();
    index.set({ namespace: 'shop', name: 'bind', spec: { subject: { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'emitter' }, sink: broker, ceOverrides: { extensions: { bound: 'yes' } } }, sinkUrl: sink.url });
    const env = index.envFor({ apiVersion: 'serving.knative.dev/v1', kind: 'Service', namespace: 'shop', name: 'emitter' });
    assert.ok(env);
    const script =
      "const o = JSON.parse(process.env.K_CE_OVERRIDES); const r = await fetch(process.env.K_SINK, { method: 'POST', headers: { 'ce-specversion': '1.0', 'ce-id': '1', 'ce-source': '/x', 'ce-type': 't', 'ce-bound': o.extensions.bound }, body: '' }); process.exit(r.status === 202 ? 0 : 1);";
    const p = spawnSupervised({ name: 'Service shop/emitter', command: process.execPath, args: ['--input-type=module', '-e', script], env: { ...env }, logger: silentLogger() });
    try {
      assert.deepEqual(await p.exited, { code: 0, signal: null });
      await sink.waitFor(1, 15_000);
      assert.equal(sink.requests[0]!.headers['ce-bound'], 'yes');
    } finally {
      await p.stop();
      await sink.close();
    }
  });

  test('the kind: Knative YAML with a selector subject; a foreign subject namespace is an issue', () => {
    const spec = sinkBindingKind.spec.parse({
      subject: { apiVersion: 'apps/v1', kind: 'Deployment', selector: { matchLabels: { app: 'heartbeat-cron' } } },
      sink: { ref: { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'event-display' } },
    });
    const meta = { name: 'bind-heartbeat', namespace: 'sinkbinding-example' };
    assert.deepEqual(sinkBindingKind.validate?.({ apiVersion: 'sources.knative.dev/v1', kind: 'SinkBinding', metadata: meta, spec }, undefined as never), []);
    const foreign = { ...spec, subject: { ...spec.subject, namespace: 'other' } };
    assert.deepEqual(sinkBindingKind.validate?.({ apiVersion: 'sources.knative.dev/v1', kind: 'SinkBinding', metadata: meta, spec: foreign }, undefined as never), [
      { path: 'spec.subject.namespace', message: "must be the SinkBinding's own namespace (sinkbinding-example)" },
    ]);
  });
});
