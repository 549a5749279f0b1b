import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startSluice } from '../helpers/sluice.js';
import { startSink, type RecordingSink } from '../helpers/sink.js';
import type { SluiceServer } from '../../src/server/sluice-server.js';

// The per-address ingress token (sluice.dev/ingress-token-secret) on every addressable
// kind, not only channels and brokers: Sequence, Parallel, EventTransform and JobSink.

const LOCK = 'annotations: {sluice.dev/ingress-token-secret: kinds-token}';
let sluice: SluiceServer & { url: string };
let sink: RecordingSink;

before(async () => {
  sink = await startSink();
  sluice = await startSluice(`apiVersion: v1
kind: Secret
metadata: {name: kinds-token}
stringData: {token: open-sesame}
---
apiVersion: flows.knative.dev/v1
kind: Sequence
metadata: {name: seq, ${LOCK}}
spec:
  steps: [{uri: "${sink.url}"}]
---
apiVersion: flows.knative.dev/v1
kind: Parallel
metadata: {name: par, ${LOCK}}
spec:
  branches: [{subscriber: {uri: "${sink.url}"}}]
---
apiVersion: eventing.knative.dev/v1alpha1
kind: EventTransform
metadata: {name: tr, ${LOCK}}
spec:
  jsonata: {expression: "$"}
---
apiVersion: sinks.knative.dev/v1alpha1
kind: JobSink
metadata: {name: js, ${LOCK}}
spec:
  job:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{name: main, command: ["${process.execPath}", "-e", "0"]}]
`);
});
after(async () => {
  await sluice.close();
  await sink.close();
});

function send(path: string, headers: Record<string, string> = {}) {
  return fetch(sluice.url + path, {
    method: 'POST',
    headers: { 'ce-specversion': '1.0', 'ce-id': 'k1', 'ce-source': '/t', 'ce-type': 't', 'content-type': 'application/json', ...headers },
    body: '{"n":1}',
  });
}

const paths = ['/flows/default/sequences/seq', '/flows/default/parallels/par', '/transforms/default/tr', '/jobsinks/default/js'];

test('without the token every protected address answers 401 with WWW-Authenticate, and nothing runs', async () => {
  for (const p of paths) {
    const res = await send(p);
    assert.equal(res.status, 401, p);
    assert.equal(res.headers.get('www-authenticate'), 'Bearer', p);
    assert.match(((await res.json()) as { error: string }).error, /Authorization: Bearer/, p);
  }
  for (const p of paths) assert.equal((await send(p, { authorization: 'Bearer wrong' })).status, 401, p);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(sink.requests.length, 0, 'no step or branch was reached');
});

test('with the token each kind does its work', async () => {
  const ok = { authorization: 'Bearer open-sesame' };
  assert.equal((await send('/flows/default/sequences/seq', ok)).status, 202);
  assert.equal((await send('/flows/default/parallels/par', { ...ok, 'ce-id': 'k2' })).status, 202);
  await sink.waitFor(2, 10_000);
  const tr = await send('/transforms/default/tr', ok);
  assert.equal(tr.status, 200, await tr.clone().text());
  assert.equal((await send('/jobsinks/default/js', ok)).status, 202);
});
