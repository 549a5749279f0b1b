import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { parseFieldSelector, parseLabelSelector } from '../../src/kube-api/selectors.js';
import { InvalidSelectorError } from '../../src/errors.js';

// Label and field selectors as kubectl sends them (`get -l`, `--field-selector`, `wait`).

const web = { app: 'web', tier: 'frontend', 'app.kubernetes.io/name': 'sluice' };
const db = { app: 'db', tier: 'backend' };
const bare = {};

function matches(selector: string): string[] {
  const m = parseLabelSelector(selector);
  const objects: [string, Record<string, string> | undefined][] = [['web', web], ['db', db], ['bare', bare], ['none', undefined]];
  return objects.filter(([, labels]) => m(labels)).map(([name]) => name);
}

function assertInvalid(fn: () => unknown, message: string | RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof InvalidSelectorError, `expected InvalidSelectorError, got ${String(err)}`);
    if (typeof message === 'string') assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  });
}

describe('parseLabelSelector', () => {
  test('the empty selector matches everything, with or without labels', () => {
    assert.deepEqual(matches(''), ['web', 'db', 'bare', 'none']);
    assert.deepEqual(matches('   '), ['web', 'db', 'bare', 'none']);
  });

  test('equality: =, == and !=; != matches objects without the key', () => {
    assert.deepEqual(matches('app=web'), ['web']);
    assert.deepEqual(matches('app==db'), ['db']);
    assert.deepEqual(matches('app!=web'), ['db', 'bare', 'none']);
  });

  test('set-based: in and notin; notin matches objects without the key', () => {
    assert.deepEqual(matches('app in (web,db)'), ['web', 'db']);
    assert.deepEqual(matches('app in (db)'), ['db']);
    assert.deepEqual(matches('tier notin (frontend)'), ['db', 'bare', 'none']);
    assert.deepEqual(matches('tier notin (frontend, backend)'), ['bare', 'none']);
  });

  test('existence: key and !key', () => {
    assert.deepEqual(matches('tier'), ['web', 'db']);
    assert.deepEqual(matches('!tier'), ['bare', 'none']);
    assert.deepEqual(matches('app.kubernetes.io/name'), ['web']);
  });

  test('requirements are ANDed', () => {
    assert.deepEqual(matches('app in (web,db),tier=backend'), ['db']);
    assert.deepEqual(matches('tier,!app.kubernetes.io/name'), ['db']);
    assert.deepEqual(matches('app=web,app=db'), []);
  });

  test('whitespace around tokens is allowed, and none is needed around symbols', () => {
    assert.deepEqual(matches('  app = web ,  tier  '), ['web']);
    assert.deepEqual(matches('app in(web)'), ['web']);
    assert.deepEqual(matches('app notin(web),tier'), ['db']);
    assert.deepEqual(matches('app!=web,tier!=backend'), ['bare', 'none']);
  });

  test('keys with a DNS prefix', () => {
    assert.deepEqual(matches('app.kubernetes.io/name=sluice'), ['web']);
    assert.deepEqual(matches('app.kubernetes.io/name in (other)'), []);
  });

  test('an empty value: `key=` matches the empty value, `()` is the set of the empty value', () => {
    const m = parseLabelSelector('env=');
    assert.equal(m({ env: '' }), true);
    assert.equal(m({ env: 'x' }), false);
    assert.equal(m({}), false);
    const inEmpty = parseLabelSelector('env in ()');
    assert.equal(inEmpty({ env: '' }), true);
    assert.equal(inEmpty({ env: 'x' }), false);
    const trailing = parseLabelSelector('env in (a,)');
    assert.equal(trailing({ env: '' }), true);
    assert.equal(trailing({ env: 'a' }), true);
  });

  test('in and notin are ordinary words where a value is expected', () => {
    assert.equal(parseLabelSelector('mode=in')({ mode: 'in' }), true);
    assert.equal(parseLabelSelector('mode in (in, notin)')({ mode: 'notin' }), true);
  });

  test('> and < compare integer values, as in Kubernetes', () => {
    const gt = parseLabelSelector('replicas>2');
    assert.equal(gt({ replicas: '3' }), true);
    assert.equal(gt({ replicas: '2' }), false);
    assert.equal(gt({ replicas: 'many' }), false);
    assert.equal(gt({}), false);
    assert.equal(parseLabelSelector('replicas < 10')({ replicas: '9' }), true);
    assertInvalid(() => parseLabelSelector('replicas>x'), 'labelSelector "replicas>x": the value after ">" must be an integer, found "x"');
  });

  test('a label named like an Object.prototype member is looked up as an own key', () => {
    assert.equal(parseLabelSelector('constructor')({}), false);
    assert.equal(parseLabelSelector('!toString')({}), true);
    assert.equal(parseLabelSelector('constructor=x')({ constructor: 'x' }), true);
  });

  test('syntax errors name the selector and the problem', () => {
    assertInvalid(() => parseLabelSelector('app in (a'), 'labelSelector "app in (a": missing ")"');
    assertInvalid(() => parseLabelSelector('app in ('), 'labelSelector "app in (": missing ")"');
    assertInvalid(() => parseLabelSelector('app in a'), 'labelSelector "app in a": expected "(" after in/notin, found "a"');
    assertInvalid(() => parseLabelSelector('app in (a b)'), 'labelSelector "app in (a b)": expected "," or ")" in value list, found "b"');
    assertInvalid(() => parseLabelSelector('app=web,'), 'labelSelector "app=web,": expected a label key or "!", found end of selector');
    assertInvalid(() => parseLabelSelector(',app'), 'labelSelector ",app": expected a label key or "!", found ","');
    assertInvalid(() => parseLabelSelector('app web'), 'labelSelector "app web": expected an operator (=, ==, !=, in, notin, >, <) after "app", found "web"');
    assertInvalid(() => parseLabelSelector('!app=web'), 'labelSelector "!app=web": "!app" must be followed by "," or end of selector, found "="');
    assertInvalid(() => parseLabelSelector('!'), 'labelSelector "!": expected a label key, found end of selector');
    assertInvalid(() => parseLabelSelector('app=a=b'), 'labelSelector "app=a=b": expected "," or end of selector, found "="');
    assertInvalid(() => parseLabelSelector('app=(x)'), 'labelSelector "app=(x)": expected a label value, found "("');
    assertInvalid(() => parseLabelSelector('in=x'), 'labelSelector "in=x": expected a label key or "!", found "in"');
  });

  test('label keys are validated like Kubernetes qualified names', () => {
    assert.equal(parseLabelSelector(`${'a'.repeat(63)}`)({ ['a'.repeat(63)]: '' }), true);
    assert.equal(parseLabelSelector(`${'p'.repeat(253)}/x`)({}), false);
    assertInvalid(() => parseLabelSelector('a'.repeat(64)), /name part must be no more than 63 characters/);
    assertInvalid(() => parseLabelSelector('-app=x'), /^labelSelector "-app=x": invalid label key "-app": name part must consist of alphanumeric/);
    assertInvalid(() => parseLabelSelector('app_=x'), /invalid label key "app_"/);
    assertInvalid(() => parseLabelSelector('/app'), 'labelSelector "/app": invalid label key "/app": prefix part must be non-empty');
    assertInvalid(() => parseLabelSelector('Example.com/app'), /invalid label key "Example.com\/app": prefix part must be a lowercase DNS subdomain/);
    assertInvalid(() => parseLabelSelector(`${'p'.repeat(254)}/x`), /prefix part must be no more than 253 characters/);
    assertInvalid(() => parseLabelSelector('a/b/c'), /invalid label key "a\/b\/c"/);
    assertInvalid(() => parseLabelSelector('example.com/'), /name part must be non-empty/);
  });

  test('label values are validated: empty or up to 63 alphanumeric-bounded characters', () => {
    assert.equal(parseLabelSelector('v=a-b_c.d')({ v: 'a-b_c.d' }), true);
    assert.equal(parseLabelSelector(`v=${'x'.repeat(63)}`)({ v: 'x'.repeat(63) }), true);
    assertInvalid(() => parseLabelSelector(`v=${'x'.repeat(64)}`), /invalid label value "x{64}": must be no more than 63 characters/);
    assertInvalid(() => parseLabelSelector('v=-x'), 'labelSelector "v=-x": invalid label value "-x": must consist of alphanumeric characters, \'-\', \'_\' or \'.\', and must start and end with an alphanumeric character');
    assertInvalid(() => parseLabelSelector('v in (ok, bad/value)'), /invalid label value "bad\/value"/);
  });
});

