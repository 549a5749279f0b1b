// Sluice's own CESQL tests: the areas of the TCK that were not available to vendor
// (IN, EXISTS, case sensitivity, parse errors) and the engine's own guarantees.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  compileCesql, CesqlParseError, MAX_DEPTH, MAX_EXPRESSION_LENGTH, parseCesql,
  type CesqlAttributes, type CesqlEvaluationErrorKind,
} from '../../src/broker/cesql/index.js';

const event: CesqlAttributes = {
  specversion: '1.0',
  id: 'abc-123',
  source: 'https://github.com/acme/shop',
  type: 'dev.knative.source.github.push',
  subject: 'main',
  sequence: '42',
  flag: 'TRUE',
  empty: '',
};

function value(expr: string, attrs: CesqlAttributes = event): unknown {
  const r = compileCesql(expr).evaluate(attrs);
  assert.deepEqual(r.errors, [], `no error expected for ${expr}: ${JSON.stringify(r.errors)}`);
  return r.value;
}

function failsWith(expr: string, kind: CesqlEvaluationErrorKind, expected: unknown, attrs: CesqlAttributes = event): void {
  const c = compileCesql(expr);
  const r = c.evaluate(attrs);
  assert.ok(r.errors.some((e) => e.kind === kind), `${expr}: expected ${kind}, got ${JSON.stringify(r.errors)}`);
  assert.strictEqual(r.value, expected, expr);
  assert.equal(c.matches(attrs), false);
}

function parseFails(expr: string, message: RegExp, position?: number): CesqlParseError {
  let caught: unknown;
  try {
    compileCesql(expr);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof CesqlParseError, `${expr}: expected CesqlParseError, got ${String(caught)}`);
  assert.equal(caught.code, 'SLUICE_ERR_INVALID_CESQL');
  assert.equal(caught.statusCode, 400);
  assert.match(caught.message, message);
  if (position !== undefined) assert.equal(caught.position, position);
  return caught;
}

describe('IN', () => {
  test('matches an element, NOT IN the opposite', () => {
    assert.equal(value("subject IN ('dev', 'main')"), true);
    assert.equal(value("subject IN ('dev', 'release')"), false);
    assert.equal(value("subject NOT IN ('dev', 'release')"), true);
    assert.equal(value("subject NOT IN ('main')"), false);
    assert.equal(value("'main' IN (subject)"), true);
  });

  test('elements are cast to the type of the left operand', () => {
    assert.equal(value("sequence IN (41, 42)"), true, 'string attribute: 42 is cast to "42"');
    assert.equal(value("42 IN ('41', '42')"), true, 'integer left: strings cast to integers');
    assert.equal(value("TRUE IN ('false', 'TRUE')"), true);
    assert.equal(value("'042' IN (42)"), false, 'string comparison: "042" is not "42"');
    failsWith("42 IN ('x', 42)", 'cast', false);
  });

  test('elements may be expressions and attributes', () => {
    assert.equal(value("LOWER('MAIN') IN (subject, 'x')"), true);
    assert.equal(value('3 IN (1 + 1, 1 + 2)'), true);
  });

  test('a missing attribute on either side is an error and yields false', () => {
    failsWith("missing IN ('a')", 'missingAttribute', false);
    failsWith("missing NOT IN ('a')", 'missingAttribute', false);
    failsWith("subject IN ('x', missing)", 'missingAttribute', false);
    failsWith("subject NOT IN ('x', missing)", 'missingAttribute', false);
  });

  test('an empty set is a syntax error (n > 0)', () => {
    parseFails('subject IN ()', /unexpected token "\)" at position 12/);
  });
});

describe('EXISTS', () => {
  test('present, absent, required and empty attributes', () => {
    assert.equal(value('EXISTS subject'), true);
    assert.equal(value('EXISTS id'), true);
    assert.equal(value('EXISTS empty'), true, 'present with an empty value');
    assert.equal(value('EXISTS dataschema'), false, 'absent is false, and not an error');
    assert.equal(value('NOT EXISTS dataschema'), true);
    assert.equal(value('EXISTS constructor'), false, 'never looks at Object.prototype');
  });

  test('EXISTS takes an identifier only', () => {
    parseFails("EXISTS 'subject'", /unexpected token "'subject'" at position 7/);
    parseFails('EXISTS', /unexpected end of expression/);
  });
});

