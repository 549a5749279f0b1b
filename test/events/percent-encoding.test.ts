import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { decodeHeaderValue, encodeHeaderValue, InvalidEventErrorForTest } from './codec-helpers.js';

describe('encodeHeaderValue', () => {
  test('leaves printable ASCII other than space, " and % as is', () => {
    const v = "abc-XYZ_0.9~!#$&'()*+,/:;<=>?@[\\]^`{|}";
    assert.equal(encodeHeaderValue(v), v);
  });

  test('encodes space, double quote and percent', () => {
    assert.equal(encodeHeaderValue('a b"c%d'), 'a%20b%22c%25d');
  });

  test('encodes non-ASCII as percent-encoded UTF-8 bytes', () => {
    assert.equal(encodeHeaderValue('é'), '%C3%A9');
    assert.equal(encodeHeaderValue('€'), '%E2%82%AC');
    assert.equal(encodeHeaderValue('😀'), '%F0%9F%98%80');
  });

  test('encodes control characters and DEL', () => {
    assert.equal(encodeHeaderValue('a\tb\nc\x7f'), 'a%09b%0Ac%7F');
  });

  test('keeps leading and trailing blanks (HTTP would trim them raw)', () => {
    assert.equal(encodeHeaderValue('  x '), '%20%20x%20');
  });
});

describe('decodeHeaderValue', () => {
  test('decodes what encodeHeaderValue produced, for awkward strings', () => {
    for (const v of ['plain', 'a b', ' lead', 'trail ', '"quoted"', '100%', '%41 literal', 'héllo wörld', '日本語', '😀 emoji', 'tab\there', '', '%', '%%', 'a%2']) {
      assert.equal(decodeHeaderValue(encodeHeaderValue(v), 'ce-x'), v, `round trip of ${JSON.stringify(v)}`);
    }
  });

  test('accepts lower-case hex and unnecessarily encoded ASCII', () => {
    assert.equal(decodeHeaderValue('%c3%a9%41', 'ce-x'), 'éA');
  });

  test('reads raw UTF-8 octets as node delivers them (latin1 string)', () => {
    const wire = Buffer.from('héllo', 'utf8').toString('latin1');
    assert.equal(decodeHeaderValue(wire, 'ce-x'), 'héllo');
  });

  test('raw octets that are not UTF-8 and no escapes: read as ISO-8859-1', () => {
    assert.equal(decodeHeaderValue('caf\xe9', 'ce-x'), 'café');
  });

  test('keeps a % that does not start an escape (senders that do not encode)', () => {
    assert.equal(decodeHeaderValue('100%', 'ce-x'), '100%');
    assert.equal(decodeHeaderValue('50% off', 'ce-x'), '50% off');
    assert.equal(decodeHeaderValue('%zz', 'ce-x'), '%zz');
  });

  test('rejects escapes that decode to invalid UTF-8, naming the header', () => {
    assert.throws(() => decodeHeaderValue('%C3', 'ce-subject'), (err: unknown) => {
      assert.ok(err instanceof InvalidEventErrorForTest);
      assert.equal(err.message, 'header ce-subject: value is not valid UTF-8 after percent-decoding');
      return true;
    });
    assert.throws(() => decodeHeaderValue('%FF%FE', 'ce-id'), /header ce-id: value is not valid UTF-8/);
  });
});
