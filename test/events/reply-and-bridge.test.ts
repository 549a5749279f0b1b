import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { CloudEvent, HTTP } from 'cloudevents';
import {
  bodyBytes, fromCloudEvent, invalid, isValidExtensionName, nodeHeaders, parseHttpEvents, parseHttpResponseEvent,
  toCloudEvent, toStructuredJson, validateAttributes, withAttributes, type SluiceEvent,
} from './codec-helpers.js';

const TIME = '2024-05-01T12:34:56.789Z';
const attrs = { specversion: '1.0', id: 'r1', source: '/reply', type: 'reply.type', time: TIME };
const binHeaders = { 'ce-specversion': '1.0', 'ce-id': 'r1', 'ce-source': '/reply', 'ce-type': 'reply.type' };

describe('parseHttpResponseEvent', () => {
  test('a 200 binary reply from the SDK is a reply event', () => {
    const ce = new CloudEvent({ ...attrs, data: { ok: true } });
    const m = HTTP.binary(ce);
    const e = parseHttpResponseEvent(200, nodeHeaders(m.headers), bodyBytes(m.body));
    assert.ok(e);
    assert.equal(e.attributes.id, 'r1');
    assert.equal(e.data!.toString(), '{"ok":true}');
  });

  test('a structured reply (201 too) is a reply event', () => {
    const body = Buffer.from(toStructuredJson({ attributes: attrs, data: Buffer.from('[1]') }));
    const e = parseHttpResponseEvent(201, { 'content-type': 'application/cloudevents+json' }, body);
    assert.deepEqual(e, { attributes: { ...attrs, datacontenttype: 'application/json' }, data: Buffer.from('[1]') });
  });

  test('plain responses are not replies', () => {
    assert.equal(parseHttpResponseEvent(200, { 'content-type': 'application/json' }, Buffer.from('{"a":1}')), undefined);
    assert.equal(parseHttpResponseEvent(200, {}, Buffer.alloc(0)), undefined);
    // Some but not all required ce- headers: not claiming to be a CloudEvent.
    assert.equal(parseHttpResponseEvent(200, { 'ce-id': '1', 'ce-type': 't' }, Buffer.from('x')), undefined);
  });

  test('202, 204 and non-2xx responses never carry a reply', () => {
    for (const status of [202, 204, 301, 400, 404, 500, 503]) {
      assert.equal(parseHttpResponseEvent(status, binHeaders, Buffer.from('x')), undefined, String(status));
    }
  });

  test('a response that claims to be a CloudEvent but is invalid throws', () => {
    assert.throws(() => parseHttpResponseEvent(200, { ...binHeaders, 'ce-specversion': '0.3' }, Buffer.alloc(0)),
      invalid('unsupported specversion "0.3": Sluice supports CloudEvents "1.0" only'));
    assert.throws(() => parseHttpResponseEvent(200, { ...binHeaders, 'ce-time': 'soon' }, Buffer.alloc(0)), /attribute "time" is not an RFC 3339 timestamp/);
    assert.throws(() => parseHttpResponseEvent(200, { 'content-type': 'application/cloudevents+json' }, Buffer.from('{"id":"1"}')),
      invalid('missing required attribute "specversion"'));
    assert.throws(() => parseHttpResponseEvent(200, { 'content-type': 'application/cloudevents+json' }, Buffer.from('oops')), /malformed JSON in structured reply event/);
    assert.throws(() => parseHttpResponseEvent(200, { 'content-type': 'application/cloudevents-batch+json' }, Buffer.from('[]')),
      invalid('a reply must be a single event: batch replies are not supported'));
  });
});

describe('withAttributes', () => {
  test('adds extensions, keeps data bytes and leaves the original untouched', () => {
    const data = Buffer.from([1, 2, 3]);
    const e: SluiceEvent = { attributes: { ...attrs }, data };
    const dl = withAttributes(e, { knativeerrordest: 'http://x/', knativeerrorcode: '500', knativeerrordata: '' });
    assert.deepEqual(dl.attributes, { ...attrs, knativeerrordest: 'http://x/', knativeerrorcode: '500', knativeerrordata: '' });
    assert.equal(dl.data, data);
    assert.deepEqual(e.attributes, attrs);
    assert.notEqual(dl, e);
  });

  test('no data stays no data', () => {
    assert.equal('data' in withAttributes({ attributes: attrs }, { x: 'y' }), false);
  });

  test('rejects invalid names and control characters', () => {
    assert.throws(() => withAttributes({ attributes: attrs }, { 'knative-error': 'x' }), /invalid attribute name "knative-error"/);
    assert.throws(() => withAttributes({ attributes: attrs }, { ok: 'a\r\nb' }), /attribute "ok" contains a control character/);
  });
});

