import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CloudEvent, HTTP } from 'cloudevents';
import { request } from 'undici';
import { startSluice, channelYaml, waitUntil } from '../helpers/sluice.js';
import { startSink } from '../helpers/sink.js';
import { alive, metricValue, relayed, relayServiceYaml, resourceStatus, serviceSubscriptionYaml } from './e2e-helpers.js';

async function send(url: string, id: string): Promise<number> {
  const msg = HTTP.binary(new CloudEvent({ id, source: '/e2e', type: 'dev.sluice.test', datacontenttype: 'text/plain', data: `event ${id}` }));
  const res = await request(url, { method: 'POST', headers: msg.headers as Record<string, string>, body: msg.body as string });
  await res.body.dump();
  return res.statusCode;
}

test('a Subscription to a Service: the first event cold-starts it and is delivered with no retry spent; idle scales it to zero; /services/ reaches it', async () => {
  const sink = await startSink();
  const yaml =
    channelYaml('orders') +
    relayServiceYaml('encoder', {
      env: { RELAY_TO: sink.url, START_DELAY_MS: '150' },
      annotations: { 'autoscaling.knative.dev/window': '300ms', 'autoscaling.knative.dev/scale-to-zero-pod-retention-period': '600ms' },
    }) +
    // retry: 0 -- a cold start that cost an attempt would lose the event.
    serviceSubscriptionYaml('orders-to-encoder', 'orders', 'encoder', '  delivery: {retry: 0}\n');
  const sluice = await startSluice(yaml);
  const registry = sluice.metrics.registry;
  try {
    const st0 = await resourceStatus(sluice, 'Service', 'encoder');
    assert.equal(st0.conditions[0]!.status, 'True', JSON.stringify(st0));
    assert.equal((st0.address as { url: string }).url, `${sluice.url}/services/default/encoder`);
    assert.deepEqual((st0.replicas as { desired: number; ready: number }).ready, 0, 'initial-scale 0: nothing runs yet');
    const sub = await resourceStatus(sluice, 'Subscription', 'orders-to-encoder');
    assert.equal(sub.conditions[0]!.status, 'True', JSON.stringify(sub));

    // Three events while the service is cold: all held, then delivered in order of arrival.
    for (const id of ['e1', 'e2', 'e3']) assert.equal(await send(`${sluice.url}/channels/default/orders`, id), 202);
    await sink.waitFor(3, 15_000);
    const got = sink.requests.map(relayed);
    // The activator releases held requests in arrival order (test/activator covers that);
    // the relay forwards them concurrently, so the sink may see them in any order.
    assert.deepEqual(got.map((r) => r.headers['ce-id']).sort(), ['e1', 'e2', 'e3']);
    assert.equal(got[0]!.headers['prefer'], 'reply');
    const pid = got[0]!.pid;
    assert.ok(alive(pid));

    const labels = { namespace_name: 'default', subscription: 'orders-to-encoder' };
    // The relay reaches the sink before the replica answers the dispatcher.
    await waitUntil(async () => (await metricValue(registry, 'sluice_events_delivered_total', labels)) === 3, 5000, '3 deliveries recorded');
    assert.equal(await metricValue(registry, 'sluice_delivery_attempts_total', labels), 3, 'one attempt per event');
    assert.equal(await metricValue(registry, 'sluice_events_retried_total', labels), 0);
    assert.equal(await metricValue(registry, 'sluice_activator_cold_starts_total', { resource: 'encoder' }), 1);
    assert.equal(await metricValue(registry, 'sluice_activator_cold_start_duration_seconds_count', { resource: 'encoder' }), 1);
    const metricsText = await (await fetch(`${sluice.adminUrl}/metrics`)).text();
    for (const name of ['sluice_activator_cold_starts_total', 'sluice_activator_cold_start_duration_seconds_bucket', 'sluice_activator_replicas', 'sluice_activator_queued_requests']) {
      assert.match(metricsText, new RegExp(`^${name}\\{[^}]*resource="encoder"`, 'm'), `${name} on the admin /metrics`);
    }

    let st: Awaited<ReturnType<typeof resourceStatus>> | undefined;
    await waitUntil(async () => ((st = await resourceStatus(sluice, 'Service', 'encoder')), st.lastColdStart !== undefined), 5000, 'lastColdStart in the status');
    const cold = st!.lastColdStart as { time: string; durationMs: number };
    assert.ok(Date.parse(cold.time) > 0 && cold.durationMs >= 150, JSON.stringify(cold));

    // Idle: back to zero, the process is gone.
    await waitUntil(() => !alive(pid), 15_000, 'the replica to stop after the idle period');
    await waitUntil(async () => ((st = await resourceStatus(sluice, 'Service', 'encoder')), (st.replicas as { ready: number }).ready === 0), 5000, 'status to show 0 ready');
    assert.equal(st!.conditions[0]!.status, 'True', 'a Service at zero is still Ready');

    // Plain HTTP through the public port wakes it again (path and query kept).
    const res = await request(`${sluice.url}/services/default/encoder/hello/world?x=1`, { method: 'PUT', body: 'plain' });
    assert.equal(res.statusCode, 202);
    const text = await res.body.text();
    assert.match(text, /^v1 \d+ PUT \/hello\/world\?x=1$/);
    assert.notEqual(Number(res.headers['x-replica-pid']), pid, 'a new replica');
    assert.equal(await metricValue(registry, 'sluice_activator_cold_starts_total', { resource: 'encoder' }), 2);
  } finally {
    await sluice.close();
    await sink.close();
  }
});
