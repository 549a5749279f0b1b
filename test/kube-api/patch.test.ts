import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  applyPatch,
  fieldSetOf,
  parseApplyBody,
  patchContentType,
  serverSideApply,
  type PatchContentType,
} from '../../src/kube-api/patch.js';
import { InvalidPatchError } from '../../src/errors.js';

// PATCH bodies: RFC 7386 merge patch, RFC 6902 JSON patch, strategic merge patch and server-side apply.

type Obj = Record<string, unknown>;

const MERGE: PatchContentType = 'application/merge-patch+json';
const JSON_PATCH: PatchContentType = 'application/json-patch+json';
const STRATEGIC: PatchContentType = 'application/strategic-merge-patch+json';

/** Frozen all the way down, so that any mutation of a patch input throws in strict mode. */
function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null) {
    for (const child of Object.values(v)) deepFreeze(child);
    Object.freeze(v);
  }
  return v;
}

function patch(current: Obj, body: unknown, type: PatchContentType): Obj {
  return applyPatch(deepFreeze(structuredClone(current)), JSON.stringify(body), type);
}

function assertPatchError(fn: () => unknown, message: string | RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof InvalidPatchError, `expected InvalidPatchError, got ${String(err)}`);
    if (typeof message === 'string') assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  });
}

/** Every key anywhere in `v` (to check that no `$` directive survives). */
function allKeys(v: unknown): string[] {
  if (Array.isArray(v)) return v.flatMap(allKeys);
  if (typeof v === 'object' && v !== null) return Object.entries(v).flatMap(([k, c]) => [k, ...allKeys(c)]);
  return [];
}

describe('patchContentType', () => {
  test('recognises the patch types, ignoring parameters and case', () => {
    assert.equal(patchContentType('application/merge-patch+json'), MERGE);
    assert.equal(patchContentType('application/json-patch+json; charset=utf-8'), JSON_PATCH);
    assert.equal(patchContentType(' Application/Strategic-Merge-Patch+JSON ;charset=UTF-8'), STRATEGIC);
    assert.equal(patchContentType('application/apply-patch+yaml'), 'application/apply-patch+yaml');
  });

  test('anything else is undefined', () => {
    assert.equal(patchContentType(undefined), undefined);
    assert.equal(patchContentType(''), undefined);
    assert.equal(patchContentType('application/json'), undefined);
    assert.equal(patchContentType('application/merge-patch+json-x'), undefined);
  });
});

