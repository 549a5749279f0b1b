import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Registry } from 'prom-client';
import { ActivatorMetrics } from '../../src/activator/activator-metrics.js';
import { Metrics, responseCodeClass } from '../../src/observability/metrics.js';
import { startSink, type RecordingSink } from '../helpers/sink.js';
import { channelYaml, startSluice, subscriptionYaml, waitUntil } from '../helpers/sluice.js';

interface Family {
  name: string;
  type: string;
  labelNames: readonly string[];
}

/** Every metric family on a registry, with its declared label names. */
function families(registry: Registry): Family[] {
  return registry.getMetricsAsArray().map((m) => {
    const metric = m as unknown as { name: string; type: string; labelNames?: readonly string[] };
    return { name: metric.name, type: String(metric.type), labelNames: metric.labelNames ?? [] };
  });
}

function allFamilies(): Family[] {
  const registry = new Metrics().registry;
  new ActivatorMetrics(registry);
  return families(registry);
}

describe('metric names and labels follow the Prometheus conventions', () => {
  const all = allFamilies();

  test('sluice_ prefix; counters end in _total; histograms carry their unit; no unit-less gauges of time', () => {
    assert.ok(all.length >= 15, `${all.length} families`);
    for (const f of all) {
      assert.match(f.name, /^sluice_[a-z0-9_]+$/, f.name);
      if (f.type === 'counter') assert.match(f.name, /_total$/, `${f.name}: counters end in _total`);
      else assert.doesNotMatch(f.name, /_total$/, `${f.name}: only counters end in _total`);
      if (f.type === 'histogram') assert.match(f.name, /_(seconds|bytes)$/, `${f.name}: histograms name their unit`);
      if (f.type === 'gauge') assert.match(f.name, /_(events|requests|replicas|seconds|bytes)$/, `${f.name}: gauges name what they count`);
    }
  });

  test('labels: namespace_name and resource on every metric; no other spelling of them', () => {
    for (const f of all) {
      assert.ok(f.labelNames.includes('namespace_name'), `${f.name} has namespace_name`);
      assert.ok(f.labelNames.includes('resource'), `${f.name} has resource`);
      for (const l of f.labelNames) {
        assert.ok(!['namespace', 'ns', 'service', 'channel', 'broker', 'status', 'code', 'status_code'].includes(l), `${f.name}: label ${l}`);
      }
    }
    const byName = new Map(all.map((f) => [f.name, f]));
    for (const name of ['sluice_delivery_attempts_total', 'sluice_delivery_duration_seconds', 'sluice_ingress_requests_rejected_total']) {
      assert.ok(byName.get(name)?.labelNames.includes('response_code_class'), `${name} has response_code_class`);
    }
  });

  test('response_code_class: 2xx..5xx, or error without a response', () => {
    assert.equal(responseCodeClass(202), '2xx');
    assert.equal(responseCodeClass(404), '4xx');
    assert.equal(responseCodeClass(503), '5xx');
    assert.equal(responseCodeClass(undefined), 'error');
  });

  test('README.md documents every metric', () => {
    const readme = readFileSync('README.md', 'utf8');
    const section = readme.slice(readme.indexOf('## Metrics'));
    assert.ok(section.length > 0, 'a Metrics section');
    for (const f of all) assert.ok(section.includes(`\`${f.name}\``), `README.md Metrics documents ${f.name}`);
  });
});

describe('metrics of a running broker', () => {
  let sink: RecordingSink;
  let sluice: Awaited<ReturnType<typeof startSluice>>;
  let release: () => void = () => {};

  before(async () => {
    // The sink holds the second event until released, so the gauges see a backlog.
    const held = new Promise<void>((resolve) => (release = resolve));
    sink = await startSink(async (req, res) => {
      if (req.headers['ce-id'] === 'held') await held;
      res.statusCode = 202;
      res.end();
    });
    sluice = await startSluice(
      channelYaml('metered', 'spec: {capacity: 50}') +
        subscriptionYaml('to-sink', 'metered', sink.url) +
        '---\napiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata: {name: metered-broker}\n',
    );
  });
  after(async () => {
    release();
    await sluice.close();
    await sink.close();
  });

  async function scrape(): Promise<string> {
    return (await fetch(`${sluice.adminUrl}/metrics`)).text();
  }

  async function send(id: string): Promise<number> {
    const res = await fetch(`${sluice.url}/channels/default/metered`, {
      method: 'POST',
      headers: { 'ce-specversion': '1.0', 'ce-id': id, 'ce-source': '/m', 'ce-type': 't' },
    });
    return res.status;
  }

  test('deliveries, rejections and channel gauges appear with their labels', async () => {
    assert.equal(await send('ok'), 202);
    await sink.waitFor(1);
    assert.equal((await fetch(`${sluice.url}/channels/default/metered`, { method: 'POST', body: 'nope' })).status, 400);
    assert.equal(await send('held'), 202);
    await sink.waitFor(2);

    const text = await scrape();
    assert.match(text, /sluice_events_received_total\{namespace_name="default",resource="metered",kind="channel"\} 2/);
    assert.match(text, /sluice_ingress_requests_rejected_total\{namespace_name="default",resource="metered",response_code="400",response_code_class="4xx"\} 1/);
    assert.match(text, /sluice_delivery_duration_seconds_count\{namespace_name="default",resource="metered",subscription="to-sink",response_code_class="2xx"\} 1/);
    assert.match(text, /sluice_channel_capacity_events\{namespace_name="default",resource="metered",kind="InMemoryChannel"\} 50/);
    // The held event is accepted but not finished: it is in the buffer, the backlog and in flight.
    assert.match(text, /sluice_channel_buffered_events\{namespace_name="default",resource="metered",kind="InMemoryChannel"\} 1/);
    assert.match(text, /sluice_subscription_backlog_events\{namespace_name="default",resource="metered",subscription="to-sink"\} 1/);
    assert.match(text, /sluice_subscription_in_flight_events\{namespace_name="default",resource="metered",subscription="to-sink"\} 1/);
    // A broker's backing channel is listed under the broker's name.
    assert.match(text, /sluice_channel_buffered_events\{namespace_name="default",resource="metered-broker",kind="InMemoryChannel"\} 0/);

    release();
    await waitUntil(async () => /sluice_delivery_attempts_total\{[^}]*subscription="to-sink",response_code_class="2xx"\} 2/.test(await scrape()), 5000, 'both attempts counted');
    await waitUntil(async () => /sluice_subscription_backlog_events\{[^}]*\} 0/.test(await scrape()), 5000, 'the backlog drains to 0');
  });

  test('a deleted channel leaves the gauges instead of keeping its last value', async () => {
    await sluice.runtime.delete('InMemoryChannel', 'default', 'metered');
    const text = await scrape();
    assert.doesNotMatch(text, /sluice_channel_buffered_events\{[^}]*resource="metered"/);
    assert.doesNotMatch(text, /sluice_subscription_backlog_events\{[^}]*resource="metered"/);
  });
});
