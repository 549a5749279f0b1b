import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { CloudEvent, HTTP } from 'cloudevents';
import { childOf, childTraceParent, formatTraceParent, newTrace, parseTraceParent } from '../../src/events/trace-context.js';
import { parseHttpEvents, parseHttpResponseEvent, toBinaryHttp } from '../../src/events/index.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';
const TP = `00-${TRACE}-${SPAN}-01`;
const base = { 'ce-specversion': '1.0', 'ce-id': '1', 'ce-source': '/s', 'ce-type': 't' };

describe('W3C traceparent', () => {
  test('valid values parse; formatting gives the canonical version-00 form', () => {
    assert.deepEqual(parseTraceParent(TP), { traceId: TRACE, spanId: SPAN, flags: 1 });
    assert.deepEqual(parseTraceParent(`00-${TRACE}-${SPAN}-00`), { traceId: TRACE, spanId: SPAN, flags: 0 });
    // A future version may add fields; its first four are still read (W3C §3.2.4).
    assert.deepEqual(parseTraceParent(`cc-${TRACE}-${SPAN}-01-what-the-future-will-be`), { traceId: TRACE, spanId: SPAN, flags: 1 });
    assert.equal(formatTraceParent({ traceId: TRACE, spanId: SPAN, flags: 1 }), TP);
    assert.equal(formatTraceParent({ traceId: TRACE, spanId: SPAN, flags: 0 }), `00-${TRACE}-${SPAN}-00`);
  });

  test('invalid values are rejected (W3C: ignore them)', () => {
    for (const bad of [
      undefined,
      '',
      `00-${TRACE.toUpperCase()}-${SPAN}-01`,
      `00-${'0'.repeat(32)}-${SPAN}-01`,
      `00-${TRACE}-${'0'.repeat(16)}-01`,
      `ff-${TRACE}-${SPAN}-01`,
      `00-${TRACE}-${SPAN}-01-extra`,
      `00-${TRACE.slice(1)}-${SPAN}-01`,
      `${TP}, ${TP}`,
    ]) {
      assert.equal(parseTraceParent(bad), undefined, String(bad));
    }
  });

  test('a child keeps the trace and flags with a new span id; new traces are valid and distinct', () => {
    const parent = parseTraceParent(TP)!;
    const child = childOf(parent);
    assert.equal(child.traceId, TRACE);
    assert.equal(child.flags, 1);
    assert.notEqual(child.spanId, SPAN);
    const ids = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const t = newTrace();
      assert.ok(parseTraceParent(formatTraceParent(t)), 'valid');
      ids.add(t.traceId);
    }
    assert.equal(ids.size, 1000);
  });
});

describe('distributed-tracing extension in the HTTP binding', () => {
  test('binary mode: a traceparent/tracestate header becomes the extension when there is no ce-traceparent', () => {
    const { events } = parseHttpEvents({ ...base, traceparent: TP, tracestate: 'congo=t61rcWkgMzE' }, Buffer.alloc(0));
    assert.equal(events[0]!.attributes.traceparent, TP);
    assert.equal(events[0]!.attributes.tracestate, 'congo=t61rcWkgMzE');
  });

  test('binary mode: ce-traceparent wins over the hop header; an invalid header is ignored', () => {
    const other = `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`;
    const kept = parseHttpEvents({ ...base, 'ce-traceparent': TP, traceparent: other, tracestate: 'x=1' }, Buffer.alloc(0)).events[0]!;
    assert.equal(kept.attributes.traceparent, TP);
    assert.equal(kept.attributes.tracestate, undefined, 'a tracestate belongs to its own traceparent');
    const ignored = parseHttpEvents({ ...base, traceparent: 'garbage' }, Buffer.alloc(0)).events[0]!;
    assert.equal(ignored.attributes.traceparent, undefined);
  });

  test('binary replies read the hop header the same way', () => {
    const reply = parseHttpResponseEvent(200, { ...base, traceparent: TP }, Buffer.alloc(0));
    assert.equal(reply?.attributes.traceparent, TP);
  });

  test('toBinaryHttp sends the extension both as ce- headers and as the W3C headers', () => {
    const { headers } = toBinaryHttp({ attributes: { specversion: '1.0', id: '1', source: '/s', type: 't', traceparent: TP, tracestate: 'a=b' } });
    assert.equal(headers['ce-traceparent'], TP);
    assert.equal(parseHttpEvents(headers, Buffer.alloc(0)).events[0]!.attributes.tracestate, 'a=b');
    assert.equal(headers.traceparent, TP);
    assert.equal(headers.tracestate, 'a=b');
    // Not a W3C value: only the ce- header carries it.
    const odd = toBinaryHttp({ attributes: { specversion: '1.0', id: '1', source: '/s', type: 't', traceparent: 'not-w3c' } }).headers;
    assert.equal(odd['ce-traceparent'], 'not-w3c');
    assert.equal(odd.traceparent, undefined);
  });

  test('the cloudevents SDK reads the extension from our binary output', () => {
    const { headers, body } = toBinaryHttp({ attributes: { specversion: '1.0', id: '1', source: '/s', type: 't', traceparent: TP } });
    const ce = HTTP.toEvent({ headers, body: body?.toString() ?? '' }) as CloudEvent<unknown>;
    assert.equal(ce.traceparent, TP);
  });
});

describe('childTraceParent (the dispatcher hot path)', () => {
  test('is childOf(parseTraceParent(v)) for every value, valid or not', () => {
    const values = [
      TP,
      `00-${TRACE}-${SPAN}-00`,
      ` ${TP} `,
      `cc-${TRACE}-${SPAN}-01-future`,
      `00-${TRACE.toUpperCase()}-${SPAN}-01`,
      `00-${'0'.repeat(32)}-${SPAN}-01`,
      `00-${TRACE}-${'0'.repeat(16)}-01`,
      `ff-${TRACE}-${SPAN}-01`,
      `00-${TRACE}-${SPAN}-0g`,
      `00_${TRACE}-${SPAN}-01`,
      `00-${TRACE}-${SPAN}-01-extra`,
      'garbage',
      undefined,
    ];
    for (const v of values) {
      const parsed = parseTraceParent(v);
      const child = childTraceParent(v);
      if (!parsed) {
        assert.equal(child, undefined, `${v} is not valid`);
        continue;
      }
      const c = parseTraceParent(child);
      assert.ok(c, `${child} (from ${v}) is valid`);
      assert.equal(c.traceId, parsed.traceId);
      assert.equal(c.flags, parsed.flags);
      assert.notEqual(c.spanId, parsed.spanId, 'a new span id');
      assert.equal(child, formatTraceParent(c));
    }
  });
});