describe('JSON merge patch (RFC 7386)', () => {
  // Appendix A of RFC 7386: [original, patch, result].
  const appendixA: [unknown, unknown, unknown][] = [
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [['a', 'b'], ['c', 'd'], ['c', 'd']],
    [{ a: 'b' }, ['c'], ['c']],
    [{ a: 'foo' }, null, null],
    [{ a: 'foo' }, 'bar', 'bar'],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: 'b', c: null }, { a: 'b' }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ];

  test('appendix A, each example one level down (any original, any result)', () => {
    for (const [original, p, result] of appendixA) {
      // Under a key, a `null` patch removes the key instead of producing null.
      const expected = result === null ? {} : { x: result };
      assert.deepEqual(patch({ x: original, keep: 1 }, { x: p }, MERGE), { ...expected, keep: 1 }, JSON.stringify([original, p]));
    }
  });

  test('appendix A at the top level, where original and result are objects', () => {
    const objectRows = appendixA.filter(([o, , r]) => o !== null && typeof o === 'object' && !Array.isArray(o) && r !== null && typeof r === 'object' && !Array.isArray(r));
    assert.equal(objectRows.length, 10);
    for (const [original, p, result] of objectRows) assert.deepEqual(patch(original as Obj, p, MERGE), result);
  });

  test('a patch that leaves a non-object is refused', () => {
    for (const body of [null, 'bar', ['c'], 3]) {
      assertPatchError(() => patch({ a: 'foo' }, body, MERGE), 'the merge patch does not leave an object: the result must be a JSON object');
    }
  });

  test('a Knative-shaped patch: merges maps, replaces lists, keeps the rest', () => {
    const current = {
      apiVersion: 'messaging.knative.dev/v1',
      kind: 'Subscription',
      metadata: { name: 's', labels: { a: '1', b: '2' } },
      spec: { subscriber: { uri: 'http://a' }, delivery: { retry: 3 }, filters: [{ exact: { type: 'x' } }] },
    };
    const result = patch(current, { metadata: { labels: { b: null, c: '3' } }, spec: { subscriber: { uri: 'http://b' }, filters: [] } }, MERGE);
    assert.deepEqual(result, {
      apiVersion: 'messaging.knative.dev/v1',
      kind: 'Subscription',
      metadata: { name: 's', labels: { a: '1', c: '3' } },
      spec: { subscriber: { uri: 'http://b' }, delivery: { retry: 3 }, filters: [] },
    });
  });

  test('the input is not changed and the result shares nothing with it', () => {
    const current = { spec: { a: { b: 1 } } };
    const result = applyPatch(current, '{"spec":{"c":2}}', MERGE);
    assert.deepEqual(current, { spec: { a: { b: 1 } } });
    (result.spec as { a: { b: number } }).a.b = 99;
    assert.equal(current.spec.a.b, 1);
  });

  test('invalid JSON is refused naming the patch type', () => {
    assertPatchError(() => applyPatch({}, '{"a":', MERGE), /^the body is not valid JSON for application\/merge-patch\+json: /);
  });

  test('a "__proto__" key is refused, and Object.prototype is untouched', () => {
    assertPatchError(() => applyPatch({}, '{"a":{"__proto__":{"polluted":true}}}', MERGE), 'the patch may not contain the key "__proto__"');
    assert.equal(({} as { polluted?: unknown }).polluted, undefined);
  });

  test('keys named like Object.prototype members are ordinary keys', () => {
    assert.deepEqual(patch({ a: 1 }, { constructor: { x: 1 }, toString: 'y' }, MERGE), { a: 1, constructor: { x: 1 }, toString: 'y' });
    assert.deepEqual(patch({ constructor: 'c' }, { constructor: null }, MERGE), {});
  });
});