describe('validateAttributes and isValidExtensionName', () => {
  test('names', () => {
    for (const n of ['a', 'abc123', 'knativeerrordest', '0']) assert.equal(isValidExtensionName(n), true, n);
    for (const n of ['', 'A', 'my_ext', 'my-ext', 'é', 'data', 'data_base64', ' x']) assert.equal(isValidExtensionName(n), false, n);
  });

  test('a valid attribute set passes; each problem is named', () => {
    validateAttributes(attrs);
    assert.throws(() => validateAttributes({ ...attrs, id: '' }), invalid('required attribute "id" is empty'));
    assert.throws(() => validateAttributes({ ...attrs, Bad: 'x' }), /invalid attribute name "Bad"/);
    assert.throws(() => validateAttributes({ ...attrs, time: '2024-02-30T00:00:00Z' }), /attribute "time" is not an RFC 3339 timestamp/);
    assert.throws(() => validateAttributes({ ...attrs, datacontenttype: 'text/plain; x=é' }), invalid('attribute "datacontenttype" must be printable ASCII: "text/plain; x=é"'));
  });
});

describe('SDK bridge', () => {
  test('fromCloudEvent equals what we parse from the SDK\'s binary message', () => {
    const cases: CloudEvent<unknown>[] = [
      new CloudEvent({ ...attrs, datacontenttype: 'application/json', data: { a: [1, 'é'] }, myext: 'v', n: 3 }),
      new CloudEvent({ ...attrs, datacontenttype: 'text/plain', data: 'some text' }),
      new CloudEvent({ ...attrs, datacontenttype: 'application/octet-stream', data: Buffer.from([0, 255, 128]) }),
      new CloudEvent({ ...attrs, datacontenttype: 'application/json' }),
    ];
    for (const ce of cases) {
      const m = HTTP.binary(ce);
      const parsed = parseHttpEvents(nodeHeaders(m.headers), bodyBytes(m.body)).events[0]!;
      assert.deepEqual(fromCloudEvent(ce), parsed);
    }
  });

  test('toCloudEvent gives the SDK JSON values, text and bytes by content type', () => {
    const json = toCloudEvent({ attributes: { ...attrs, datacontenttype: 'application/json', ext: 'x' }, data: Buffer.from('{"a":1}') });
    json.validate();
    assert.deepEqual(json.data, { a: 1 });
    assert.equal((json as unknown as Record<string, unknown>).ext, 'x');
    assert.equal(json.time, TIME);
    const text = toCloudEvent({ attributes: { ...attrs, datacontenttype: 'text/plain' }, data: Buffer.from('hé') });
    assert.equal(text.data, 'hé');
    const bytes = Buffer.from([1, 2, 255]);
    const bin = toCloudEvent({ attributes: { ...attrs, datacontenttype: 'application/octet-stream' }, data: bytes });
    assert.ok(Buffer.from(bin.data as Uint8Array).equals(bytes));
    assert.equal(bin.data_base64, bytes.toString('base64'));
  });

  test('round trip fromCloudEvent(toCloudEvent(e)) equals e', () => {
    const samples: SluiceEvent[] = [
      { attributes: { ...attrs, datacontenttype: 'application/json' }, data: Buffer.from('{"a":[1,2]}') },
      { attributes: { ...attrs, datacontenttype: 'text/plain', subject: 's' }, data: Buffer.from('hello') },
      { attributes: { ...attrs, datacontenttype: 'application/octet-stream', ext: 'v' }, data: Buffer.from([0, 0xff]) },
      { attributes: { ...attrs } },
    ];
    for (const e of samples) assert.deepEqual(fromCloudEvent(toCloudEvent(e)), e);
  });
});