describe('case sensitivity', () => {
  test('keywords and function names are case-insensitive', () => {
    assert.equal(value("subject like 'ma%' aNd exists id Or false"), true);
    assert.equal(value("lower('ABC') = 'abc'"), true);
    assert.equal(value("Concat_Ws('-', 'a', 'b')"), 'a-b');
    assert.equal(value('true = TRUE AND False = false'), true);
  });

  test('identifiers are attribute names (lower-cased), string comparison is case-sensitive', () => {
    assert.equal(value("SUBJECT = 'main'"), true);
    assert.equal(value("subject = 'Main'"), false);
    assert.equal(value("'abc' = 'ABC'"), false);
  });

  test('boolean to string casts give lower case', () => {
    assert.equal(value("TRUE = 'true' AND FALSE = 'false'"), true);
    assert.equal(value("TRUE = 'TRUE' OR FALSE = 'FALSE'"), false);
    assert.equal(value('flag = TRUE'), true, 'string -> boolean accepts any case');
  });
});

describe('parse errors', () => {
  test('report the token and the 0-based position', () => {
    const e = parseFails("type = 'x' AND AND", /^cesql: unexpected token "AND" at position 15$/, 15);
    assert.equal(e.kind, 'parse');
    assert.equal(e.expression, "type = 'x' AND AND");
    parseFails('a = = b', /unexpected token "=" at position 4/, 4);
    parseFails('(a = b', /unexpected end of expression at position 6/, 6);
    parseFails('a = b)', /unexpected token "\)" at position 5/, 5);
    parseFails('a b', /unexpected token "b" at position 2/, 2);
    parseFails('', /empty expression/);
    parseFails('   ', /empty expression/);
  });

  test('lexical errors', () => {
    parseFails('a = #', /unexpected character "#" at position 4/, 4);
    parseFails("a = 'open", /unterminated string literal at position 4/, 4);
    parseFails('a == b', /unexpected token "=" at position 3/);
  });

  test('LIKE needs a string literal pattern', () => {
    parseFails('subject LIKE 12', /unexpected token "12" at position 13 \(a LIKE pattern must be a string literal\)/);
    parseFails('subject LIKE subject', /a LIKE pattern must be a string literal/);
  });

  test('integer literals must fit in 32 bits', () => {
    assert.equal(value('2147483647'), 2147483647);
    assert.equal(value('-2147483648'), -2147483648);
    assert.equal(value('+5'), 5);
    parseFails('2147483648', /integer literal 2147483648 at position 0 is outside the 32-bit range/);
    parseFails('1 + -2147483649', /integer literal -2147483649 at position 4/);
  });

  test('identifiers and function names follow the grammar', () => {
    parseFails('my_ext = 1', /invalid attribute name "my_ext" at position 0/);
    parseFails('f1(2)', /invalid function name "f1"/);
  });

  test('unknown functions and wrong arities are compile-time errors (missingFunction)', () => {
    const e = parseFails('NOSUCH(1)', /^cesql: unknown function NOSUCH at position 0$/);
    assert.equal(e.kind, 'missingFunction');
    parseFails("a = LENGTH('x', 'y')", /function LENGTH takes 1 arguments, not 2 at position 4/);
    parseFails('SUBSTRING(a)', /function SUBSTRING takes 2 or 3 arguments, not 1/);
    parseFails('CONCAT_WS()', /function CONCAT_WS takes 1 or more arguments, not 0/);
  });

  test('size limits instead of a stack overflow', () => {
    parseFails('a'.repeat(MAX_EXPRESSION_LENGTH + 1), /characters long; the limit is/);
    parseFails('('.repeat(3000) + 'TRUE' + ')'.repeat(3000), /nested/);
    parseFails('NOT '.repeat(MAX_DEPTH + 5) + 'TRUE', /nested/);
    // Long flat chains are fine: they are compiled as lists, not as a deep tree.
    const chain = Array.from({ length: 2000 }, (_, i) => `a${i} = 'x'`).join(' OR ');
    assert.equal(compileCesql(chain).matches({ a1999: 'x', a0: 'y' }), false, 'a0 = y is false, a1 is missing: error');
    assert.equal(compileCesql(chain).matches({ a0: 'x' }), true);
  });

  test('parseCesql returns the syntax tree', () => {
    assert.deepEqual(parseCesql('NOT a'), { type: 'not', operand: { type: 'attribute', name: 'a', pos: 4 }, pos: 0 });
  });
});

