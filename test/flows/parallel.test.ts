import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { waitUntil } from '../helpers/sluice.js';
import { appendStep, dataOf, Fixture, readyOf, reply, send, statusOf } from './flow-helpers.js';

describe('Parallel', () => {
  const f = new Fixture();
  after(() => f.close());

  test('every branch gets every event; a filter passes by answering with the event and drops with 200 empty; replies go to the branch reply, else the Parallel reply', async () => {
    // Passes events whose data.n is even, drops the others.
    const filter = await f.sink((req, res) => {
      if ((dataOf(req).n ?? 0) % 2 === 0) reply(res, req, dataOf(req));
      else {
        res.statusCode = 200;
        res.end();
      }
    });
    const even = await f.sink(appendStep('even'));
    const all = await f.sink(appendStep('all'));
    const branchReply = await f.sink();
    const parallelReply = await f.sink();
    const s = await f.sluice(`apiVersion: flows.knative.dev/v1
kind: Parallel
metadata: {name: fanout}
spec:
  branches:
  - filter: {uri: "${filter.url}"}
    subscriber: {uri: "${even.url}"}
    reply: {uri: "${branchReply.url}"}
  - subscriber: {uri: "${all.url}"}
  reply: {uri: "${parallelReply.url}"}
`);
    const st = await statusOf(s, 'Parallel', 'fanout');
    assert.equal(readyOf(st)?.status, 'True', JSON.stringify(st));
    assert.equal(st?.address?.url, `${s.url}/flows/default/parallels/fanout`);
    const ingress = st?.ingressChannelStatus as { channel: { kind: string; name: string }; ready: { status: string } };
    assert.deepEqual([ingress.channel.kind, ingress.channel.name, ingress.ready.status], ['InMemoryChannel', 'parallel.fanout', 'True']);
    type SubStatus = { subscription: { name: string }; ready: { status: string } };
    const branches = st?.branchStatuses as Array<{ filterSubscriptionStatus: SubStatus; filterChannelStatus: { channel: { name: string } }; subscriptionStatus: SubStatus }>;
    assert.deepEqual(
      branches.map((b) => [b.filterSubscriptionStatus.subscription.name, b.filterChannelStatus.channel.name, b.subscriptionStatus.subscription.name, b.subscriptionStatus.ready.status]),
      [
        ['fanout-kn-parallel-filter-0', 'parallel.fanout.0', 'fanout-kn-parallel-0', 'True'],
        ['fanout-kn-parallel-filter-1', 'parallel.fanout.1', 'fanout-kn-parallel-1', 'True'],
      ],
    );

    for (let n = 0; n < 4; n++) assert.equal(await send(st!.address!.url, `p${n}`, { n }), 202);
    await parallelReply.waitFor(4);
    await branchReply.waitFor(2);
    assert.equal(filter.requests.length, 4, 'the filter saw every event');
    assert.deepEqual(all.requests.map((r) => r.headers['ce-id']).sort(), ['p0', 'p1', 'p2', 'p3']);
    assert.deepEqual(even.requests.map((r) => r.headers['ce-id']).sort(), ['p0', 'p2']);
    assert.deepEqual(branchReply.requests.map((r) => [r.headers['ce-id'], dataOf(r).steps]).sort(), [['p0', ['even']], ['p2', ['even']]]);
    assert.deepEqual(parallelReply.requests.map((r) => [r.headers['ce-id'], dataOf(r).steps]).sort(), [['p0', ['all']], ['p1', ['all']], ['p2', ['all']], ['p3', ['all']]]);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(even.requests.length, 2, 'dropped events never reach the filtered branch');
  });

  test('explicit InMemoryChannel template; a Parallel as a Subscription subscriber; deleting it removes its address', async () => {
    const sub = await f.sink();
    const s = await f.sluice(`apiVersion: flows.knative.dev/v1
kind: Parallel
metadata: {name: p2}
spec:
  channelTemplate: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel}
  branches:
  - subscriber: {uri: "${sub.url}"}
---
apiVersion: messaging.knative.dev/v1
kind: InMemoryChannel
metadata: {name: in}
---
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata: {name: in-to-parallel}
spec:
  channel: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: in}
  subscriber: {ref: {apiVersion: flows.knative.dev/v1, kind: Parallel, name: p2}}
`);
    assert.equal(readyOf(await statusOf(s, 'Parallel', 'p2'))?.status, 'True');
    assert.equal(readyOf(await statusOf(s, 'Subscription', 'in-to-parallel'))?.status, 'True');
    assert.equal(await send(`${s.url}/channels/default/in`, 'x1'), 202);
    await sub.waitFor(1);
    assert.equal(sub.requests[0]!.headers['ce-id'], 'x1');
    await s.runtime.delete('Parallel', 'default', 'p2');
    assert.equal((await fetch(`${s.url}/flows/default/parallels/p2`, { method: 'POST' })).status, 404);
    assert.equal((await fetch(`${s.url}/flows/default/parallels/p2/branches/0`, { method: 'POST' })).status, 404);
    await waitUntil(async () => readyOf(await statusOf(s, 'Subscription', 'in-to-parallel'))?.status === 'False', 5000, 'Subscription not Ready');
  });

  test('a Sequence step may be a Parallel (resolved whatever the order of kinds); flow channels are in the channel metrics', async () => {
    const leaf = await f.sink();
    const s = await f.sluice(`apiVersion: flows.knative.dev/v1
kind: Sequence
metadata: {name: outer}
spec:
  steps:
  - ref: {apiVersion: flows.knative.dev/v1, kind: Parallel, name: inner}
---
apiVersion: flows.knative.dev/v1
kind: Parallel
metadata: {name: inner}
spec:
  branches:
  - subscriber: {uri: "${leaf.url}"}
`);
    await waitUntil(async () => readyOf(await statusOf(s, 'Sequence', 'outer'))?.status === 'True', 5000, 'Sequence Ready');
    assert.equal(await send(`${s.url}/flows/default/sequences/outer`, 'n1'), 202);
    await leaf.waitFor(1);
    assert.equal(leaf.requests[0]!.headers['ce-id'], 'n1');
    const metrics = await (await fetch(`${s.adminUrl}/metrics`)).text();
    assert.match(metrics, /sluice_channel_buffered_events\{[^}]*resource="sequence\.outer\.0"/);
    assert.match(metrics, /sluice_channel_buffered_events\{[^}]*resource="parallel\.inner\.0"/);
  });
});