describe('JSON patch (RFC 6902)', () => {
  const jp = (current: Obj, ops: unknown): Obj => patch(current, ops, JSON_PATCH);

  test('A.1 adding an object member', () => {
    assert.deepEqual(jp({ foo: 'bar' }, [{ op: 'add', path: '/baz', value: 'qux' }]), { baz: 'qux', foo: 'bar' });
  });

  test('A.2 adding an array element', () => {
    assert.deepEqual(jp({ foo: ['bar', 'baz'] }, [{ op: 'add', path: '/foo/1', value: 'qux' }]), { foo: ['bar', 'qux', 'baz'] });
  });

  test('A.3 removing an object member', () => {
    assert.deepEqual(jp({ baz: 'qux', foo: 'bar' }, [{ op: 'remove', path: '/baz' }]), { foo: 'bar' });
  });

  test('A.4 removing an array element', () => {
    assert.deepEqual(jp({ foo: ['bar', 'qux', 'baz'] }, [{ op: 'remove', path: '/foo/1' }]), { foo: ['bar', 'baz'] });
  });

  test('A.5 replacing a value', () => {
    assert.deepEqual(jp({ baz: 'qux', foo: 'bar' }, [{ op: 'replace', path: '/baz', value: 'boo' }]), { baz: 'boo', foo: 'bar' });
  });

  test('A.6 moving a value', () => {
    assert.deepEqual(
      jp({ foo: { bar: 'baz', waldo: 'fred' }, qux: { corge: 'grault' } }, [{ op: 'move', from: '/foo/waldo', path: '/qux/thud' }]),
      { foo: { bar: 'baz' }, qux: { corge: 'grault', thud: 'fred' } },
    );
  });

  test('A.7 moving an array element', () => {
    assert.deepEqual(jp({ foo: ['all', 'grass', 'cows', 'eat'] }, [{ op: 'move', from: '/foo/1', path: '/foo/3' }]), {
      foo: ['all', 'cows', 'eat', 'grass'],
    });
  });

  test('A.8 testing a value: success', () => {
    const doc = { baz: 'qux', foo: ['a', 2, 'c'] };
    assert.deepEqual(jp(doc, [{ op: 'test', path: '/baz', value: 'qux' }, { op: 'test', path: '/foo/1', value: 2 }]), doc);
  });

  test('A.9 testing a value: error', () => {
    assertPatchError(() => jp({ baz: 'qux' }, [{ op: 'test', path: '/baz', value: 'bar' }]), 'JSON patch operation 0 (test /baz): test failed: the value differs');
  });

  test('A.10 adding a nested member object', () => {
    assert.deepEqual(jp({ foo: 'bar' }, [{ op: 'add', path: '/child', value: { grandchild: {} } }]), { foo: 'bar', child: { grandchild: {} } });
  });

  test('A.11 ignoring unrecognized elements', () => {
    assert.deepEqual(jp({ foo: 'bar' }, [{ op: 'add', path: '/baz', value: 'qux', xyz: 123 }]), { foo: 'bar', baz: 'qux' });
  });

  test('A.12 adding to a nonexistent target', () => {
    assertPatchError(() => jp({ foo: 'bar' }, [{ op: 'add', path: '/baz/bat', value: 'qux' }]), 'JSON patch operation 0 (add /baz/bat): path does not exist');
  });

  test('A.13 invalid JSON patch document (duplicate "op": the last one wins, and fails)', () => {
    assertPatchError(
      () => applyPatch({ foo: 'bar' }, '[{ "op": "add", "path": "/baz", "value": "qux", "op": "remove" }]', JSON_PATCH),
      'JSON patch operation 0 (remove /baz): path does not exist',
    );
  });

  test('A.14 ~ escape ordering', () => {
    const doc = { '/': 9, '~1': 10 };
    assert.deepEqual(jp(doc, [{ op: 'test', path: '/~01', value: 10 }]), doc);
  });

  test('A.15 comparing strings and numbers', () => {
    assertPatchError(() => jp({ '/': 9, '~1': 10 }, [{ op: 'test', path: '/~01', value: '10' }]), 'JSON patch operation 0 (test /~01): test failed: the value differs');
  });

  test('A.16 adding an array value', () => {
    assert.deepEqual(jp({ foo: ['bar'] }, [{ op: 'add', path: '/foo/-', value: ['abc', 'def'] }]), { foo: ['bar', ['abc', 'def']] });
  });

  test('RFC 6901 section 5 pointers', () => {
    const doc = { foo: ['bar', 'baz'], '': 0, 'a/b': 1, 'c%d': 2, 'e^f': 3, 'g|h': 4, 'i\\j': 5, 'k"l': 6, ' ': 7, 'm~n': 8 };
    const cases: [string, unknown][] = [
      ['', doc],
      ['/foo', ['bar', 'baz']],
      ['/foo/0', 'bar'],
      ['/', 0],
      ['/a~1b', 1],
      ['/c%d', 2],
      ['/e^f', 3],
      ['/g|h', 4],
      ['/i\\j', 5],
      ['/k"l', 6],
      ['/ ', 7],
      ['/m~0n', 8],
    ];
    for (const [path, value] of cases) assert.deepEqual(jp(doc, [{ op: 'test', path, value }]), doc, path);
    assertPatchError(() => jp(doc, [{ op: 'test', path: '/m~0n', value: 7 }]), /test failed/);
  });

  test('test compares JSON values structurally, whatever the key order', () => {
    const doc = { spec: { a: 1, b: [1, { c: 2 }] } };
    assert.deepEqual(jp(doc, [{ op: 'test', path: '/spec', value: { b: [1, { c: 2 }], a: 1 } }]), doc);
    assertPatchError(() => jp(doc, [{ op: 'test', path: '/spec', value: { a: 1 } }]), /test failed/);
    assertPatchError(() => jp(doc, [{ op: 'test', path: '/spec/b', value: [1] }]), /test failed/);
  });

  test('copy duplicates a value; later changes to the copy do not touch the source', () => {
    assert.deepEqual(
      jp({ a: { x: 1 } }, [
        { op: 'copy', from: '/a', path: '/b' },
        { op: 'replace', path: '/b/x', value: 2 },
      ]),
      { a: { x: 1 }, b: { x: 2 } },
    );
  });

  test('operations apply in order and the error names the failing one by its index', () => {
    assertPatchError(
      () =>
        jp({ spec: { y: 1 } }, [
          { op: 'add', path: '/spec/a', value: 1 },
          { op: 'remove', path: '/spec/y' },
          { op: 'replace', path: '/spec/x', value: 2 },
        ]),
      'JSON patch operation 2 (replace /spec/x): path does not exist',
    );
  });

  test('add replaces an existing member; replace and add at the root', () => {
    assert.deepEqual(jp({ a: 1 }, [{ op: 'add', path: '/a', value: 2 }]), { a: 2 });
    assert.deepEqual(jp({ a: 1 }, [{ op: 'replace', path: '', value: { b: 2 } }]), { b: 2 });
    assert.deepEqual(jp({ a: 1 }, [{ op: 'add', path: '', value: { c: 3 } }]), { c: 3 });
    assertPatchError(() => jp({ a: 1 }, [{ op: 'replace', path: '', value: [1] }]), 'the JSON patch does not leave an object: the result must be a JSON object');
    assertPatchError(() => jp({ a: 1 }, [{ op: 'remove', path: '' }]), /does not leave an object/);
  });

  test('move to itself is a no-op; move into its own child is refused', () => {
    assert.deepEqual(jp({ a: { b: 1 } }, [{ op: 'move', from: '/a', path: '/a' }]), { a: { b: 1 } });
    assertPatchError(() => jp({ a: { b: 1 } }, [{ op: 'move', from: '/a', path: '/a/b/c' }]), 'JSON patch operation 0 (move /a/b/c): cannot move "/a" into one of its own children');
    assertPatchError(() => jp({ a: 1 }, [{ op: 'move', from: '/nope', path: '/b' }]), 'JSON patch operation 0 (move /b): path does not exist');
    assertPatchError(() => jp({ a: 1 }, [{ op: 'copy', from: '/nope', path: '/b' }]), 'JSON patch operation 0 (copy /b): "from" path does not exist');
  });

  test('array indexes are validated', () => {
    const doc = { l: ['a', 'b'] };
    assert.deepEqual(jp(doc, [{ op: 'add', path: '/l/2', value: 'c' }]), { l: ['a', 'b', 'c'] });
    assertPatchError(() => jp(doc, [{ op: 'add', path: '/l/3', value: 'c' }]), 'JSON patch operation 0 (add /l/3): array index 3 is out of bounds');
    assertPatchError(() => jp(doc, [{ op: 'remove', path: '/l/2' }]), 'JSON patch operation 0 (remove /l/2): array index 2 is out of bounds');
    assertPatchError(() => jp(doc, [{ op: 'replace', path: '/l/01', value: 'x' }]), 'JSON patch operation 0 (replace /l/01): "01" is not a valid array index');
    assertPatchError(() => jp(doc, [{ op: 'add', path: '/l/-1', value: 'x' }]), /"-1" is not a valid array index/);
    assertPatchError(() => jp(doc, [{ op: 'remove', path: '/l/-' }]), /"-" is not a valid array index/);
    assertPatchError(() => jp(doc, [{ op: 'test', path: '/l/x', value: 'a' }]), /"x" is not a valid array index/);
  });

  test('pointers must start with "/" and use only ~0 and ~1 escapes', () => {
    assertPatchError(() => jp({ a: 1 }, [{ op: 'remove', path: 'a' }]), 'JSON patch operation 0 (remove a): "a" is not a JSON pointer: it must start with "/"');
    assertPatchError(() => jp({ a: 1 }, [{ op: 'remove', path: '/a~2' }]), /invalid escape in "a~2": "~" must be followed by 0 or 1/);
    assertPatchError(() => jp({ a: 1 }, [{ op: 'remove', path: '/a~' }]), /invalid escape/);
  });

  test('prototype pollution: __proto__, constructor and prototype segments are refused', () => {
    for (const path of ['/__proto__/polluted', '/constructor/prototype/polluted', '/a/prototype', '/constructor']) {
      assertPatchError(() => jp({ a: {} }, [{ op: 'add', path, value: true }]), /the path segment "(__proto__|constructor|prototype)" is not allowed/);
    }
    assertPatchError(() => jp({ a: {} }, [{ op: 'copy', from: '/constructor', path: '/b' }]), /the path segment "constructor" is not allowed/);
    assert.equal(({} as { polluted?: unknown }).polluted, undefined);
  });

  test('malformed operations are refused', () => {
    assertPatchError(() => jp({}, { op: 'add' }), 'a JSON patch must be a JSON array of operations');
    assertPatchError(() => jp({}, ['add']), 'JSON patch operation 0: must be an object');
    assertPatchError(() => jp({}, [{ path: '/a' }]), 'JSON patch operation 0: "op" must be a string');
    assertPatchError(() => jp({}, [{ op: 'add', value: 1 }]), 'JSON patch operation 0 (add): "path" must be a string');
    assertPatchError(() => jp({}, [{ op: 'add', path: '/a' }]), 'JSON patch operation 0 (add /a): "value" is required');
    assertPatchError(() => jp({}, [{ op: 'move', path: '/a' }]), 'JSON patch operation 0 (move /a): "from" must be a string');
    assertPatchError(() => jp({}, [{ op: 'frobnicate', path: '/a' }]), 'JSON patch operation 0 (frobnicate /a): unknown operation "frobnicate"');
    assertPatchError(() => applyPatch({}, '[{"op":', JSON_PATCH), /^the body is not valid JSON for application\/json-patch\+json: /);
  });

  test('a null value is a value', () => {
    assert.deepEqual(jp({ a: 1 }, [{ op: 'add', path: '/b', value: null }]), { a: 1, b: null });
    assert.deepEqual(jp({ a: null }, [{ op: 'test', path: '/a', value: null }]), { a: null });
  });
});