describe('operators', () => {
  test('precedence: unary, LIKE, IN, * / %, + -, comparison, then AND/OR/XOR left to right', () => {
    assert.equal(value('1 + 2 * 3'), 7);
    assert.equal(value('(1 + 2) * 3'), 9);
    assert.equal(value('10 - 4 - 3'), 3, 'left associative');
    assert.equal(value('100 / 10 / 5'), 2);
    assert.equal(value('1 + 2 = 3'), true);
    assert.equal(value('-2 * -3'), 6);
    // AND, OR and XOR share one level (spec 3.6): evaluated left to right.
    assert.equal(value('TRUE OR TRUE AND FALSE'), false, '(TRUE OR TRUE) AND FALSE');
    assert.equal(value('FALSE AND TRUE OR TRUE'), true, '(FALSE AND TRUE) OR TRUE');
    assert.equal(value('TRUE XOR TRUE OR TRUE'), true);
    // NOT binds tighter than LIKE and comparisons.
    assert.equal(value("NOT FALSE LIKE 'tr%'"), true, '(NOT FALSE) LIKE ...');
    assert.equal(value('NOT 1 = 0'), true, '(NOT 1) = 0: false is cast to the right type, 0 = 0');
    assert.equal(value('NOT (1 = 0)'), true);
  });

  test('comparisons with implicit casts', () => {
    assert.equal(value('sequence = 42'), true);
    assert.equal(value('sequence > 41 AND sequence <= 42'), true);
    assert.equal(value("sequence = '042'"), false);
    assert.equal(value("'10' < '9'"), false, '< compares integers, not text');
    failsWith("subject < 3", 'cast', false);
    failsWith("subject = 3", 'cast', false);
    failsWith("subject != 3", 'cast', false);
    failsWith('missing > 1', 'missingAttribute', false);
  });

  test('integer arithmetic is 32-bit, truncating, with math errors for division by zero', () => {
    assert.equal(value('-7 / 2'), -3);
    assert.equal(value('-7 % 3'), -1);
    assert.equal(value('7 % -3'), 1);
    assert.equal(value('2147483647 + 1'), -2147483648, "two's complement wrap");
    assert.equal(value('65536 * 65536'), 0);
    assert.equal(value('-(-2147483648)'), -2147483648);
    failsWith('sequence / 0', 'math', 0);
    failsWith('(1 / 0) = 0', 'math', false, event);
    failsWith("'x' + 1", 'cast', 0);
  });

  test('LIKE: wildcards, escapes, unicode, and no runaway backtracking', () => {
    assert.equal(value("source LIKE 'https://github.com/%/shop'"), true);
    assert.equal(value("id LIKE 'abc-___'"), true);
    assert.equal(value("id LIKE 'abc-__'"), false);
    assert.equal(value("'50%' LIKE '50\\%'"), true);
    assert.equal(value("'50x' LIKE '50\\%'"), false);
    assert.equal(value("'a.b' LIKE 'a.b'"), true, 'regex characters are literal');
    assert.equal(value("'aXb' LIKE 'a.b'"), false);
    assert.equal(value("'(x)' LIKE '(_)'"), true);
    assert.equal(value("'' LIKE '%'"), true);
    assert.equal(value("'' LIKE '_'"), false);
    assert.equal(value("'😀' LIKE '_'"), true, 'one character, two UTF-16 units');
    assert.equal(value("'a😀b' LIKE 'a_b'"), true);
    assert.equal(value("'abc' LIKE '%%c'"), true);
    assert.equal(value("'ABC' LIKE 'abc'"), false, 'case-sensitive');
  });

  test('LIKE cannot be made to backtrack exponentially', { timeout: 30_000 }, () => {
    // A regular-expression translation would never finish on this; the wildcard matcher is
    // O(value x pattern). The generous timeout only turns a hang into a failure.
    const long = 'a'.repeat(5000);
    assert.equal(compileCesql("x LIKE '%a%a%a%a%a%a%a%a%a%b'").matches({ x: long }), false);
    assert.equal(compileCesql("x LIKE '%a%a%a%a%a%a%a%a%a%'").matches({ x: long }), true);
  });

  test('AND and OR short-circuit; errors make the enclosing expression false', () => {
    assert.equal(value('FALSE AND missing = 1'), false);
    assert.equal(value('TRUE OR missing = 1'), true);
    failsWith('missing = 1 OR TRUE', 'missingAttribute', false);
    failsWith('TRUE AND missing', 'missingAttribute', false);
    failsWith("NOT (subject = 'x' AND 1 / 0 = 0)", 'math', false, { ...event, subject: 'x' });
  });

  test('a bare attribute or non-boolean result never passes a filter', () => {
    const c = compileCesql('subject');
    assert.deepEqual(c.evaluate(event), { value: 'main', errors: [] });
    assert.equal(c.matches(event), false);
    assert.equal(compileCesql('flag').matches(event), false, 'the string "TRUE" is not the boolean true');
    assert.equal(compileCesql('BOOL(flag)').matches(event), true);
  });
});

