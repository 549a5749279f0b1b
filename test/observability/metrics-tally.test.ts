import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Metrics } from '../../src/observability/metrics.js';

async function delivered(metrics: Metrics): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of (await metrics.eventsDelivered.get()).values) out[String(v.labels.subscription)] = v.value;
  return out;
}

test('tallies reach prom-client at scrape time, each count once, whenever the tally was made', async () => {
  const metrics = new Metrics();
  const a = metrics.tally(metrics.eventsDelivered, { namespace_name: 'ns', resource: 'ch', subscription: 'a' });
  // Made before the first scrape and counted only after it: must not count into a list already flushed.
  const late = metrics.tally(metrics.eventsDelivered, { namespace_name: 'ns', resource: 'ch', subscription: 'late' });
  a.inc();
  a.inc(2);
  assert.deepEqual(await delivered(metrics), { a: 3 });
  assert.deepEqual(await delivered(metrics), { a: 3 }, 'a second scrape adds nothing');
  late.inc();
  a.inc();
  const text = await metrics.registry.metrics();
  assert.match(text, /sluice_events_delivered_total\{namespace_name="ns",resource="ch",subscription="a"\} 4/);
  assert.match(text, /sluice_events_delivered_total\{namespace_name="ns",resource="ch",subscription="late"\} 1/);
});

test('one scrape flushes every tallied counter, whichever is read first', async () => {
  const metrics = new Metrics();
  metrics.tally(metrics.deliveries, { namespace_name: 'ns', resource: 'ch', subscription: 's', response_code_class: '2xx' }).inc(5);
  metrics.tally(metrics.eventsReceived, { namespace_name: 'ns', resource: 'ch', kind: 'channel' }).inc(7);
  assert.equal((await metrics.eventsReceived.get()).values[0]?.value, 7);
  assert.equal((await metrics.deliveries.get()).values[0]?.value, 5);
});
