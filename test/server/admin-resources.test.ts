import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startSluice, waitUntil } from '../helpers/sluice.js';
import { startSink, type RecordingSink } from '../helpers/sink.js';
import type { SluiceServer } from '../../src/server/sluice-server.js';

// The admin API's write side, driven over real HTTP: apply (YAML and JSON), all-or-nothing
// validation, delete by path and by body, and Secrets that are never shown.

let sluice: SluiceServer & { url: string };
let sink: RecordingSink;

before(async () => {
  sink = await startSink();
  sluice = await startSluice('');
});
after(async () => {
  await sluice.close();
  await sink.close();
});

function admin(path: string, init: RequestInit = {}) {
  return fetch(sluice.adminUrl + path, init);
}

async function applyYaml(body: string, method = 'POST') {
  const res = await admin('/api/v1/resources', { method, headers: { 'content-type': 'application/yaml' }, body });
  return { status: res.status, body: (await res.json()) as { items?: Array<Record<string, string>>; error?: string; reason?: string; issues?: Array<Record<string, unknown>> } };
}

async function getResource(kind: string, name: string, ns = 'default') {
  const res = await admin(`/api/v1/resources/${kind}/${ns}/${name}`);
  return { status: res.status, body: (await res.json()) as { spec?: Record<string, unknown>; status?: { conditions?: Array<{ status: string }> } } };
}

function postEvent(channel: string, id: string) {
  return fetch(`${sluice.url}/channels/default/${channel}`, {
    method: 'POST',
    headers: { 'ce-specversion': '1.0', 'ce-id': id, 'ce-source': '/test', 'ce-type': 'dev.test', 'content-type': 'text/plain' },
    body: 'hi',
  });
}

const channelAndSub = (subscriber: string) => `apiVersion: messaging.knative.dev/v1
kind: InMemoryChannel
metadata: {name: orders}
---
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata: {name: orders-sub}
spec:
  channel: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: orders}
  subscriber: {uri: "${subscriber}"}
`;

test('POST applies multi-document YAML live; a second apply reports unchanged, a changed one configured', async () => {
  const first = await applyYaml(channelAndSub(sink.url));
  assert.equal(first.status, 200, JSON.stringify(first.body));
  assert.deepEqual(first.body.items!.map((i) => `${i.kind}/${i.name} ${i.result} ${i.ready}`), ['InMemoryChannel/orders created True', 'Subscription/orders-sub created True']);
  assert.equal((await postEvent('orders', 'a1')).status, 202);
  await waitUntil(() => sink.requests.some((r) => r.headers['ce-id'] === 'a1'), 5000, 'delivery through the applied subscription');

  const again = await applyYaml(channelAndSub(sink.url));
  assert.deepEqual(again.body.items!.map((i) => i.result), ['unchanged', 'unchanged']);
  const changed = await applyYaml(channelAndSub(sink.url + 'v2'), 'PUT');
  assert.deepEqual(changed.body.items!.map((i) => i.result), ['unchanged', 'configured']);
  assert.equal((await postEvent('orders', 'a2')).status, 202);
  await waitUntil(() => sink.requests.some((r) => r.headers['ce-id'] === 'a2' && r.url === '/v2'), 5000, 'delivery to the changed subscriber');
});

test('one invalid document rejects the whole request with 400 naming document, kind, name and field; nothing is applied', async () => {
  const body = `apiVersion: messaging.knative.dev/v1
kind: InMemoryChannel
metadata: {name: never-created}
---
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata: {name: bad-sub}
spec:
  channel: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: never-created}
  subscriber: {uri: "http://127.0.0.1:1/"}
  delivery: {backoffDelay: 5s}
`;
  const res = await applyYaml(body);
  assert.equal(res.status, 400);
  assert.equal(res.body.reason, 'SLUICE_ERR_INVALID_RESOURCE');
  assert.match(res.body.error!, /#2 Subscription default\/bad-sub: spec\.delivery\.backoffDelay/);
  assert.deepEqual(res.body.issues, [
    { document: 2, kind: 'Subscription', name: 'default/bad-sub', path: 'spec.delivery.backoffDelay', message: '"5s" is not an ISO-8601 duration' },
  ]);
  assert.equal((await getResource('InMemoryChannel', 'never-created')).status, 404);

  const empty = await applyYaml('# nothing here\n');
  assert.equal(empty.status, 400);
  const notJson = await admin('/api/v1/resources', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"apiVersion":' });
  assert.equal(notJson.status, 400);
  assert.match(((await notJson.json()) as { error: string }).error, /not valid JSON/);
});

test('JSON bodies: one object, or an array (documents numbered like its elements)', async () => {
  const one = await admin('/api/v1/resources', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ apiVersion: 'messaging.knative.dev/v1', kind: 'InMemoryChannel', metadata: { name: 'json-one', namespace: 'team-a' } }),
  });
  assert.equal(one.status, 200);
  assert.equal((await getResource('InMemoryChannel', 'json-one', 'team-a')).status, 200);

  const arr = await admin('/api/v1/resources', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify([
      { apiVersion: 'messaging.knative.dev/v1', kind: 'InMemoryChannel', metadata: { name: 'json-two' } },
      { apiVersion: 'messaging.knative.dev/v1', kind: 'InMemoryChannel', metadata: { name: 'json-three' }, spec: { capacity: 0 } },
    ]),
  });
  assert.equal(arr.status, 400);
  const body = (await arr.json()) as { issues: Array<{ document: number; path: string }> };
  assert.equal(body.issues[0]!.document, 2);
  assert.equal(body.issues[0]!.path, 'spec.capacity');
  assert.equal((await getResource('InMemoryChannel', 'json-two')).status, 404, 'all-or-nothing');
});