describe('strings and functions', () => {
  test('string literal escapes', () => {
    assert.equal(value("'it''s'"), "it's");
    assert.equal(value("'it\\'s'"), "it's");
    assert.equal(value('"say ""hi"""'), 'say "hi"');
    assert.equal(value('"say \\"hi\\""'), 'say "hi"');
    assert.equal(value("'back\\\\'"), 'back\\');
    assert.equal(value("'a\\nb'"), 'a\\nb', 'other backslashes are kept as written');
  });

  test('string functions count characters, not UTF-16 units', () => {
    assert.equal(value("LENGTH('😀ab')"), 3);
    assert.equal(value("LEFT('😀ab', 1)"), '😀');
    assert.equal(value("RIGHT('a😀', 1)"), '😀');
    assert.equal(value("SUBSTRING('x😀yz', 2, 2)"), '😀y');
    assert.equal(value("TRIM('\u00a0 padded\t\n')"), 'padded');
  });

  test('functions take implicit casts and propagate errors as zero values', () => {
    assert.equal(value('LENGTH(12345)'), 5);
    assert.equal(value("ABS('-3')"), 3);
    assert.equal(value('CONCAT(1, TRUE, subject)'), '1truemain');
    assert.equal(value("UPPER(subject) = 'MAIN'"), true);
    failsWith('UPPER(missing)', 'missingAttribute', '');
    failsWith("LEFT('abc', 'x')", 'cast', '');
    failsWith("LENGTH(LEFT('abc', -1))", 'functionEvaluation', 0);
  });

  test('IS_INT and IS_BOOL test the form of a value', () => {
    assert.equal(value('IS_INT(sequence)'), true);
    assert.equal(value('IS_INT(subject)'), false);
    assert.equal(value("IS_INT('99999999999')"), false, 'out of 32-bit range');
    assert.equal(value('IS_INT(5)'), true);
    assert.equal(value('IS_BOOL(flag)'), true);
    assert.equal(value('IS_BOOL(TRUE)'), true);
    assert.equal(value("IS_BOOL('yes')"), false);
    assert.equal(value('IS_BOOL(1)'), false);
  });
});

describe('typed attributes', () => {
  test('knativebrokerttl is an integer by default; the type list can be replaced', () => {
    const attrs = { ...event, knativebrokerttl: '255' };
    assert.deepEqual(compileCesql('knativebrokerttl').evaluate(attrs), { value: 255, errors: [] });
    assert.equal(compileCesql("knativebrokerttl = '255'").matches(attrs), true);
    const custom = compileCesql('enabled AND retries > 2', { attributeTypes: { enabled: 'boolean', retries: 'integer' } });
    assert.deepEqual(custom.evaluate({ enabled: 'true', retries: '3' }), { value: true, errors: [] });
    assert.deepEqual(compileCesql('knativebrokerttl', { attributeTypes: {} }).evaluate(attrs).value, '255');
  });

  test('typed values from an SDK event are used as they are', () => {
    assert.equal(compileCesql('count + 1 = 11 AND on').matches({ count: 10, on: true }), true);
  });
});
