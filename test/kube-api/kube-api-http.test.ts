// The Kubernetes-shaped API over plain HTTP, as client-go speaks it: conflicts, the
// cross-site guard, persistence across a restart, Secrets never shown, watch semantics.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { SluiceServer } from '../../src/server/sluice-server.js';
import { silentLogger } from '../../src/observability/logger.js';

const TRIGGERS = '/apis/eventing.knative.dev/v1/namespaces/default/triggers';
const BROKERS = '/apis/eventing.knative.dev/v1/namespaces/default/brokers';
const SECRETS = '/api/v1/namespaces/default/secrets';

interface KubeObj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; uid: string; resourceVersion: string; generation: number; creationTimestamp: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
  status?: { conditions?: Array<{ type: string; status: string }> };
}

async function start(dataDir: string): Promise<SluiceServer> {
  const s = new SluiceServer({ logger: silentLogger(), port: 0, adminPort: 0, host: '127.0.0.1', drainTimeoutMs: 1000, dataDir });
  await s.listen();
  await s.liveConfig.start({ paths: [] });
  return s;
}

describe('Kubernetes-shaped API over HTTP', () => {
  let dataDir: string;
  let server: SluiceServer;
  const call = async (method: string, path: string, body?: unknown, contentType = 'application/json', headers: Record<string, string> = {}) => {
    const r = await request(`${server.adminUrl}${path}`, {
      method: method as 'GET',
      headers: { ...(body !== undefined ? { 'content-type': contentType } : {}), ...headers },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
    const text = await r.body.text();
    return { status: r.statusCode, body: (text ? JSON.parse(text) : undefined) as KubeObj & { code?: number; reason?: string; message?: string; items?: KubeObj[] } };
  };
  const trigger = (name: string, extra: Record<string, unknown> = {}) => ({
    apiVersion: 'eventing.knative.dev/v1',
    kind: 'Trigger',
    metadata: { name, ...extra },
    spec: { broker: 'default', subscriber: { uri: 'http://127.0.0.1:9/' } },
  });

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'sluice-kube-http-'));
    server = await start(dataDir);
  });
  after(async () => {
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('create: 201 with server metadata; the same name again: 409 AlreadyExists; generateName; a wrong namespace: 400', async () => {
    const created = await call('POST', TRIGGERS, trigger('t1'));
    assert.equal(created.status, 201);
    assert.equal(created.body.metadata.generation, 1);
    assert.match(created.body.metadata.uid, /^[0-9a-f-]{36}$/);
    const again = await call('POST', TRIGGERS, trigger('t1'));
    assert.deepEqual([again.status, again.body.reason], [409, 'AlreadyExists']);
    assert.match(again.body.message!, /triggers\.eventing\.knative\.dev "t1" already exists/);
    const generated = await call('POST', TRIGGERS, { ...trigger(''), metadata: { generateName: 'gen-' } });
    assert.equal(generated.status, 201);
    assert.match(generated.body.metadata.name, /^gen-[a-z0-9]{5}$/);
    const elsewhere = await call('POST', TRIGGERS, trigger('t2', { namespace: 'other' }));
    assert.deepEqual([elsewhere.status, elsewhere.body.kind], [400, 'Status']);
  });

  test('concurrent creates of one name: one 201, the others 409; concurrent updates from one resourceVersion: one wins', async () => {
    const creates = await Promise.all(Array.from({ length: 5 }, () => call('POST', TRIGGERS, trigger('race'))));
    assert.deepEqual(creates.map((c) => c.status).sort(), [201, 409, 409, 409, 409]);
    const current = (await call('GET', `${TRIGGERS}/race`)).body;
    const updates = await Promise.all(['a', 'b', 'c'].map((b) => call('PUT', `${TRIGGERS}/race`, { ...current, spec: { ...current.spec, broker: b } })));
    assert.deepEqual(updates.map((u) => u.status).sort(), [200, 409, 409]);
    assert.equal((await call('DELETE', `${TRIGGERS}/race`)).status, 200);
  });

  test('update with a stale resourceVersion: 409 Conflict, nothing changed; with the current one: applied, generation +1', async () => {
    const current = (await call('GET', `${TRIGGERS}/t1`)).body;
    const stale = { ...current, metadata: { ...current.metadata, resourceVersion: '1' }, spec: { ...current.spec, broker: 'other' } };
    const refused = await call('PUT', `${TRIGGERS}/t1`, stale);
    assert.deepEqual([refused.status, refused.body.reason], [409, 'Conflict']);
    assert.equal((await call('GET', `${TRIGGERS}/t1`)).body.spec!.broker, 'default');
    const ok = await call('PUT', `${TRIGGERS}/t1`, { ...current, spec: { ...current.spec, broker: 'other' } });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.spec!.broker, 'other');
    assert.equal(ok.body.metadata.generation, current.metadata.generation + 1);
    assert.equal(ok.body.metadata.uid, current.metadata.uid);
    assert.ok(BigInt(ok.body.metadata.resourceVersion) > BigInt(current.metadata.resourceVersion));
  });

  test('an invalid object: 422 Invalid with a cause per field; nothing stored', async () => {
    const bad = await call('POST', TRIGGERS, { apiVersion: 'eventing.knative.dev/v1', kind: 'Trigger', metadata: { name: 'bad' }, spec: { subscriber: {} } });
    assert.equal(bad.status, 422);
    assert.equal(bad.body.reason, 'Invalid');
    const causes = (bad.body as unknown as { details: { causes: Array<{ field: string }> } }).details.causes;
    assert.ok(causes.some((c) => c.field === 'spec.broker'), JSON.stringify(causes));
    assert.equal((await call('GET', `${TRIGGERS}/bad`)).status, 404);
  });

  test('a web page cannot write through the Kubernetes API (foreign Origin, form content type)', async () => {
    const fromPage = await call('POST', TRIGGERS, trigger('evil'), 'application/json', { origin: 'https://evil.example' });
    assert.equal(fromPage.status, 403);
    const form = await call('POST', TRIGGERS, JSON.stringify(trigger('evil')), 'text/plain');
    assert.equal(form.status, 415);
    assert.equal((await call('GET', `${TRIGGERS}/evil`)).status, 404);
  });

  test('Secrets: values never shown, in data nor in the last-applied annotation; a merge patch keeps the other keys', async () => {
    const secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', annotations: { 'kubectl.kubernetes.io/last-applied-configuration': JSON.stringify({ kind: 'Secret', data: { token: 'c2VjcmV0' } }) } }, data: { token: 'c2VjcmV0', other: 'b3RoZXI=' } };
    assert.equal((await call('POST', SECRETS, secret)).status, 201);
    const shown = (await call('GET', `${SECRETS}/s`)).body;
    assert.deepEqual(shown.data, { token: '', other: '' });
    assert.doesNotMatch(JSON.stringify(shown), /c2VjcmV0|b3RoZXI=/);
    assert.equal((await call('PATCH', `${SECRETS}/s`, { data: { token: 'bmV3' } }, 'application/merge-patch+json')).status, 200);
    const stored = server.runtime.getSecret('default', 's')!;
    assert.deepEqual(Object.fromEntries(Object.entries(stored.data).map(([k, v]) => [k, Buffer.from(v).toString()])), { token: 'new', other: 'other' });
  });

  test('watch: initial events and the initial-events-end bookmark; a label change out of the selector arrives as DELETED', async () => {
    assert.equal((await call('POST', BROKERS, { apiVersion: 'eventing.knative.dev/v1', kind: 'Broker', metadata: { name: 'w', labels: { watch: 'me' } } })).status, 201);
    const ac = new AbortController();
    const res = await request(`${server.adminUrl}${BROKERS}?watch=1&labelSelector=watch%3Dme&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true`, { signal: ac.signal });
    const events: Array<{ type: string; object: KubeObj }> = [];
    let buffer = '';
    const reading = (async () => {
      for await (const chunk of res.body) {
        buffer += chunk.toString();
        let i: number;
        while ((i = buffer.indexOf('\n')) >= 0) {
          events.push(JSON.parse(buffer.slice(0, i)) as { type: string; object: KubeObj });
          buffer = buffer.slice(i + 1);
        }
      }
    })().catch(() => {});
    const until = async (pred: () => boolean, what: string) => {
      const t0 = Date.now();
      while (!pred()) {
        if (Date.now() - t0 > 10_000) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(events.map((e) => e.type))}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    await until(() => events.some((e) => e.type === 'BOOKMARK'), 'the initial-events-end bookmark');
    assert.equal(events[0]!.type, 'ADDED');
    assert.equal(events[0]!.object.metadata.name, 'w');
    assert.equal(events[1]!.object.metadata.annotations?.['k8s.io/initial-events-end'], 'true');
    assert.equal((await call('PATCH', `${BROKERS}/w`, { metadata: { labels: { watch: null } } }, 'application/merge-patch+json')).status, 200);
    await until(() => events.some((e) => e.type === 'DELETED'), 'DELETED once the label no longer matches');
    ac.abort();
    await reading;
  });

  test('after a restart on the same data dir, objects keep uid, creationTimestamp and generation', async () => {
    const before = (await call('GET', `${TRIGGERS}/t1`)).body;
    await server.close();
    server = await start(dataDir);
    const after = (await call('GET', `${TRIGGERS}/t1`)).body;
    assert.equal(after.metadata.uid, before.metadata.uid);
    assert.equal(after.metadata.creationTimestamp, before.metadata.creationTimestamp);
    assert.equal(after.metadata.generation, before.metadata.generation);
    assert.equal(after.spec!.broker, 'other');
    const list = (await call('GET', TRIGGERS)).body;
    assert.equal(list.kind, 'TriggerList');
    assert.ok(list.items!.some((i) => i.metadata.name === 't1'));
    assert.equal((await call('DELETE', `${TRIGGERS}/t1`)).status, 200);
    assert.equal((await call('GET', `${TRIGGERS}/t1`)).status, 404);
  });
});