describe('parseFieldSelector', () => {
  interface Obj {
    name: string;
    namespace?: string;
  }
  const fields = {
    'metadata.name': (o: Obj) => o.name,
    'metadata.namespace': (o: Obj) => o.namespace,
  };
  const a: Obj = { name: 'a', namespace: 'default' };
  const b: Obj = { name: 'b', namespace: 'prod' };
  const c: Obj = { name: 'c' };
  const names = (selector: string): string[] => [a, b, c].filter(parseFieldSelector(selector, fields)).map((o) => o.name);

  test('the empty selector matches everything', () => {
    assert.deepEqual(names(''), ['a', 'b', 'c']);
  });

  test('=, == and != as kubectl wait and delete --wait send them', () => {
    assert.deepEqual(names('metadata.name=a'), ['a']);
    assert.deepEqual(names('metadata.name==b'), ['b']);
    assert.deepEqual(names('metadata.name!=a'), ['b', 'c']);
  });

  test('terms are ANDed; empty terms are skipped as in Kubernetes', () => {
    assert.deepEqual(names('metadata.namespace=default,metadata.name=a'), ['a']);
    assert.deepEqual(names('metadata.namespace=default,metadata.name=b'), []);
    assert.deepEqual(names('metadata.name!=a,,metadata.name!=b'), ['c']);
  });

  test('a field the object lacks compares as the empty string', () => {
    assert.deepEqual(names('metadata.namespace='), ['c']);
    assert.deepEqual(names('metadata.namespace!=prod'), ['a', 'c']);
  });

  test('spaces around the field and value are ignored', () => {
    assert.deepEqual(names(' metadata.name = a '), ['a']);
  });

  test('values may escape , = and \\', () => {
    const odd = parseFieldSelector('metadata.name=x\\,y\\=z\\\\', fields);
    assert.equal(odd({ name: 'x,y=z\\' }), true);
    assert.equal(odd({ name: 'x' }), false);
    assertInvalid(() => parseFieldSelector('metadata.name=a\\b', fields), /^fieldSelector "metadata.name=a\\b": invalid escape sequence "\\b"/);
  });

  test('an unsupported field is refused with Kubernetes wording', () => {
    assertInvalid(() => parseFieldSelector('spec.foo=x', fields), 'field label not supported: spec.foo');
    assertInvalid(() => parseFieldSelector('metadata.name=a,status.phase!=Running', fields), 'field label not supported: status.phase');
    assertInvalid(() => parseFieldSelector('constructor=x', fields), 'field label not supported: constructor');
  });

  test('a term without an operator is refused naming the selector', () => {
    assertInvalid(
      () => parseFieldSelector('metadata.name', fields),
      'fieldSelector "metadata.name": can\'t understand "metadata.name", expected field=value, field==value or field!=value',
    );
  });
});