test('DELETE by path (kind aliases accepted; 404 when missing) and DELETE with a YAML body', async () => {
  await applyYaml(`apiVersion: messaging.knative.dev/v1
kind: InMemoryChannel
metadata: {name: doomed-1}
---
apiVersion: messaging.knative.dev/v1
kind: InMemoryChannel
metadata: {name: doomed-2}
`);
  const del = await admin('/api/v1/resources/imc/default/doomed-1', { method: 'DELETE' });
  assert.equal(del.status, 200);
  assert.equal((await getResource('InMemoryChannel', 'doomed-1')).status, 404);
  assert.equal((await postEvent('doomed-1', 'x')).status, 404, 'the ingress address is gone too');
  const missing = await admin('/api/v1/resources/InMemoryChannel/default/doomed-1', { method: 'DELETE' });
  assert.equal(missing.status, 404);
  assert.equal(((await missing.json()) as { reason: string }).reason, 'SLUICE_ERR_NOT_FOUND');

  const byBody = await admin('/api/v1/resources', {
    method: 'DELETE',
    headers: { 'content-type': 'application/yaml' },
    body: 'apiVersion: messaging.knative.dev/v1\nkind: InMemoryChannel\nmetadata: {name: doomed-2}\n---\napiVersion: messaging.knative.dev/v1\nkind: InMemoryChannel\nmetadata: {name: never-was}\n',
  });
  assert.equal(byBody.status, 200);
  const items = ((await byBody.json()) as { items: Array<{ name: string; result: string }> }).items;
  assert.deepEqual(items.map((i) => `${i.name}:${i.result}`), ['doomed-2:deleted', 'never-was:notfound']);
  assert.equal((await getResource('InMemoryChannel', 'doomed-2')).status, 404);
});

test('Secrets apply through the API but their values never come back', async () => {
  const res = await applyYaml('apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\nstringData: {token: hunter2}\n');
  assert.equal(res.status, 200);
  const list = await (await admin('/api/v1/resources?kind=Secret')).text();
  assert.match(list, /"creds"/);
  assert.doesNotMatch(list, /hunter2|aHVudGVyMg/);
  const one = await getResource('Secret', 'creds');
  assert.deepEqual((one.body.spec as { data: Record<string, string> }).data, { token: '<redacted>' });
  assert.equal((await admin('/api/v1/resources/Secret/default/creds', { method: 'DELETE' })).status, 200);
  assert.equal((await getResource('Secret', 'creds')).status, 404);
});

test('PUT by path takes exactly the resource it names (checked before anything applies); GET takes kind aliases', async () => {
  const doc = 'apiVersion: messaging.knative.dev/v1\nkind: InMemoryChannel\nmetadata: {name: by-path}\n';
  const wrong = await admin('/api/v1/resources/imc/default/other-name', { method: 'PUT', headers: { 'content-type': 'application/yaml' }, body: doc });
  assert.equal(wrong.status, 400);
  assert.equal((await getResource('InMemoryChannel', 'by-path')).status, 404);
  const ok = await admin('/api/v1/resources/imc/default/by-path', { method: 'PUT', headers: { 'content-type': 'application/yaml' }, body: doc });
  assert.equal(ok.status, 200);
  assert.equal(((await ok.json()) as { result: string }).result, 'created');
  assert.equal((await getResource('inmemorychannels', 'by-path')).status, 200);
  const list = (await (await admin('/api/v1/resources?kind=imc')).json()) as { items: Array<{ metadata: { name: string } }> };
  assert.ok(list.items.some((i) => i.metadata.name === 'by-path'));
});
