import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CloudEvent, HTTP } from 'cloudevents';
import { request } from 'undici';
import { startSluice, channelYaml, waitUntil } from '../helpers/sluice.js';
import { startSink } from '../helpers/sink.js';
import { metricValue, relayed, relayServiceYaml, serviceSubscriptionYaml } from './e2e-helpers.js';

async function send(url: string, id: string): Promise<void> {
  const msg = HTTP.binary(new CloudEvent({ id, source: '/e2e', type: 'dev.sluice.test', data: { id } }));
  const res = await request(url, { method: 'POST', headers: msg.headers as Record<string, string>, body: msg.body as string });
  await res.body.dump();
  assert.equal(res.statusCode, 202);
}

test('held-queue overflow and hold timeout answer 503 to the dispatcher; the events are retried and none is lost', async () => {
  const full = await startSink();
  const slow = await startSink();
  const delivery = '  delivery: {retry: 20, backoffPolicy: linear, backoffDelay: PT0.1S}\n';
  const yaml =
    channelYaml('burst') +
    '---\n' +
    channelYaml('late') +
    // Holds at most 2 deliveries while it wakes: the rest of the burst is refused.
    relayServiceYaml('small-queue', { env: { RELAY_TO: full.url, START_DELAY_MS: '400' }, annotations: { 'activator.sluice.dev/queue-size': '2' } }) +
    // Holds each delivery 150 ms at most, but needs longer than that to start.
    relayServiceYaml('slow-start', { env: { RELAY_TO: slow.url, START_DELAY_MS: '600' }, annotations: { 'activator.sluice.dev/timeout': '150ms' } }) +
    serviceSubscriptionYaml('burst-sub', 'burst', 'small-queue', delivery) +
    serviceSubscriptionYaml('late-sub', 'late', 'slow-start', delivery);
  const sluice = await startSluice(yaml);
  const registry = sluice.metrics.registry;
  try {
    const ids = Array.from({ length: 8 }, (_, i) => `b${i}`);
    await Promise.all(ids.map((id) => send(`${sluice.url}/channels/default/burst`, id)));
    await send(`${sluice.url}/channels/default/late`, 'l0');

    await full.waitFor(ids.length, 20_000);
    await slow.waitFor(1, 20_000);
    assert.deepEqual(full.requests.map((r) => relayed(r).headers['ce-id']).sort(), ids);
    assert.equal(relayed(slow.requests[0]!).headers['ce-id'], 'l0');

    assert.ok((await metricValue(registry, 'sluice_activator_rejected_total', { resource: 'small-queue', reason: 'queue_full' })) >= 1, 'queue_full 503s');
    assert.ok((await metricValue(registry, 'sluice_activator_rejected_total', { resource: 'slow-start', reason: 'timeout' })) >= 1, 'timeout 503s');
    assert.ok((await metricValue(registry, 'sluice_events_retried_total', { subscription: 'burst-sub' })) >= 1, 'refused deliveries were retried');
    assert.ok((await metricValue(registry, 'sluice_events_retried_total', { subscription: 'late-sub' })) >= 1);
    // Retries are deliveries that the activator answered 503 (no request went out).
    await waitUntil(async () => (await metricValue(registry, 'sluice_events_delivered_total', { subscription: 'burst-sub' })) === ids.length, 5000, 'all burst deliveries recorded');
    assert.ok((await metricValue(registry, 'sluice_delivery_attempts_total', { subscription: 'burst-sub', response_code_class: '5xx' })) >= 1);
  } finally {
    await sluice.close();
    await full.close();
    await slow.close();
  }
});
