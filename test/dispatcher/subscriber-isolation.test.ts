import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startSink } from '../helpers/sink.js';
import { channelYaml, startSluice, subscriptionYaml, waitUntil } from '../helpers/sluice.js';
import { brokerYaml, triggerYaml } from '../broker/broker-helpers.js';
import { metricValue } from '../activator/e2e-helpers.js';

async function post(url: string, id: string, type = 'dev.test'): Promise<number> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'ce-specversion': '1.0', 'ce-id': id, 'ce-source': '/load', 'ce-type': type, 'content-type': 'application/json' },
    body: JSON.stringify({ id }),
  });
  await res.arrayBuffer();
  return res.status;
}

// One origin, three subscriptions: two whose endpoint never answers and one healthy. With
// one shared pool (128 connections per origin) the hung attempts held every connection
// and the healthy subscription's attempts timed out waiting for one.
test('two hanging subscriptions and a healthy one on the same host:port: the healthy one gets every event', async () => {
  const held: Array<() => void> = [];
  const sink = await startSink((req, res) => {
    if (req.url.startsWith('/hang')) held.push(() => res.destroy());
    else {
      res.statusCode = 202;
      res.end();
    }
  });
  const ok = (base: string) => base + 'ok';
  const sluice = await startSluice(
    channelYaml('c', 'spec: {capacity: 1000}') +
      subscriptionYaml('hang-1', 'c', sink.url + 'hang/1', '  delivery: {retry: 0, timeout: PT60S}\n') +
      subscriptionYaml('hang-2', 'c', sink.url + 'hang/2', '  delivery: {retry: 0, timeout: PT60S}\n') +
      // No retries and a short timeout: an attempt that waits for a connection fails.
      subscriptionYaml('healthy', 'c', ok(sink.url), '  delivery: {retry: 0, timeout: PT2S}\n'),
    { drainTimeoutMs: 200 },
  );
  try {
    const n = 300;
    for (let i = 0; i < n; i++) assert.equal(await post(`${sluice.url}/channels/default/c`, `e${i}`), 202);
    await waitUntil(() => sink.requests.filter((r) => r.url === '/ok').length >= n, 15_000, 'the healthy subscriber got every event');
    const got = new Set(sink.requests.filter((r) => r.url === '/ok').map((r) => String(r.headers['ce-id'])));
    assert.equal(got.size, n);
    // Each hung subscription holds its own connections: up to its in-flight limit (100).
    await waitUntil(() => held.length >= 200, 10_000, 'both hung subscriptions at their in-flight limit');
    assert.equal(await metricValue(sluice.metrics.registry, 'sluice_events_failed_total', { subscription: 'healthy' }), 0);
  } finally {
    for (const h of held) h();
    await sluice.close();
    await sink.close();
  }
});

// A broker whose backing channel holds 40 events, a Trigger whose subscriber hangs and a
// healthy one: 3x the capacity is sent. The stuck Trigger fills its own share, then its
// oldest waiting events go to its dead-letter sink; the broker never answers 429.
test('broker with a stuck and a healthy Trigger, 3x capacity sent: every event accepted, the healthy one gets all, the stuck one dead-letters its overflow', async () => {
  const releases: Array<() => void> = [];
  const stuck = await startSink((_req, res) => {
    releases.push(() => res.destroy());
  });
  const healthy = await startSink();
  const dead = await startSink();
  const capacity = 40;
  const sluice = await startSluice(
    brokerYaml('b') +
      triggerYaml('stuck', 'b', stuck.url, `  delivery:\n    retry: 0\n    timeout: PT60S\n    deadLetterSink: {uri: "${dead.url}"}`) +
      triggerYaml('healthy', 'b', healthy.url, '  delivery: {retry: 0}'),
    { channelCapacity: capacity, drainTimeoutMs: 200 },
  );
  try {
    const n = capacity * 3;
    // The healthy Trigger first shows it keeps up (pacing follows subscriptions that make
    // progress); a burst before its first delivery returns could fill the channel (429).
    const statuses = [await post(`${sluice.url}/default/b`, 'e0')];
    await healthy.waitFor(1, 10_000);
    for (let i = 1; i < n; i++) statuses.push(await post(`${sluice.url}/default/b`, `e${i}`));
    assert.deepEqual([...new Set(statuses)], [202], 'no 429 for the healthy Trigger');
    await healthy.waitFor(n, 15_000);
    assert.equal(new Set(healthy.requests.map((r) => String(r.headers['ce-id']))).size, n);
    const backlog = () => sluice.brokers.instances.get('default/b')!.channel.stats().subscriptions['default/stuck']!.backlog;
    await waitUntil(() => dead.requests.length + backlog() === n, 10_000, 'every event of the stuck Trigger is held or dead-lettered');
    const d = dead.requests[0]!;
    assert.equal(d.headers['ce-knativeerrorcode'], '429');
    assert.equal(d.headers['ce-knativeerrordest'], stuck.url);
    assert.match(Buffer.from(String(d.headers['ce-knativeerrordata']), 'base64').toString(), /fell too far behind/);
    let counted = 0;
    await waitUntil(async () => (counted = await metricValue(sluice.metrics.registry, 'sluice_events_dead_lettered_total', { subscription: 'stuck' })) === dead.requests.length, 5000, 'dead letters counted');
    assert.ok(counted >= n - capacity, `dead-lettered ${counted}`);
  } finally {
    for (const r of releases) r();
    await sluice.close();
    for (const s of [stuck, healthy, dead]) await s.close();
  }
});

test('without a dead-letter sink, a stuck subscription overflow is dropped with a metric, and shutdown losses are counted', async () => {
  const stuck = await startSink(() => {});
  const healthy = await startSink();
  const capacity = 20;
  const sluice = await startSluice(
    channelYaml('c', `spec: {capacity: ${capacity}}`) +
      subscriptionYaml('stuck', 'c', stuck.url, '  delivery: {retry: 0, timeout: PT60S}\n') +
      subscriptionYaml('healthy', 'c', healthy.url),
    { drainTimeoutMs: 200 },
  );
  const registry = sluice.metrics.registry;
  try {
    // The healthy subscriber first shows it keeps up (pacing follows subscriptions that make
    // progress); a burst before its first delivery returns could fill the channel (429).
    assert.equal(await post(`${sluice.url}/channels/default/c`, 'e0'), 202);
    await healthy.waitFor(1, 10_000);
    for (let i = 1; i < capacity * 3; i++) assert.equal(await post(`${sluice.url}/channels/default/c`, `e${i}`), 202);
    await healthy.waitFor(capacity * 3, 10_000);
    const dropped = await metricValue(registry, 'sluice_events_failed_total', { subscription: 'stuck', reason: 'subscription_full' });
    const stats = () => sluice.runtime.channelStats()[0]!.stats;
    assert.equal(dropped + stats().subscriptions['default/stuck']!.backlog, capacity * 3);
    assert.ok(dropped >= capacity * 2, `dropped ${dropped}`);
    const held = stats().subscriptions['default/stuck']!.backlog;
    await sluice.close();
    // What the stuck subscription still held at the drain deadline is a counted loss, not a silent one.
    assert.equal(await metricValue(registry, 'sluice_events_failed_total', { subscription: 'stuck', reason: 'shutdown' }), held);
  } finally {
    await sluice.close();
    await stuck.close();
    await healthy.close();
  }
});
