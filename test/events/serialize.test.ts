import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { CloudEvent, HTTP } from 'cloudevents';
import { startSink } from '../helpers/sink.js';
import {
  BATCH_CONTENT_TYPE, STRUCTURED_CONTENT_TYPE, bodyBytes, isJsonMediaType, nodeHeaders, parseHttpEvents, toBatchJson, toBinaryHttp,
  toStructuredJson, type SluiceEvent,
} from './codec-helpers.js';

const TIME = '2024-05-01T12:34:56.789Z';
const attrs = { specversion: '1.0', id: 'evt-1', source: 'https://example.com/src', type: 'com.example.thing', time: TIME };

const samples: Array<[string, SluiceEvent]> = [
  ['no data', { attributes: { ...attrs } }],
  ['JSON data with odd formatting', { attributes: { ...attrs, datacontenttype: 'application/json' }, data: Buffer.from('{ "b" : [1, 2.50],\n "a":"é" }') }],
  ['JSON-looking data with no content type', { attributes: { ...attrs }, data: Buffer.from('[1,2,3]') }],
  ['text data', { attributes: { ...attrs, datacontenttype: 'text/plain; charset=utf-8' }, data: Buffer.from('héllo\n"world" 100%') }],
  ['non-UTF-8 bytes', { attributes: { ...attrs, datacontenttype: 'application/octet-stream' }, data: Buffer.from([0, 0xff, 0xc3, 0x28, 0x80, 10]) }],
  ['bytes that claim JSON but are not', { attributes: { ...attrs, datacontenttype: 'application/json' }, data: Buffer.from('{not json') }],
  ['text type with invalid UTF-8', { attributes: { ...attrs, datacontenttype: 'text/plain' }, data: Buffer.from([0x68, 0xe9, 0x6c]) }],
  ['empty-string-like edge: zero bytes of data', { attributes: { ...attrs, datacontenttype: 'application/octet-stream' }, data: Buffer.alloc(0) }],
  ['awkward attribute values', {
    attributes: { ...attrs, subject: ' lead and trail ', ext1: 'é "quoted" 100% 日本 😀', ext2: '%41', ext3: "a,b;c=d'(e)" },
    data: Buffer.from('x'), }],
];

