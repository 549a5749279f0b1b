import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JsonataTransform, TransformFailedError, jsonataInput, jsonataSyntaxError } from '../../src/transform/index.js';

test('the input is the JSON event format: attributes at the top, JSON data parsed, text as a string, bytes as data_base64', () => {
  const attrs = { specversion: '1.0', id: '1', source: 's', type: 't' };
  assert.deepEqual(jsonataInput({ attributes: { ...attrs, datacontenttype: 'application/json' }, data: Buffer.from('{"a":[1,2]}') }), { ...attrs, datacontenttype: 'application/json', data: { a: [1, 2] } });
  assert.deepEqual(jsonataInput({ attributes: { ...attrs, datacontenttype: 'text/plain' }, data: Buffer.from('hi') }).data, 'hi');
  assert.deepEqual(jsonataInput({ attributes: { ...attrs, datacontenttype: 'application/octet-stream' }, data: Buffer.from([0, 255]) }).data_base64, 'AP8=');
  assert.deepEqual(jsonataInput({ attributes: attrs }), attrs);
});

test('syntax errors carry position, token and jsonata code; multi-line expressions also line and column', () => {
  assert.equal(jsonataSyntaxError('$'), undefined);
  assert.equal(jsonataSyntaxError('{ "a": foo bar }'), 'syntax error at position 14 (token "bar"): Expected "}", got "bar" [S0202]');
  assert.match(jsonataSyntaxError('{\n  "a": foo bar\n}')!, /at position 16 \(line 2, column 14\) \(token "bar"\)/);
  assert.throws(() => new JsonataTransform('(', 'spec.jsonata.expression'), (e: unknown) => e instanceof TransformFailedError && /^spec\.jsonata\.expression: syntax error at position 1/.test(e.message));
});

test('apply: the result is read with the ingress rules (numbers and booleans in extensions become strings, data JSON)', async () => {
  const t = new JsonataTransform(`$merge([$, { 'type': 'x', 'count': 3, 'flag': true, 'data': { 'n': $count(data) } }])`, 'spec.jsonata.expression');
  const out = await t.apply({ attributes: { specversion: '1.0', id: '1', source: 's', type: 't', datacontenttype: 'application/json' }, data: Buffer.from('[1,2,3]') });
  assert.equal(out.attributes.type, 'x');
  assert.equal(out.attributes.count, '3');
  assert.equal(out.attributes.flag, 'true');
  assert.deepEqual(JSON.parse(out.data!.toString()), { n: 3 });
});

test('apply rejects with TransformFailedError (422): no value, a non-object, an invalid event, a runaway expression', async () => {
  const event = { attributes: { specversion: '1.0', id: '1', source: 's', type: 't' } };
  const cases: Array<[string, RegExp]> = [
    ['nothing.here', /produced no value/],
    ['[1,2]', /got an array/],
    [`{ 'specversion': '0.3', 'id': 'a', 'source': 's', 'type': 't' }`, /unsupported specversion "0\.3"/],
    [`{ 'specversion': '1.0', 'id': 'a', 'source': 's', 'type': 't', 'Bad_Name': 'x' }`, /invalid attribute name "Bad_Name"/],
    ['($f := function($n) { $f($n + 1) }; $f(0))', /evaluation failed .*\[D1011\]|evaluation failed .*\[D1012\]/],
  ];
  for (const [expr, re] of cases) {
    await assert.rejects(new JsonataTransform(expr, 'spec.jsonata.expression').apply(event), (e: unknown) => e instanceof TransformFailedError && e.statusCode === 422 && re.test(e.message), expr);
  }
});
