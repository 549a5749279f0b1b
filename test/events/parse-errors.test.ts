import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidEventErrorForTest, invalid, parseHttpEvents } from './codec-helpers.js';

const SJ = { 'content-type': 'application/cloudevents+json' };
const ok = { specversion: '1.0', id: '1', source: '/s', type: 't' } as Record<string, unknown>;
const structured = (obj: unknown): Buffer => Buffer.from(JSON.stringify(obj));
const bin = (h: Record<string, string>): Record<string, string> => ({ 'ce-specversion': '1.0', 'ce-id': '1', 'ce-source': '/s', 'ce-type': 't', ...h });

describe('parseHttpEvents rejects bad input with a precise InvalidEventError', () => {
  test('the error is an InvalidEventError with status 400 and a stable code', () => {
    try {
      parseHttpEvents(SJ, Buffer.from('{'));
      assert.fail('should throw');
    } catch (err) {
      assert.ok(err instanceof InvalidEventErrorForTest);
      assert.equal(err.statusCode, 400);
      assert.equal(err.code, 'SLUICE_ERR_INVALID_EVENT');
      assert.ok(err.cause instanceof SyntaxError, 'JSON error chained as cause');
    }
  });

  test('malformed JSON', () => {
    assert.throws(() => parseHttpEvents(SJ, Buffer.from('{"id": ')), (err: unknown) => {
      assert.ok(err instanceof InvalidEventErrorForTest);
      assert.match(err.message, /^malformed JSON in structured event: /);
      return true;
    });
    assert.throws(() => parseHttpEvents(SJ, Buffer.alloc(0)), invalid('malformed JSON in structured event: the body is empty'));
    assert.throws(() => parseHttpEvents({ 'content-type': 'application/cloudevents-batch+json' }, Buffer.from('[{')), /^InvalidEventError: malformed JSON in batch: /);
    assert.throws(() => parseHttpEvents(SJ, Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x7d])), invalid('malformed JSON in structured event: the body is not valid UTF-8'));
  });

  for (const name of ['id', 'source', 'type', 'specversion']) {
    test(`missing or empty "${name}" (structured and binary)`, () => {
      const missing = { ...ok };
      delete missing[name];
      assert.throws(() => parseHttpEvents(SJ, structured(missing)), invalid(`missing required attribute "${name}"`));
      assert.throws(() => parseHttpEvents(SJ, structured({ ...ok, [name]: '' })), invalid(`required attribute "${name}" is empty`));
      const h = bin({});
      delete h[`ce-${name}`];
      assert.throws(() => parseHttpEvents(h, Buffer.alloc(0)), invalid(`missing required attribute "${name}"`));
      assert.throws(() => parseHttpEvents(bin({ [`ce-${name}`]: '' }), Buffer.alloc(0)), invalid(`required attribute "${name}" is empty`));
    });
  }

  test('specversion other than 1.0 says which is supported', () => {
    const msg = 'unsupported specversion "0.3": Sluice supports CloudEvents "1.0" only';
    assert.throws(() => parseHttpEvents(SJ, structured({ ...ok, specversion: '0.3' })), invalid(msg));
    assert.throws(() => parseHttpEvents(bin({ 'ce-specversion': '0.3' }), Buffer.alloc(0)), invalid(msg));
  });

  test('invalid extension names', () => {
    assert.throws(() => parseHttpEvents(SJ, structured({ ...ok, my_ext: 'x' })),
      invalid('invalid attribute name "my_ext": names must be lower-case letters and digits only (^[a-z0-9]+$)'));
    assert.throws(() => parseHttpEvents(SJ, structured({ ...ok, myExt: 'x' })), /invalid attribute name "myExt"/);
    assert.throws(() => parseHttpEvents(bin({ 'ce-my-ext': 'x' }), Buffer.alloc(0)),
      invalid('invalid attribute name "my-ext" (header ce-my-ext): names must be lower-case letters and digits only (^[a-z0-9]+$)'));
    assert.throws(() => parseHttpEvents(bin({ 'ce-data': 'x' }), Buffer.alloc(0)),
      invalid('attribute name "data" (header ce-data) is reserved for the event data'));
  });

  test('invalid time is rejected, never replaced', () => {
    for (const t of ['not-a-time', '2024-05-01', '2024-05-01 12:00:00Z', '2024-13-01T00:00:00Z', '2023-02-29T00:00:00Z', '2024-05-01T24:00:00Z', '2024-05-01T12:00:00', '2024-05-01T12:00:00+25:00']) {
      assert.throws(() => parseHttpEvents(SJ, structured({ ...ok, time: t })),
        invalid(`attribute "time" is not an RFC 3339 timestamp: "${t}" (expected e.g. 2024-05-01T12:00:00Z)`), t);
    }
    assert.throws(() => parseHttpEvents(bin({ 'ce-time': 'yesterday' }), Buffer.alloc(0)), /attribute "time" is not an RFC 3339 timestamp: "yesterday"/);
  });

  test('valid RFC 3339 times pass unchanged', () => {
    for (const t of ['2024-05-01T12:00:00Z', '2024-02-29T23:59:60.123456789+05:30', '1985-04-12t23:20:50.52z', '2024-05-01T12:00:00-00:00']) {
      assert.equal(parseHttpEvents(SJ, structured({ ...ok, time: t })).events[0]!.attributes.time, t);
    }
  });

  test('a structured body that is not a JSON object', () => {
    assert.throws(() => parseHttpEvents(SJ, Buffer.from('[1,2]')), invalid('a structured event must be a JSON object, got an array'));
    assert.throws(() => parseHttpEvents(SJ, Buffer.from('"x"')), invalid('a structured event must be a JSON object, got string "x"'));
    assert.throws(() => parseHttpEvents(SJ, Buffer.from('null')), invalid('a structured event must be a JSON object, got null'));
  });

  test('data and data_base64 both present; bad data_base64', () => {
    assert.throws(() => parseHttpEvents(SJ, structured({ ...ok, data: 1, data_base64: 'AQ==' })),
      invalid('"data" and "data_base64" are both present; an event carries one or the other'));
    assert.throws(() => parseHttpEvents(SJ, structured({ ...ok, data_base64: 'not base64!' })), invalid('"data_base64" is not valid base64'));
    assert.throws(() => parseHttpEvents(SJ, structured({ ...ok, data_base64: 12 })), invalid('"data_base64" must be a string, got number 12'));
  });

  test('attribute values outside the type system', () => {
    assert.throws(() => parseHttpEvents(SJ, structured({ ...ok, ext: { a: 1 } })), invalid('attribute "ext" must be a string, integer or boolean, got an object'));
    assert.throws(() => parseHttpEvents(SJ, structured({ ...ok, ext: 1.5 })), invalid('attribute "ext" must be a string, integer or boolean, got number 1.5'));
    assert.throws(() => parseHttpEvents(SJ, structured({ ...ok, subject: 'a\nb' })),
      invalid('attribute "subject" contains the control character U+000A, which CloudEvents does not allow'));
    assert.throws(() => parseHttpEvents(SJ, structured({ ...ok, subject: '' })), invalid('attribute "subject" must not be empty when present'));
  });

  test('unsupported structured formats', () => {
    assert.throws(() => parseHttpEvents({ 'content-type': 'application/cloudevents+xml' }, Buffer.from('<e/>')),
      invalid('unsupported structured event format "application/cloudevents+xml": Sluice reads application/cloudevents+json and application/cloudevents-batch+json'));
    assert.throws(() => parseHttpEvents({ 'content-type': 'application/cloudevents-batch+avro' }, Buffer.from('x')),
      invalid('unsupported batch event format "application/cloudevents-batch+avro": Sluice reads application/cloudevents+json and application/cloudevents-batch+json'));
    assert.throws(() => parseHttpEvents({ 'content-type': 'application/cloudevents+json; charset=iso-8859-1' }, structured(ok)),
      invalid('unsupported charset "iso-8859-1" for application/cloudevents+json: the JSON event format is UTF-8'));
  });

  test('neither ce- headers nor a structured content type', () => {
    assert.throws(() => parseHttpEvents({ 'content-type': 'application/json' }, Buffer.from('{}')),
      invalid('not a CloudEvent: no ce- headers (binary mode) and no application/cloudevents+json or application/cloudevents-batch+json Content-Type (got Content-Type "application/json")'));
    assert.throws(() => parseHttpEvents({}, Buffer.alloc(0)),
      invalid('not a CloudEvent: no ce- headers (binary mode) and no application/cloudevents+json or application/cloudevents-batch+json Content-Type (got no Content-Type)'));
  });

  test('hostile attribute names do not touch prototypes', () => {
    assert.throws(() => parseHttpEvents(SJ, Buffer.from('{"specversion":"1.0","id":"1","source":"/s","type":"t","__proto__":{"x":1}}')), /invalid attribute name "__proto__"/);
    const { events } = parseHttpEvents(bin({ 'ce-constructor': 'c', 'ce-tostring': 'x' }), Buffer.alloc(0));
    assert.equal(events[0]!.attributes.constructor, 'c');
  });
});
