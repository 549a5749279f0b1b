import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { CloudEvent, HTTP } from 'cloudevents';
import { bodyBytes, invalid, nodeHeaders, parseHttpEvents } from './codec-helpers.js';

const TIME = '2024-05-01T12:34:56.789Z';
const base = { id: 'evt-1', source: 'https://example.com/src', type: 'com.example.thing', time: TIME };

const binHeaders = (extra: Record<string, string> = {}): Record<string, string> => ({
  'ce-specversion': '1.0', 'ce-id': 'a1', 'ce-source': '/s', 'ce-type': 't', ...extra,
});

describe('parseHttpEvents: binary mode from the SDK', () => {
  test('attributes, extensions and JSON data byte-for-byte', () => {
    const ce = new CloudEvent({ ...base, subject: 'sub/1', dataschema: 'https://example.com/schema', myext: 'v', count: 42, flag: true, data: { b: [1, 2], a: 'x' } });
    const msg = HTTP.binary(ce);
    const { mode, events } = parseHttpEvents(nodeHeaders(msg.headers), bodyBytes(msg.body));
    assert.equal(mode, 'binary');
    assert.equal(events.length, 1);
    assert.deepEqual(events[0]!.attributes, {
      specversion: '1.0', id: 'evt-1', source: 'https://example.com/src', type: 'com.example.thing', time: TIME,
      subject: 'sub/1', dataschema: 'https://example.com/schema', myext: 'v', count: '42', flag: 'true',
      datacontenttype: 'application/json; charset=utf-8',
    });
    assert.deepEqual(events[0]!.data, bodyBytes(msg.body));
  });

  test('JSON data keeps its exact bytes (whitespace, key order, number forms)', () => {
    const raw = Buffer.from('{ "z": 1.50,\n  "a": [1e3, "\\u00e9"] }\n');
    const { events } = parseHttpEvents(binHeaders({ 'content-type': 'application/json' }), raw);
    assert.ok(events[0]!.data!.equals(raw));
  });

  test('non-UTF-8 binary data is preserved exactly', () => {
    const bytes = Buffer.from([0x00, 0xff, 0xfe, 0x80, 0xc3, 0x28, 0x0a, 0x0d, 0x7f]);
    const ce = new CloudEvent({ ...base, datacontenttype: 'application/octet-stream', data: bytes });
    const msg = HTTP.binary(ce);
    const { events } = parseHttpEvents(nodeHeaders(msg.headers), bodyBytes(msg.body));
    assert.ok(events[0]!.data!.equals(bytes));
    assert.equal(events[0]!.attributes.datacontenttype, 'application/octet-stream');
  });

  test('empty body means no data; Content-Type still becomes datacontenttype', () => {
    const { events } = parseHttpEvents(binHeaders({ 'content-type': 'text/plain' }), Buffer.alloc(0));
    assert.equal(events[0]!.data, undefined);
    assert.equal('data' in events[0]!, false);
    assert.equal(events[0]!.attributes.datacontenttype, 'text/plain');
  });

  test('no Content-Type: no datacontenttype', () => {
    const { events } = parseHttpEvents(binHeaders(), Buffer.from('x'));
    assert.equal(events[0]!.attributes.datacontenttype, undefined);
  });

  test('percent-encoded values are decoded; header names are case-insensitive', () => {
    const { events } = parseHttpEvents(
      { 'CE-SpecVersion': '1.0', 'Ce-Id': 'a%20b', 'ce-source': '/s', 'ce-type': 't', 'ce-subject': 'h%C3%A9llo%20%22w%22%20100%25', 'Content-Type': 'text/plain' },
      Buffer.from('hi'),
    );
    assert.deepEqual(events[0]!.attributes, { specversion: '1.0', id: 'a b', source: '/s', type: 't', subject: 'héllo "w" 100%', datacontenttype: 'text/plain' });
  });

  test('a repeated header given as an array is joined as node joins it', () => {
    const { events } = parseHttpEvents({ ...binHeaders(), 'ce-tags': ['a', 'b'] }, Buffer.alloc(0));
    assert.equal(events[0]!.attributes.tags, 'a, b');
  });
});

