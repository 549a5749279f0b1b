import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HTTP, type CloudEvent } from 'cloudevents';
import { deploymentObj, eventObj, podObj, startFakeKubeApi, type FakeKubeApi } from '../helpers/fake-kube-api.js';
import { startSink, type ReceivedRequest, type RecordingSink } from '../helpers/sink.js';
import { startSluice, waitUntil } from '../helpers/sluice.js';
import { channelAndSubscription, readyOf, statusOf, toChannel, type Sluice } from './e2e-helpers.js';

const TOKEN = 'e2e-sa-token';

const sourceYaml = (name: string, mode: string, resources: string, sink: string) => `---
apiVersion: sources.knative.dev/v1
kind: ApiServerSource
metadata: {name: ${name}, namespace: shop}
spec:
  mode: ${mode}
  resources: ${resources}
  sink: ${sink}
`;

const asCloudEvent = (r: ReceivedRequest) => HTTP.toEvent({ headers: r.headers as Record<string, string>, body: r.body.toString('utf8') }) as CloudEvent<Record<string, unknown>>;
const kinds = (sink: RecordingSink) => sink.requests.map((r) => `${String(r.headers['ce-type']).replace('dev.knative.apiserver.', '')} ${r.headers['ce-name']}`);

describe('ApiServerSource end to end (fake Kubernetes API via --kubeconfig)', () => {
  let api: FakeKubeApi;
  let dir: string;
  let resources: RecordingSink;
  let refs: RecordingSink;
  let sluice: Sluice;

  before(async () => {
    api = await startFakeKubeApi({ token: TOKEN });
    api.create(podObj('shop', 'cart-0', { labels: { app: 'cart' } }));
    dir = mkdtempSync(join(tmpdir(), 'sluice-e2e-kube-'));
    const kubeconfig = join(dir, 'config');
    writeFileSync(kubeconfig, api.kubeconfigYaml(TOKEN));
    [resources, refs] = await Promise.all([startSink(), startSink()]);
    sluice = await startSluice(
      sourceYaml('pods', 'Resource', '[{apiVersion: v1, kind: Pod}]', `{uri: "${resources.url}"}`) +
        channelAndSubscription('k8s', refs.url).replaceAll('metadata: {name: k8s', 'metadata: {namespace: shop, name: k8s') +
        sourceYaml('deployments-and-events', 'Reference', '[{apiVersion: apps/v1, kind: Deployment}, {apiVersion: v1, kind: Event}]', toChannel('k8s')),
      { kubeconfigPath: kubeconfig },
    );
  });
  after(async () => {
    await sluice.close();
    await Promise.all([api.close(), resources.close(), refs.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  test('Ready, with the API server as the event source in status', () => {
    assert.equal(readyOf(sluice, 'ApiServerSource', 'pods')?.status, 'True', JSON.stringify(statusOf(sluice, 'ApiServerSource', 'pods')));
    const st = statusOf(sluice, 'ApiServerSource', 'pods');
    assert.equal(st.sinkUri, resources.url);
    assert.deepEqual(st.ceAttributes, ['add', 'update', 'delete'].map((c) => ({ type: `dev.knative.apiserver.resource.${c}`, source: api.url })));
  });

  test('Resource mode: the sink receives add (existing and new), update and delete with the object as data', async () => {
    await resources.waitFor(1, 5000);
    api.create(podObj('shop', 'cart-1', { labels: { app: 'cart' } }));
    api.update('v1', 'Pod', 'shop', 'cart-1', (p) => {
      (p.status as Record<string, unknown>).phase = 'Running';
    });
    api.delete('v1', 'Pod', 'shop', 'cart-0');
    await resources.waitFor(4, 5000);
    assert.deepEqual(kinds(resources), ['resource.add cart-0', 'resource.add cart-1', 'resource.update cart-1', 'resource.delete cart-0']);
    const update = asCloudEvent(resources.requests[2]!);
    assert.equal(update.source, api.url);
    assert.equal(update.subject, '/apis/v1/namespaces/shop/pods/cart-1');
    assert.equal(update.namespace, 'shop');
    assert.equal((update.data?.status as Record<string, unknown>).phase, 'Running');
    assert.ok(update.validate());
  });

  test('Reference mode through a channel: Deployments and Events as references', async () => {
    api.create(deploymentObj('shop', 'checkout', { app: 'checkout' }));
    api.create(eventObj('shop', 'checkout.17a2', { kind: 'Deployment', name: 'checkout' }));
    api.delete('apps/v1', 'Deployment', 'shop', 'checkout');
    await refs.waitFor(3, 5000);
    // Two watches: ordered per kind, not across kinds.
    assert.deepEqual(kinds(refs).sort(), ['ref.add checkout', 'ref.add checkout.17a2', 'ref.delete checkout']);
    assert.ok(kinds(refs).indexOf('ref.add checkout') < kinds(refs).indexOf('ref.delete checkout'));
    assert.deepEqual(asCloudEvent(refs.requests.find((r) => r.headers['ce-name'] === 'checkout')!).data, { kind: 'Deployment', namespace: 'shop', name: 'checkout', apiVersion: 'apps/v1' });
  });
});

describe('ApiServerSource that cannot reach its cluster', () => {
  let api: FakeKubeApi | undefined;
  let dir: string;
  let sink: RecordingSink;
  let sluice: Sluice;
  let kubeconfig: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-e2e-kube-'));
    kubeconfig = join(dir, 'config');
    sink = await startSink();
    sluice = await startSluice(sourceYaml('pods', 'Reference', '[{apiVersion: v1, kind: Pod}]', `{uri: "${sink.url}"}`), {
      kubeconfigPath: kubeconfig,
      sources: { startRetryInitialMs: 50, startRetryMaxMs: 200 },
    });
  });
  after(async () => {
    await sluice.close();
    await Promise.all([api?.close(), sink.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  test('is not Ready with the reason, keeps retrying without taking Sluice down, and recovers once the cluster is there', async () => {
    const first = readyOf(sluice, 'ApiServerSource', 'pods');
    assert.equal(first?.status, 'False');
    assert.equal(first?.reason, 'KubeConfigError');
    assert.match(String(first?.message), /does not exist/);

    // A kubeconfig now, but for an API server that is not listening.
    const gone = await startFakeKubeApi({ token: TOKEN });
    writeFileSync(kubeconfig, gone.kubeconfigYaml(TOKEN));
    await gone.close();
    await waitUntil(() => readyOf(sluice, 'ApiServerSource', 'pods')?.reason === 'ApiServerUnreachable', 5000, 'ApiServerUnreachable');
    assert.match(String(readyOf(sluice, 'ApiServerSource', 'pods')?.message), /retrying in/);
    assert.equal((await fetch(`${sluice.url}/channels/default/none`, { method: 'POST' })).status, 404, 'Sluice still serves');

    api = await startFakeKubeApi({ token: TOKEN });
    api.create(podObj('shop', 'web-0'));
    writeFileSync(kubeconfig, api.kubeconfigYaml(TOKEN));
    await waitUntil(() => readyOf(sluice, 'ApiServerSource', 'pods')?.status === 'True', 5000, 'Ready after the cluster came');
    await sink.waitFor(1, 5000);
    assert.equal(sink.requests[0]?.headers['ce-type'], 'dev.knative.apiserver.ref.add');
    assert.equal(sink.requests[0]?.headers['ce-source'], api.url);
  });
});

describe('sluice start --kubeconfig', () => {
  test('the CLI flag points ApiServerSources at the cluster; the event reaches the sink', async () => {
    const api = await startFakeKubeApi({ token: TOKEN });
    api.create(podObj('shop', 'cli-0'));
    const sink = await startSink();
    const dir = mkdtempSync(join(tmpdir(), 'sluice-e2e-kube-cli-'));
    const kubeconfig = join(dir, 'config');
    writeFileSync(kubeconfig, api.kubeconfigYaml(TOKEN));
    writeFileSync(join(dir, 'source.yaml'), sourceYaml('pods', 'Reference', '[{apiVersion: v1, kind: Pod}]', `{uri: "${sink.url}"}`));
    // KUBECONFIG names a file that does not exist: the flag must win over it.
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'start', '-f', join(dir, 'source.yaml'), '--kubeconfig', kubeconfig, '--port', '0', '--admin-port', '0', '--log-format', 'json'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, KUBECONFIG: join(dir, 'missing') },
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await sink.waitFor(1, 45_000).catch((err: Error) => {
        throw new Error(`${err.message}\n${out}`);
      });
      assert.equal(sink.requests[0]?.headers['ce-type'], 'dev.knative.apiserver.ref.add');
      assert.equal(sink.requests[0]?.headers['ce-name'], 'cli-0');
    } finally {
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
      await Promise.all([api.close(), sink.close()]);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