describe('strategic merge patch', () => {
  const smp = (current: Obj, body: unknown): Obj => {
    const result = patch(current, body, STRATEGIC);
    assert.deepEqual(allKeys(result).filter((k) => k.startsWith('$')), [], 'no $ directive may remain');
    return result;
  };

  test('maps merge, null deletes, lists are replaced whole (no merge keys)', () => {
    assert.deepEqual(
      smp({ data: { a: 'YQ==', b: 'Yg==' }, spec: { list: [1, 2, 3], m: { x: 1 } } }, { data: { a: null, c: 'Yw==' }, spec: { list: [4], m: { y: 2 } } }),
      { data: { b: 'Yg==', c: 'Yw==' }, spec: { list: [4], m: { x: 1, y: 2 } } },
    );
  });

  test('a kubectl apply patch for a Secret', () => {
    const current = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', annotations: { other: 'x' } }, data: { a: 'YQ==' } };
    const body = {
      data: { a: null, b: 'Yg==' },
      metadata: { annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}' } },
    };
    assert.deepEqual(smp(current, body), {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 's', annotations: { other: 'x', 'kubectl.kubernetes.io/last-applied-configuration': '{}' } },
      data: { b: 'Yg==' },
    });
  });

  test('$patch: replace replaces the map with the rest of it', () => {
    assert.deepEqual(smp({ data: { a: '1', b: '2' }, keep: true }, { data: { $patch: 'replace', c: '3', d: null } }), { data: { c: '3' }, keep: true });
    assert.deepEqual(smp({ a: 1, b: 2 }, { $patch: 'replace', c: 3 }), { c: 3 });
  });

  test('$patch: delete deletes the map', () => {
    assert.deepEqual(smp({ spec: { a: 1, b: 2 }, keep: true }, { spec: { $patch: 'delete' } }), { keep: true });
    assert.deepEqual(smp({ keep: true }, { spec: { $patch: 'delete' } }), { keep: true });
    assertPatchError(() => smp({ a: 1 }, { $patch: 'delete' }), '"$patch: delete" at the top level would delete the whole object');
  });

  test('$patch: merge is the default; any other $patch value is refused', () => {
    assert.deepEqual(smp({ m: { a: 1 } }, { m: { $patch: 'merge', b: 2 } }), { m: { a: 1, b: 2 } });
    assertPatchError(() => smp({ m: {} }, { m: { $patch: 'remove' } }), 'strategic merge patch at m: unknown $patch directive "remove"');
  });

  test('$retainKeys drops keys not listed, after merging', () => {
    assert.deepEqual(
      smp({ strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1 }, other: 1 } }, { strategy: { $retainKeys: ['type', 'extra'], type: 'Recreate', extra: 2 } }),
      { strategy: { type: 'Recreate', extra: 2 } },
    );
    assertPatchError(() => smp({ m: {} }, { m: { $retainKeys: 'type' } }), 'strategic merge patch at m.$retainKeys: must be a list of strings');
  });

  test('$deleteFromPrimitiveList removes values from a primitive list', () => {
    assert.deepEqual(smp({ meta: { finalizers: ['a', 'b', 'c', 'b'] } }, { meta: { '$deleteFromPrimitiveList/finalizers': ['b', 'z'] } }), {
      meta: { finalizers: ['a', 'c'] },
    });
    assert.deepEqual(smp({ m: {} }, { m: { '$deleteFromPrimitiveList/finalizers': ['b'] } }), { m: {} });
    assertPatchError(() => smp({ m: { l: 'x' } }, { m: { '$deleteFromPrimitiveList/l': ['x'] } }), 'strategic merge patch at m.$deleteFromPrimitiveList/l: "l" is not a list');
    assertPatchError(() => smp({ l: [] }, { '$deleteFromPrimitiveList/l': 'x' }), 'strategic merge patch at $deleteFromPrimitiveList/l: must be a list');
  });

  test('$deleteFromPrimitiveList applies before the field set in the same patch', () => {
    assert.deepEqual(smp({ l: ['a', 'b'] }, { '$deleteFromPrimitiveList/l': ['a'], l: ['a', 'c'] }), { l: ['a', 'c'] });
  });

  test('$setElementOrder hints are dropped', () => {
    assert.deepEqual(smp({ l: ['a'] }, { '$setElementOrder/l': ['b', 'a'], l: ['b', 'a'] }), { l: ['b', 'a'] });
  });

  test('directives inside list elements are stripped; a {$patch: replace} element is dropped', () => {
    assert.deepEqual(smp({ l: [1] }, { l: [{ a: 1, b: null, $retainKeys: ['a'] }, { $patch: 'replace' }] }), { l: [{ a: 1 }] });
    assertPatchError(() => smp({ l: [] }, { l: [{ name: 'x', $patch: 'delete' }] }), 'strategic merge patch at l[0]: "$patch: delete" needs a merge key, and this list has none');
  });

  test('an unknown $ directive is refused', () => {
    assertPatchError(() => smp({}, { spec: { $foo: 1 } }), 'strategic merge patch at spec.$foo: unknown directive "$foo"');
  });

  test('the body must be a JSON object', () => {
    assertPatchError(() => smp({}, [1]), 'a strategic merge patch must be a JSON object');
    assertPatchError(() => applyPatch({}, 'nope', STRATEGIC), /^the body is not valid JSON for application\/strategic-merge-patch\+json: /);
  });
});