describe('parseHttpEvents: structured mode from the SDK', () => {
  test('JSON data becomes its JSON text; attributes match binary mode', () => {
    const ce = new CloudEvent({ ...base, myext: 'v', data: { hello: 'wörld', n: [1, 2, 3] } });
    const s = HTTP.structured(ce);
    const { mode, events } = parseHttpEvents(nodeHeaders(s.headers), bodyBytes(s.body));
    assert.equal(mode, 'structured');
    // JSON data without datacontenttype is application/json (JSON format §3.1), so binary re-sends keep it.
    assert.deepEqual(events[0]!.attributes, { specversion: '1.0', ...base, myext: 'v', datacontenttype: 'application/json' });
    assert.deepEqual(JSON.parse(events[0]!.data!.toString('utf8')), { hello: 'wörld', n: [1, 2, 3] });
    const b = HTTP.binary(ce);
    const fromBinary = parseHttpEvents(nodeHeaders(b.headers), bodyBytes(b.body)).events[0]!;
    assert.ok(fromBinary.data!.equals(events[0]!.data!));
  });

  test('data_base64 from the SDK becomes the original bytes', () => {
    const bytes = Buffer.from([0, 1, 2, 250, 251, 252, 253, 254, 255]);
    const ce = new CloudEvent({ ...base, datacontenttype: 'application/octet-stream', data: bytes });
    const s = HTTP.structured(ce);
    assert.match(String(s.body), /"data_base64":/);
    const { events } = parseHttpEvents(nodeHeaders(s.headers), bodyBytes(s.body));
    assert.ok(events[0]!.data!.equals(bytes));
  });

  test('string data with a non-JSON content type is the UTF-8 text', () => {
    const ce = new CloudEvent({ ...base, datacontenttype: 'text/plain', data: 'héllo\nworld' });
    const s = HTTP.structured(ce);
    const { events } = parseHttpEvents(nodeHeaders(s.headers), bodyBytes(s.body));
    assert.equal(events[0]!.data!.toString('utf8'), 'héllo\nworld');
  });

  test('string data with a JSON content type (or none) is a JSON string', () => {
    const body = (ct?: string): Buffer => Buffer.from(JSON.stringify({ specversion: '1.0', id: '1', source: '/s', type: 't', ...(ct ? { datacontenttype: ct } : {}), data: 'hi' }));
    const ctype = { 'content-type': 'application/cloudevents+json' };
    assert.equal(parseHttpEvents(ctype, body('application/json')).events[0]!.data!.toString(), '"hi"');
    assert.equal(parseHttpEvents(ctype, body()).events[0]!.data!.toString(), '"hi"');
    assert.equal(parseHttpEvents(ctype, body('application/vnd.x+json; charset=utf-8')).events[0]!.data!.toString(), '"hi"');
  });

  test('integer and boolean attribute values become canonical strings; null means absent', () => {
    const body = Buffer.from('{"specversion":"1.0","id":7,"source":"/s","type":"t","count":-12,"ok":false,"gone":null}');
    const { events } = parseHttpEvents({ 'content-type': 'application/cloudevents+json; charset=UTF-8' }, body);
    assert.deepEqual(events[0]!.attributes, { specversion: '1.0', id: '7', source: '/s', type: 't', count: '-12', ok: 'false' });
    assert.equal(events[0]!.data, undefined);
  });

  test('Content-Type matching is case-insensitive and ignores parameters', () => {
    const body = Buffer.from('{"specversion":"1.0","id":"1","source":"/s","type":"t"}');
    assert.equal(parseHttpEvents({ 'content-type': 'Application/CloudEvents+JSON;charset=utf-8' }, body).mode, 'structured');
  });

  test('structured content type wins over stray ce- headers', () => {
    const body = Buffer.from('{"specversion":"1.0","id":"from-body","source":"/s","type":"t"}');
    const { mode, events } = parseHttpEvents({ 'content-type': 'application/cloudevents+json', 'ce-id': 'from-header' }, body);
    assert.equal(mode, 'structured');
    assert.equal(events[0]!.attributes.id, 'from-body');
  });
});

describe('parseHttpEvents: batch mode', () => {
  const ctype = { 'content-type': 'application/cloudevents-batch+json' };

  test('a batch of SDK events in order, with mixed data forms', () => {
    const a = new CloudEvent({ ...base, id: 'a', data: { n: 1 } });
    const b = new CloudEvent({ ...base, id: 'b', datacontenttype: 'application/octet-stream', data: Buffer.from([9, 8, 255]) });
    const c = new CloudEvent({ ...base, id: 'c' });
    const body = Buffer.from(JSON.stringify([a, b, c]));
    // The SDK reads the same batch: a sanity check that this is a real batch body.
    assert.equal((HTTP.toEvent({ headers: ctype, body: body.toString() }) as CloudEvent[]).length, 3);
    const { mode, events } = parseHttpEvents(ctype, body);
    assert.equal(mode, 'batch');
    assert.deepEqual(events.map((e) => e.attributes.id), ['a', 'b', 'c']);
    assert.equal(events[0]!.data!.toString(), '{"n":1}');
    assert.ok(events[1]!.data!.equals(Buffer.from([9, 8, 255])));
    assert.equal(events[2]!.data, undefined);
  });

  test('an empty array is a valid batch of 0 events', () => {
    assert.deepEqual(parseHttpEvents(ctype, Buffer.from('[]')), { mode: 'batch', events: [] });
  });

  test('errors name the element index', () => {
    const ok = { specversion: '1.0', id: 'x', source: '/s', type: 't' };
    const body = Buffer.from(JSON.stringify([ok, ok, ok, { ...ok, id: undefined }]));
    assert.throws(() => parseHttpEvents(ctype, body), invalid('batch element 3: missing required attribute "id"'));
    assert.throws(() => parseHttpEvents(ctype, Buffer.from(JSON.stringify([ok, 'nope']))), invalid('batch element 1: a structured event must be a JSON object, got string "nope"'));
    assert.throws(() => parseHttpEvents(ctype, Buffer.from(JSON.stringify([{ ...ok, time: 'yesterday' }]))),
      invalid('batch element 0: attribute "time" is not an RFC 3339 timestamp: "yesterday" (expected e.g. 2024-05-01T12:00:00Z)'));
  });

  test('a batch body that is not an array', () => {
    assert.throws(() => parseHttpEvents(ctype, Buffer.from('{"id":"1"}')), invalid('a batch must be a JSON array of events, got an object'));
  });
});
