import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { CloudEvent, HTTP } from 'cloudevents';
import { parseTraceParent } from '../../src/events/trace-context.js';
import { loadTracing } from '../../src/observability/tracing.js';
import { startSink, type RecordingSink } from '../helpers/sink.js';
import { channelYaml, startSluice, subscriptionYaml, waitUntil } from '../helpers/sluice.js';
import { startOtlpCollector, type CollectedSpan, type FakeOtlpCollector } from '../helpers/otlp-collector.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';
const TP = `00-${TRACE}-${PARENT}-01`;
const SPAN_KIND = { SERVER: 2, CLIENT: 3, PRODUCER: 4 };
const STATUS_ERROR = 2;

type Sluice = Awaited<ReturnType<typeof startSluice>>;

function header(sink: RecordingSink, i: number, name: string): string | undefined {
  const v = sink.requests[i]!.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

async function post(url: string, message: { headers: Record<string, unknown>; body: unknown }, extra: Record<string, string> = {}): Promise<void> {
  const res = await fetch(url, { method: 'POST', headers: { ...(message.headers as Record<string, string>), ...extra }, body: message.body as string });
  assert.equal(res.status, 202, await res.text());
}

describe('trace context without an OTLP endpoint (propagation only)', () => {
  let sink: RecordingSink;
  let sluice: Sluice;
  let url: string;

  before(async () => {
    sink = await startSink();
    sluice = await startSluice(channelYaml('plain') + subscriptionYaml('to-sink', 'plain', sink.url));
    url = `${sluice.url}/channels/default/plain`;
  });
  after(async () => {
    await sluice.close();
    await sink.close();
  });

  test('binary mode with W3C headers: the sink gets the same trace with a child span id, and the extension', async () => {
    const n = sink.requests.length;
    await post(url, HTTP.binary(new CloudEvent({ id: 'w3c', source: '/t', type: 't', data: { a: 1 } })), { traceparent: TP, tracestate: 'congo=t61rcWkgMzE' });
    await sink.waitFor(n + 1);
    const hop = parseTraceParent(header(sink, n, 'traceparent'));
    assert.ok(hop, 'a valid traceparent header');
    assert.equal(hop.traceId, TRACE);
    assert.notEqual(hop.spanId, PARENT, 'a child span id, not the caller\'s');
    assert.equal(header(sink, n, 'tracestate'), 'congo=t61rcWkgMzE');
    assert.equal(header(sink, n, 'ce-traceparent'), TP, 'the extension keeps the trace the event started in');
  });

  test('an SDK event carrying the extension (ce-traceparent) keeps it; the hop is its child', async () => {
    const n = sink.requests.length;
    await post(url, HTTP.binary(new CloudEvent({ id: 'ext', source: '/t', type: 't', traceparent: TP })));
    await sink.waitFor(n + 1);
    assert.equal(header(sink, n, 'ce-traceparent'), TP);
    const hop = parseTraceParent(header(sink, n, 'traceparent'))!;
    assert.equal(hop.traceId, TRACE);
    assert.notEqual(hop.spanId, PARENT);
    // The SDK on the receiving side sees the extension too.
    const r = sink.requests[n]!;
    const ce = HTTP.toEvent({ headers: r.headers as Record<string, string>, body: r.body.toString() }) as CloudEvent<unknown>;
    assert.equal(ce.traceparent, TP);
  });

  test('structured mode: the traceparent attribute is kept and propagated', async () => {
    const n = sink.requests.length;
    await post(url, HTTP.structured(new CloudEvent({ id: 'structured', source: '/t', type: 't', traceparent: TP, tracestate: 'a=b' })));
    await sink.waitFor(n + 1);
    assert.equal(header(sink, n, 'ce-traceparent'), TP);
    assert.equal(parseTraceParent(header(sink, n, 'traceparent'))!.traceId, TRACE);
    assert.equal(header(sink, n, 'tracestate'), 'a=b');
  });

  test('no trace context: ingress starts a new trace; an invalid traceparent header counts as none', async () => {
    const n = sink.requests.length;
    await post(url, HTTP.binary(new CloudEvent({ id: 'fresh', source: '/t', type: 't' })));
    await post(url, HTTP.binary(new CloudEvent({ id: 'invalid', source: '/t', type: 't' })), { traceparent: `00-${'0'.repeat(32)}-${PARENT}-01` });
    await sink.waitFor(n + 2);
    const traces = new Set<string>();
    for (const i of [n, n + 1]) {
      const ext = parseTraceParent(header(sink, i, 'ce-traceparent'));
      const hop = parseTraceParent(header(sink, i, 'traceparent'));
      assert.ok(ext && hop, 'both the extension and the hop header are set');
      assert.equal(hop.traceId, ext.traceId);
      assert.notEqual(hop.spanId, ext.spanId);
      assert.notEqual(ext.traceId, '0'.repeat(32));
      traces.add(ext.traceId);
    }
    assert.equal(traces.size, 2, 'one new trace per request');
  });

  test('batch mode: every event without a context gets one', async () => {
    const n = sink.requests.length;
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/cloudevents-batch+json' },
      body: JSON.stringify([
        { specversion: '1.0', id: 'b1', source: '/t', type: 't' },
        { specversion: '1.0', id: 'b2', source: '/t', type: 't', traceparent: TP },
      ]),
    });
    assert.equal(res.status, 202);
    await sink.waitFor(n + 2);
    const byId = new Map(sink.requests.slice(n).map((r) => [String(r.headers['ce-id']), r]));
    assert.ok(parseTraceParent(String(byId.get('b1')!.headers['ce-traceparent'])));
    assert.equal(byId.get('b2')!.headers['ce-traceparent'], TP);
  });
});

