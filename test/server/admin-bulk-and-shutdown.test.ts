import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Worker } from 'node:worker_threads';
import { startSluice, channelYaml, subscriptionYaml, waitUntil } from '../helpers/sluice.js';
import { startSink } from '../helpers/sink.js';

// The admin API at scale and during shutdown: an apply of thousands of resources is
// linear and leaves ingress answering while it runs; a bulk delete is one reconcile pass;
// once shutdown began, writes answer 503 instead of applying.

const N = 4000;

/** Posts one event every 20 ms to `workerData.url` and reports when each was sent and answered. */
const INGRESS_CLIENT = `
const { parentPort, workerData } = require('node:worker_threads');
(async () => {
  for (let i = 0; ; i++) {
    const sentAt = Date.now();
    let status = 0;
    try {
      const res = await fetch(workerData.url, { method: 'POST', headers: { 'ce-specversion': '1.0', 'ce-id': 'w' + i, 'ce-source': '/worker', 'ce-type': 'dev.test', 'content-type': 'text/plain' }, body: 'hi' });
      await res.arrayBuffer();
      status = res.status;
    } catch {}
    parentPort.postMessage({ sentAt, answeredAt: Date.now(), status });
    await new Promise((r) => setTimeout(r, 20));
  }
})();
`;

function postEvent(base: string, channel: string, id: string): Promise<Response> {
  return fetch(`${base}/channels/default/${channel}`, {
    method: 'POST',
    headers: { 'ce-specversion': '1.0', 'ce-id': id, 'ce-source': '/test', 'ce-type': 'dev.test', 'content-type': 'text/plain' },
    body: 'hi',
  });
}

test(`one apply of ${N} InMemoryChannels completes in bounded time while ingress keeps answering; a bulk delete of them too`, async () => {
  const sink = await startSink();
  const sluice = await startSluice(channelYaml('existing') + subscriptionYaml('existing-sub', 'existing', sink.url));
  try {
    const names = Array.from({ length: N }, (_, i) => `bulk-${i}`);
    const body = names.map((n) => `apiVersion: messaging.knative.dev/v1\nkind: InMemoryChannel\nmetadata: {name: ${n}}\n`).join('---\n');
    // The events come from a worker thread: a client on this thread's event loop would be
    // stalled by the server's own work and prove nothing about the server.
    const client = new Worker(INGRESS_CLIENT, { eval: true, workerData: { url: `${sluice.url}/channels/default/existing` } });
    const answers: Array<{ sentAt: number; answeredAt: number; status: number }> = [];
    client.on('message', (m: { sentAt: number; answeredAt: number; status: number }) => answers.push(m));
    await waitUntil(() => answers.length > 0, 10_000, 'the ingress client to start');
    const started = Date.now();
    let applyDoneAt = 0;
    const apply = fetch(`${sluice.adminUrl}/api/v1/resources`, { method: 'POST', headers: { 'content-type': 'application/yaml' }, body }).then(async (res) => {
      applyDoneAt = Date.now();
      return { status: res.status, body: (await res.json()) as { items?: Array<{ name: string; result: string; ready?: string }> } };
    });
    const applied = await apply;
    const applyMs = applyDoneAt - started;
    await new Promise((r) => setTimeout(r, 200));
    await client.terminate();
    const during = answers.filter((a) => a.sentAt > started && a.answeredAt < applyDoneAt);
    const slowest = Math.max(0, ...answers.filter((a) => a.sentAt > started).map((a) => a.answeredAt - a.sentAt));
    assert.ok(answers.every((a) => a.status === 202), JSON.stringify(answers.filter((a) => a.status !== 202)));
    assert.equal(applied.status, 200, JSON.stringify(applied.body).slice(0, 500));
    assert.equal(applied.body.items?.length, N);
    assert.ok(applied.body.items!.every((i) => i.result === 'created' && i.ready === 'True'));
    assert.ok(applyMs < 20_000, `the apply of ${N} channels took ${applyMs} ms`);
    assert.ok(during.length > 0, `no ingress request was answered during the ${applyMs} ms apply (slowest answer: ${slowest} ms)`);
    const res = await fetch(`${sluice.adminUrl}/api/v1/resources?kind=InMemoryChannel`);
    assert.equal(((await res.json()) as { items: unknown[] }).items.length, N + 1);
    assert.equal((await postEvent(sluice.url, 'bulk-3999', 'last')).status, 202);

    const delStarted = Date.now();
    const del = await fetch(`${sluice.adminUrl}/api/v1/resources`, { method: 'DELETE', headers: { 'content-type': 'application/json' }, body: JSON.stringify(names.map((name) => ({ kind: 'InMemoryChannel', metadata: { name } }))) });
    const delMs = Date.now() - delStarted;
    assert.equal(del.status, 200);
    assert.ok(delMs < 20_000, `the delete of ${N} channels took ${delMs} ms`);
    assert.equal((await postEvent(sluice.url, 'bulk-3999', 'gone')).status, 404);
    assert.equal((await postEvent(sluice.url, 'existing', 'still')).status, 202);
    console.log(`apply of ${N} channels: ${applyMs} ms (${during.length} ingress answers during it, slowest ${slowest} ms); delete: ${delMs} ms`);
  } finally {
    await sluice.close();
    await sink.close();
  }
});

test('once shutdown began, admin writes answer 503 and apply nothing; reads still answer', async () => {
  // A subscriber that never answers keeps the drain (and so the admin port) open.
  const held = new Set<import('node:http').ServerResponse>();
  const hanging = createServer((_req, res) => held.add(res));
  await new Promise<void>((r) => hanging.listen(0, '127.0.0.1', r));
  const subscriber = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}/`;
  const sluice = await startSluice(channelYaml('orders') + subscriptionYaml('orders-sub', 'orders', subscriber), { drainTimeoutMs: 3000 });
  try {
    assert.equal((await postEvent(sluice.url, 'orders', 'a1')).status, 202);
    const closing = sluice.close();
    assert.equal(sluice.draining, true);
    const yaml = { 'content-type': 'application/yaml' };
    const post = await fetch(`${sluice.adminUrl}/api/v1/resources`, { method: 'POST', headers: yaml, body: channelYaml('late') });
    assert.equal(post.status, 503);
    const err = (await post.json()) as { error: string; reason: string };
    assert.equal(err.reason, 'SLUICE_ERR_UNAVAILABLE');
    assert.match(err.error, /shutting down/);
    assert.equal((await fetch(`${sluice.adminUrl}/api/v1/resources`, { method: 'PUT', headers: yaml, body: channelYaml('late') })).status, 503);
    assert.equal((await fetch(`${sluice.adminUrl}/api/v1/resources/imc/default/orders`, { method: 'DELETE' })).status, 503);
    assert.equal((await fetch(`${sluice.adminUrl}/api/v1/resources`, { method: 'DELETE', headers: yaml, body: channelYaml('orders') })).status, 503);
    const list = await fetch(`${sluice.adminUrl}/api/v1/resources`);
    assert.equal(list.status, 200);
    const kinds = ((await list.json()) as { items: Array<{ metadata: { name: string } }> }).items.map((i) => i.metadata.name);
    assert.ok(!kinds.includes('late'), kinds.join());
    assert.ok(kinds.includes('orders'), kinds.join());
    for (const res of held) res.destroy();
    await closing;
  } finally {
    await sluice.close();
    hanging.closeAllConnections();
    await new Promise((r) => hanging.close(r));
  }
});
