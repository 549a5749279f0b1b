import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidOptionError } from '../../src/errors.js';
import { resolveOtlpTracesUrl } from '../../src/observability/otlp-endpoint.js';
import { parseTraceParent } from '../../src/events/trace-context.js';
import { startOtlpCollector } from '../helpers/otlp-collector.js';
import { startSink } from '../helpers/sink.js';
import { waitUntil } from '../helpers/sluice.js';
import { freePort } from '../helpers/nats-server.js';

const CLI = ['--import', 'tsx', 'src/cli/main.ts'];

describe('resolveOtlpTracesUrl', () => {
  test('the flag and OTEL_EXPORTER_OTLP_ENDPOINT are base URLs: /v1/traces is appended once', () => {
    assert.equal(resolveOtlpTracesUrl('http://collector:4318', {}), 'http://collector:4318/v1/traces');
    assert.equal(resolveOtlpTracesUrl('http://collector:4318/', {}), 'http://collector:4318/v1/traces');
    assert.equal(resolveOtlpTracesUrl('https://c.example/otlp/v1/traces', {}), 'https://c.example/otlp/v1/traces');
    assert.equal(resolveOtlpTracesUrl(undefined, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318/base' }), 'http://c:4318/base/v1/traces');
  });

  test('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is used as given and wins over the base variable', () => {
    const env = { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://t:4318/custom', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://b:4318' };
    assert.equal(resolveOtlpTracesUrl(undefined, env), 'http://t:4318/custom');
    assert.equal(resolveOtlpTracesUrl('http://flag:4318', env), 'http://flag:4318/v1/traces', 'the flag wins');
  });

  test('nothing configured, OTEL_SDK_DISABLED or OTEL_TRACES_EXPORTER=none: off', () => {
    assert.equal(resolveOtlpTracesUrl(undefined, {}), undefined);
    assert.equal(resolveOtlpTracesUrl('', {}), undefined);
    assert.equal(resolveOtlpTracesUrl(undefined, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'true' }), undefined);
    assert.equal(resolveOtlpTracesUrl(undefined, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_TRACES_EXPORTER: 'none' }), undefined);
  });

  test('a bad URL names the flag or variable it came from', () => {
    assert.throws(() => resolveOtlpTracesUrl('ftp://c', {}), (e: unknown) => e instanceof InvalidOptionError && /--otlp-endpoint/.test(e.message));
    assert.throws(() => resolveOtlpTracesUrl(undefined, { OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }), /OTEL_EXPORTER_OTLP_ENDPOINT/);
  });
});


describe('sluice start with OTLP', () => {
  test('OTEL_EXPORTER_OTLP_ENDPOINT turns export on; spans of the event\'s trace reach the collector by shutdown', async () => {
    const collector = await startOtlpCollector();
    const sink = await startSink();
    const dir = mkdtempSync(join(tmpdir(), 'sluice-otlp-'));
    const file = join(dir, 'resources.yaml');
    writeFileSync(
      file,
      `apiVersion: messaging.knative.dev/v1
kind: InMemoryChannel
metadata: {name: orders}
---
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata: {name: to-sink}
spec:
  channel: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: orders}
  subscriber: {uri: "${sink.url}"}
`,
    );
    const [port, adminPort] = [await freePort(), await freePort()];
    const env: NodeJS.ProcessEnv = { ...process.env, OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, OTEL_SERVICE_NAME: 'sluice-under-test' };
    delete env.OTEL_SDK_DISABLED;
    delete env.OTEL_TRACES_EXPORTER;
    delete env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
    const child = spawn(process.execPath, [...CLI, 'start', '-f', file, '--port', String(port), '--admin-port', String(adminPort), '--log-format', 'json', '--data-dir', join(dir, 'data')], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const trace = '5bf92f3577b34da6a3ce929d0e0e4737';
    try {
      await waitUntil(() => out.includes('sluice is running') || child.exitCode !== null, 30_000, 'the start banner');
      assert.ok(out.includes('sluice is running'), out);
      const res = await fetch(`http://127.0.0.1:${port}/channels/default/orders`, {
        method: 'POST',
        headers: { 'ce-specversion': '1.0', 'ce-id': 'cli-1', 'ce-source': '/cli', 'ce-type': 't', traceparent: `00-${trace}-00f067aa0ba902b7-01` },
      });
      assert.equal(res.status, 202);
      await sink.waitFor(1, 10_000);
      const hop = parseTraceParent(String(sink.requests[0]!.headers.traceparent))!;
      assert.equal(hop.traceId, trace);
      child.kill('SIGTERM');
      assert.equal(await exited, 0, out);
      // Shutdown flushes the batch: the spans are there without waiting for the export interval.
      const spans = collector.trace(trace);
      assert.ok(spans.some((s) => s.spanId === hop.spanId), `the delivery span among ${JSON.stringify(spans.map((s) => s.name))}`);
      assert.ok(spans.some((s) => s.name === 'receive default/orders'));
      assert.ok(spans.every((s) => s.serviceName === 'sluice-under-test'), 'OTEL_SERVICE_NAME is honoured');
      assert.ok(collector.requests.every((r) => r.contentType?.startsWith('application/json')), 'OTLP/HTTP JSON');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await Promise.all([collector.close(), sink.close()]);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