describe('OpenTelemetry spans exported over OTLP/HTTP', () => {
  let collector: FakeOtlpCollector;
  let sink: RecordingSink;
  let flaky: RecordingSink;
  let replies: RecordingSink;
  let sluice: Sluice;
  let failures = 0;

  before(async () => {
    collector = await startOtlpCollector();
    sink = await startSink();
    replies = await startSink();
    // Fails the first attempt of each event, then answers with a reply event that carries no trace context.
    flaky = await startSink((req, res) => {
      if (failures++ % 2 === 0) {
        res.statusCode = 503;
        res.end('not yet');
        return;
      }
      res.writeHead(200, { 'ce-specversion': '1.0', 'ce-id': `reply-${String(req.headers['ce-id'])}`, 'ce-source': '/flaky', 'ce-type': 'reply' });
      res.end();
    });
    sluice = await startSluice(
      channelYaml('traced') +
        subscriptionYaml('to-sink', 'traced', sink.url) +
        '---\n' +
        channelYaml('retried') +
        subscriptionYaml(
          'flaky-sub',
          'retried',
          flaky.url,
          `  reply: {uri: "${replies.url}"}\n  delivery: {retry: 2, backoffPolicy: linear, backoffDelay: PT0.01S}\n`,
        ),
      { tracing: await loadTracing({ otlpTracesUrl: `${collector.url}/v1/traces` }) },
    );
  });
  after(async () => {
    await sluice.close();
    await Promise.all([sink.close(), flaky.close(), replies.close(), collector.close()]);
  });

  /** Flushes until the collector holds a span matching `pred` (export is batched and asynchronous). */
  async function span(what: string, pred: (s: CollectedSpan) => boolean): Promise<CollectedSpan> {
    let found: CollectedSpan | undefined;
    await waitUntil(
      async () => {
        await sluice.tracing.forceFlush();
        found = collector.spans.find(pred);
        return found !== undefined;
      },
      10_000,
      what,
    );
    return found!;
  }

  test('the sink gets the caller\'s trace id with the delivery span as parent; the collector has receive, publish and deliver spans', async () => {
    assert.equal(sluice.tracing.enabled, true);
    await post(`${sluice.url}/channels/default/traced`, HTTP.binary(new CloudEvent({ id: 'otel-1', source: '/t', type: 't', data: 'x' })), { traceparent: TP });
    await sink.waitFor(1);
    const hop = parseTraceParent(header(sink, 0, 'traceparent'))!;
    assert.equal(hop.traceId, TRACE);
    assert.notEqual(hop.spanId, PARENT);

    const deliver = await span('the delivery span', (s) => s.spanId === hop.spanId);
    assert.equal(deliver.traceId, TRACE);
    assert.equal(deliver.parentSpanId, PARENT, 'a child of the trace the event started in');
    assert.equal(deliver.kind, SPAN_KIND.CLIENT);
    assert.equal(deliver.serviceName, 'sluice');
    assert.equal(deliver.attributes['sluice.namespace'], 'default');
    assert.equal(deliver.attributes['sluice.resource'], 'traced');
    assert.equal(deliver.attributes['sluice.subscription'], 'to-sink');
    assert.equal(deliver.attributes['sluice.attempt'], 1);
    assert.equal(deliver.attributes['http.response.status_code'], 202);
    assert.equal(deliver.attributes['cloudevents.event_id'], 'otel-1');

    const receive = await span('the receive span', (s) => s.traceId === TRACE && s.kind === SPAN_KIND.SERVER);
    assert.equal(receive.parentSpanId, PARENT);
    assert.equal(receive.name, 'receive default/traced');
    assert.equal(receive.attributes['http.response.status_code'], 202);
    assert.equal(receive.attributes['sluice.resource'], 'traced');
    const publish = await span('the publish span', (s) => s.traceId === TRACE && s.kind === SPAN_KIND.PRODUCER);
    assert.equal(publish.parentSpanId, receive.spanId);
  });

  test('each attempt is its own span (attempt number, status code); the reply stays in the trace', async () => {
    const trace = 'abcdef0123456789abcdef0123456789';
    await post(`${sluice.url}/channels/default/retried`, HTTP.binary(new CloudEvent({ id: 'otel-2', source: '/t', type: 't' })), {
      traceparent: `00-${trace}-${PARENT}-01`,
    });
    await flaky.waitFor(2);
    await replies.waitFor(1);
    const hops = [0, 1].map((i) => parseTraceParent(header(flaky, i, 'traceparent'))!);
    assert.deepEqual(hops.map((h) => h.traceId), [trace, trace]);
    assert.notEqual(hops[0]!.spanId, hops[1]!.spanId, 'a new span per attempt');

    const first = await span('attempt 1', (s) => s.spanId === hops[0]!.spanId);
    const second = await span('attempt 2', (s) => s.spanId === hops[1]!.spanId);
    assert.equal(first.attributes['sluice.attempt'], 1);
    assert.equal(first.attributes['http.response.status_code'], 503);
    assert.equal(first.statusCode, STATUS_ERROR);
    assert.equal(second.attributes['sluice.attempt'], 2);
    assert.equal(second.attributes['http.response.status_code'], 200);
    assert.equal(second.attributes['sluice.subscription'], 'flaky-sub');

    // The reply had no trace context: it joins the attempt that produced it.
    const replyExt = parseTraceParent(header(replies, 0, 'ce-traceparent'))!;
    assert.equal(replyExt.traceId, trace);
    assert.equal(replyExt.spanId, hops[1]!.spanId);
    const replyHop = parseTraceParent(header(replies, 0, 'traceparent'))!;
    const replySpan = await span('the reply span', (s) => s.spanId === replyHop.spanId);
    assert.equal(replySpan.traceId, trace);
    assert.equal(replySpan.attributes['sluice.delivery.destination'], 'reply');
  });

  test('a rejected request is traced too, as a server span with its 4xx status', async () => {
    const trace = '0123456789abcdef0123456789abcdef';
    const res = await fetch(`${sluice.url}/channels/default/traced`, { method: 'POST', headers: { traceparent: `00-${trace}-${PARENT}-01` }, body: 'not an event' });
    assert.equal(res.status, 400);
    const s = await span('the rejected receive span', (x) => x.traceId === trace);
    assert.equal(s.attributes['http.response.status_code'], 400);
    assert.notEqual(s.statusCode, STATUS_ERROR, 'a 4xx is the client\'s error, not the server span\'s');
  });
});