describe('server-side apply', () => {
  test('fieldSetOf: fieldsV1 of the applied fields, without identity or server metadata', () => {
    const applied = {
      apiVersion: 'messaging.knative.dev/v1',
      kind: 'Subscription',
      metadata: { name: 's', namespace: 'default', labels: { app: 'x' }, annotations: { note: 'y' }, uid: 'u', resourceVersion: '7' },
      spec: { subscriber: { uri: 'http://a' }, filters: [{ a: 1 }], gone: null },
    };
    assert.deepEqual(fieldSetOf(applied), {
      'f:metadata': { 'f:labels': { 'f:app': {} }, 'f:annotations': { 'f:note': {} } },
      'f:spec': { 'f:subscriber': { 'f:uri': {} }, 'f:filters': {} },
    });
    assert.deepEqual(fieldSetOf({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' } }), {});
  });

  test('creates from nothing', () => {
    const applied = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'default', labels: { a: '1' } }, data: { k: 'v' } };
    assert.deepEqual(serverSideApply(undefined, deepFreeze(structuredClone(applied)), undefined), applied);
  });

  test('a field the manager stopped applying is removed; another manager\'s field stays', () => {
    const firstApply = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', labels: { mine: '1' } }, data: { a: '1', b: '2' } };
    let current = serverSideApply(undefined, firstApply, undefined);
    const ownedByA = fieldSetOf(firstApply);
    // Manager B adds its own field and label.
    current = serverSideApply(current, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', labels: { theirs: '2' } }, data: { other: 'x' } }, undefined);
    assert.deepEqual(current.data, { a: '1', b: '2', other: 'x' });

    const secondApply = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { a: '10' } };
    const result = serverSideApply(deepFreeze(current), deepFreeze(secondApply), deepFreeze(ownedByA));
    assert.deepEqual(result, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', labels: { theirs: '2' } }, data: { a: '10', other: 'x' } });
  });

  test('without previously owned fields nothing is removed', () => {
    const current = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { a: '1', b: '2' } };
    assert.deepEqual(serverSideApply(current, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { a: '3' } }, undefined).data, { a: '3', b: '2' });
  });

  test('a map the manager stopped applying loses only the manager\'s entries', () => {
    const current = { spec: { mine: 1, theirs: 2 } };
    assert.deepEqual(serverSideApply(current, { other: true }, { 'f:spec': { 'f:mine': {} } }), { spec: { theirs: 2 }, other: true });
  });

  test('an empty map the manager owned stays when others have filled it', () => {
    const current = { spec: { opts: { theirs: 1 } }, solo: {} };
    assert.deepEqual(serverSideApply(current, {}, { 'f:spec': { 'f:opts': {} }, 'f:solo': {} }), { spec: { opts: { theirs: 1 } } });
  });

  test('lists and scalars replace, maps merge, null removes', () => {
    const current = { spec: { list: [1, 2], m: { a: 1, b: 2 }, s: 'x', gone: 1 } };
    assert.deepEqual(serverSideApply(current, { spec: { list: [3], m: { b: 3, c: null }, s: 'y', gone: null } }, undefined), {
      spec: { list: [3], m: { a: 1, b: 3 }, s: 'y' },
    });
  });

  test('identity comes from applied; server metadata stays the server\'s', () => {
    const current = {
      apiVersion: 'sources.knative.dev/v1beta1',
      kind: 'PingSource',
      metadata: { name: 'p', namespace: 'default', uid: 'u-1', resourceVersion: '5', managedFields: [] },
      spec: { schedule: '* * * * *' },
    };
    const applied = {
      apiVersion: 'sources.knative.dev/v1',
      kind: 'PingSource',
      metadata: { name: 'p', namespace: 'default', uid: 'forged', resourceVersion: '1', labels: { a: 'b' } },
      spec: { schedule: '*/2 * * * *' },
    };
    assert.deepEqual(serverSideApply(current, applied, undefined), {
      apiVersion: 'sources.knative.dev/v1',
      kind: 'PingSource',
      metadata: { name: 'p', namespace: 'default', uid: 'u-1', resourceVersion: '5', managedFields: [], labels: { a: 'b' } },
      spec: { schedule: '*/2 * * * *' },
    });
  });

  test('the result shares nothing with the inputs', () => {
    const applied = { spec: { list: [{ a: 1 }] } };
    const result = serverSideApply(undefined, applied, undefined);
    ((result.spec as { list: { a: number }[] }).list[0]!).a = 2;
    assert.equal(applied.spec.list[0]!.a, 1);
  });

  test('a "__proto__" key in the applied object is refused', () => {
    assertPatchError(() => serverSideApply(undefined, JSON.parse('{"spec":{"__proto__":{"x":1}}}') as Obj, undefined), 'the patch may not contain the key "__proto__"');
  });
});