/** The JSON value of the event's data when structured mode embeds it as JSON, else undefined. */
function jsonValue(e: SluiceEvent): unknown {
  if (e.data === undefined || !isJsonMediaType(e.attributes.datacontenttype ?? 'application/json')) return undefined;
  try {
    return JSON.parse(e.data.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

describe('toBinaryHttp', () => {
  test('ce- headers percent-encoded, Content-Type from datacontenttype, body is the data', () => {
    const e: SluiceEvent = { attributes: { ...attrs, datacontenttype: 'text/plain', subject: 'a b"c%d é' }, data: Buffer.from('hi') };
    const { headers, body } = toBinaryHttp(e);
    assert.deepEqual(headers, {
      'ce-specversion': '1.0', 'ce-id': 'evt-1', 'ce-source': 'https://example.com/src', 'ce-type': 'com.example.thing', 'ce-time': TIME,
      'content-type': 'text/plain', 'ce-subject': 'a%20b%22c%25d%20%C3%A9',
    });
    assert.equal(body, e.data);
  });

  test('no data: no body and no Content-Type unless datacontenttype says so', () => {
    const { headers, body } = toBinaryHttp({ attributes: attrs });
    assert.equal(body, undefined);
    assert.equal(headers['content-type'], undefined);
  });

  for (const [name, e] of samples) {
    test(`round trip parse(toBinaryHttp(e)) equals e: ${name}`, () => {
      const { headers, body } = toBinaryHttp(e);
      for (const v of Object.values(headers)) assert.match(v, /^[\x20-\x7e]*$/, 'header values are printable ASCII');
      const { mode, events } = parseHttpEvents(headers, body ?? Buffer.alloc(0));
      assert.equal(mode, 'binary');
      // Zero bytes of data travel as an empty body, which binary mode reads as "no data".
      const expected = e.data?.length === 0 ? { attributes: e.attributes } : e;
      assert.deepEqual(events[0], expected);
    });
  }

  test('the SDK reads our binary output with the same attributes and data', () => {
    const e: SluiceEvent = {
      attributes: { ...attrs, datacontenttype: 'application/json', subject: 'sub', myext: 'v' },
      data: Buffer.from('{"a":[1,2],"b":"x"}'),
    };
    const { headers, body } = toBinaryHttp(e);
    // SDK receivers hand it text bodies (its JSON parser only parses strings).
    const ce = HTTP.toEvent({ headers, body: body!.toString('utf8') }) as CloudEvent<unknown>;
    ce.validate();
    assert.equal(ce.id, 'evt-1');
    assert.equal(ce.source, attrs.source);
    assert.equal(ce.type, attrs.type);
    assert.equal(ce.time, TIME);
    assert.equal(ce.subject, 'sub');
    assert.equal(ce.datacontenttype, 'application/json');
    assert.equal((ce as unknown as Record<string, unknown>).myext, 'v');
    assert.deepEqual(ce.data, { a: [1, 2], b: 'x' });
  });

  test('the SDK reads our binary output with octet-stream data', () => {
    const bytes = Buffer.from([1, 2, 3, 0xff]);
    const { headers, body } = toBinaryHttp({ attributes: { ...attrs, datacontenttype: 'application/octet-stream' }, data: bytes });
    const ce = HTTP.toEvent({ headers, body }) as CloudEvent<unknown>;
    assert.ok(Buffer.from(ce.data as Uint8Array).equals(bytes));
  });
});

describe('toStructuredJson and toBatchJson', () => {
  test('JSON data is embedded as JSON, as received', () => {
    const e: SluiceEvent = { attributes: { ...attrs, datacontenttype: 'application/json' }, data: Buffer.from('{ "a" : 1 }') };
    assert.equal(toStructuredJson(e), `{"specversion":"1.0","id":"evt-1","source":"https://example.com/src","type":"com.example.thing","time":"${TIME}","datacontenttype":"application/json","data":{ "a" : 1 }}`);
  });

  test('text data is a JSON string; binary data is data_base64; no data has neither', () => {
    const text = JSON.parse(toStructuredJson({ attributes: { ...attrs, datacontenttype: 'text/plain' }, data: Buffer.from('héllo') })) as Record<string, unknown>;
    assert.equal(text.data, 'héllo');
    const bin = JSON.parse(toStructuredJson({ attributes: { ...attrs, datacontenttype: 'image/png' }, data: Buffer.from([0x89, 0x50, 0xff]) })) as Record<string, unknown>;
    assert.equal(bin.data_base64, Buffer.from([0x89, 0x50, 0xff]).toString('base64'));
    assert.equal('data' in bin, false);
    const none = JSON.parse(toStructuredJson({ attributes: attrs })) as Record<string, unknown>;
    assert.equal('data' in none || 'data_base64' in none, false);
  });

  for (const [name, e] of samples) {
    test(`round trip through structured mode keeps attributes and data: ${name}`, () => {
      const { events } = parseHttpEvents({ 'content-type': STRUCTURED_CONTENT_TYPE }, Buffer.from(toStructuredJson(e)));
      assert.deepEqual(events[0]!.attributes, withJsonDefault(e));
      const asJson = jsonValue(e);
      if (asJson !== undefined) {
        // Embedded JSON comes back as the same JSON value (formatting is not part of the value).
        assert.deepEqual(JSON.parse(events[0]!.data!.toString()), asJson);
      } else {
        assert.deepEqual(events[0]!.data, e.data);
      }
    });
  }

  test('the SDK reads our structured output', () => {
    const e: SluiceEvent = { attributes: { ...attrs, datacontenttype: 'text/plain', ext: 'é' }, data: Buffer.from('hello') };
    const ce = HTTP.toEvent({ headers: { 'content-type': STRUCTURED_CONTENT_TYPE }, body: toStructuredJson(e) }) as CloudEvent<unknown>;
    ce.validate();
    assert.equal(ce.id, 'evt-1');
    assert.equal((ce as unknown as Record<string, unknown>).ext, 'é');
    assert.equal(ce.data, 'hello');
  });

  test('batch: the SDK and our parser read toBatchJson output; [] for no events', () => {
    const events = samples.map(([, e], i) => ({ ...e, attributes: { ...e.attributes, id: `e${i}` } }));
    const body = toBatchJson(events);
    const sdk = HTTP.toEvent({ headers: { 'content-type': BATCH_CONTENT_TYPE }, body }) as CloudEvent[];
    assert.deepEqual(sdk.map((c) => c.id), events.map((e) => e.attributes.id));
    const ours = parseHttpEvents({ 'content-type': BATCH_CONTENT_TYPE }, Buffer.from(body));
    assert.equal(ours.mode, 'batch');
    assert.deepEqual(ours.events.map((e) => e.attributes), events.map(withJsonDefault));
    assert.equal(toBatchJson([]), '[]');
  });
});

describe('over real HTTP', () => {
  const sinkP = startSink();
  after(async () => (await sinkP).close());

  test('an SDK binary POST and our binary POST both arrive intact', async () => {
    const sink = await sinkP;
    const ce = new CloudEvent({ id: 'sdk-1', source: '/s', type: 't', time: TIME, datacontenttype: 'application/octet-stream', data: Buffer.from([0, 0xff, 0xfe]) });
    const m = HTTP.binary(ce);
    await fetch(sink.url, { method: 'POST', headers: nodeHeaders(m.headers), body: bodyBytes(m.body) });
    const e: SluiceEvent = { attributes: { ...attrs, subject: ' é "x" 100% ', datacontenttype: 'application/json' }, data: Buffer.from('{"k": [true, null]}') };
    const out = toBinaryHttp(e);
    await fetch(sink.url, { method: 'POST', headers: out.headers, body: out.body ?? null });
    await sink.waitFor(2, 10_000);
    const first = parseHttpEvents(sink.requests[0]!.headers, sink.requests[0]!.body).events[0]!;
    assert.equal(first.attributes.id, 'sdk-1');
    assert.ok(first.data!.equals(Buffer.from([0, 0xff, 0xfe])));
    const second = parseHttpEvents(sink.requests[1]!.headers, sink.requests[1]!.body).events[0]!;
    assert.deepEqual(second, e);
  });
});

/** JSON format §3.1: embedded JSON data without datacontenttype is read as application/json. */
function withJsonDefault(e: SluiceEvent): Record<string, string> {
  return e.data !== undefined && e.attributes.datacontenttype === undefined && jsonValue(e) !== undefined
    ? { ...e.attributes, datacontenttype: 'application/json' }
    : e.attributes;
}