describe('parseApplyBody', () => {
  test('YAML and JSON mappings', () => {
    assert.deepEqual(parseApplyBody('apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  k: v\n'), {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'c' },
      data: { k: 'v' },
    });
    assert.deepEqual(parseApplyBody('{"apiVersion":"v1","kind":"Secret","stringData":{"t":"x"}}'), { apiVersion: 'v1', kind: 'Secret', stringData: { t: 'x' } });
  });

  test('anything but one mapping is refused', () => {
    for (const body of ['- a\n- b\n', 'just a string', '', '42']) {
      assertPatchError(() => parseApplyBody(body), 'the body of application/apply-patch+yaml must be a mapping (an object)');
    }
    assertPatchError(() => parseApplyBody('a: 1\n---\nb: 2\n'), /^the body is not valid YAML or JSON for application\/apply-patch\+yaml: /);
    assertPatchError(() => parseApplyBody('a: [1, 2\n'), /^the body is not valid YAML or JSON for application\/apply-patch\+yaml: /);
  });

  test('alias expansion is bounded (billion laughs)', () => {
    const lines = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 12; i++) lines.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`);
    assertPatchError(() => parseApplyBody(lines.join('\n')), /not valid YAML or JSON.*alias/i);
  });

  test('a "__proto__" key is refused', () => {
    assertPatchError(() => parseApplyBody('metadata:\n  __proto__:\n    polluted: true\n'), 'the patch may not contain the key "__proto__"');
  });
});
