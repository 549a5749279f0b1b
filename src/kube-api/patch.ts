// PATCH bodies as kubectl sends them: JSON merge patch (RFC 7386), JSON patch (RFC 6902),
// strategic merge patch (Kubernetes' dialect) and server-side apply. Every function here is
// pure: the current object is cloned, never changed, and plain JSON goes in and out.
import { parse as parseYaml } from 'yaml';
import { InvalidPatchError } from '../errors.js';

export type PatchContentType =
  | 'application/merge-patch+json'
  | 'application/json-patch+json'
  | 'application/strategic-merge-patch+json';

export const APPLY_PATCH_CONTENT_TYPE = 'application/apply-patch+yaml';

const PATCH_TYPES: readonly string[] = [
  'application/merge-patch+json',
  'application/json-patch+json',
  'application/strategic-merge-patch+json',
];

/** The patch type a `Content-Type` header names (parameters and case ignored), or undefined for any other. */
export function patchContentType(header: string | undefined): PatchContentType | 'application/apply-patch+yaml' | undefined {
  const type = header?.split(';')[0]!.trim().toLowerCase();
  if (type === APPLY_PATCH_CONTENT_TYPE) return APPLY_PATCH_CONTENT_TYPE;
  return type !== undefined && PATCH_TYPES.includes(type) ? (type as PatchContentType) : undefined;
}

/** Applies a PATCH body of the given type to `current` and returns the patched copy. Throws InvalidPatchError. */
export function applyPatch(current: Record<string, unknown>, body: string, type: PatchContentType): Record<string, unknown> {
  const patch = parseJsonBody(body, type);
  const base = structuredClone(current);
  switch (type) {
    case 'application/merge-patch+json':
      return requireObject(mergePatch(base, patch), 'the merge patch does not leave an object');
    case 'application/json-patch+json':
      return requireObject(jsonPatch(base, patch), 'the JSON patch does not leave an object');
    case 'application/strategic-merge-patch+json':
      return strategicMergePatch(base, patch);
  }
}

// ---------------------------------------------------------------------------------------------
// Shared helpers

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function requireObject(v: unknown, problem: string): Record<string, unknown> {
  if (!isObject(v)) throw new InvalidPatchError(`${problem}: the result must be a JSON object`);
  return v;
}

function parseJsonBody(body: string, type: PatchContentType): unknown {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (err) {
    throw new InvalidPatchError(`the body is not valid JSON for ${type}: ${(err as Error).message}`, { cause: err });
  }
  rejectProtoKeys(parsed);
  return parsed;
}

/**
 * JSON.parse and YAML keep `__proto__` as an own key, but a later plain assignment of that key
 * (ours or a caller's `Object.assign`) would replace an object's prototype instead: refuse it.
 */
function rejectProtoKeys(v: unknown): void {
  if (Array.isArray(v)) {
    for (const item of v) rejectProtoKeys(item);
  } else if (isObject(v)) {
    for (const [k, child] of Object.entries(v)) {
      if (k === '__proto__') throw new InvalidPatchError('the patch may not contain the key "__proto__"');
      rejectProtoKeys(child);
    }
  }
}

function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k], b[k]));
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// RFC 7386 JSON merge patch

function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch;
  const out: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(Object.hasOwn(out, key) ? out[key] : undefined, value);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// RFC 6902 JSON patch

interface PatchOperation {
  op: string;
  path: string;
  from?: string;
  value?: unknown;
  hasValue: boolean;
}

class OperationError extends Error {}

function jsonPatch(doc: unknown, patch: unknown): unknown {
  if (!Array.isArray(patch)) throw new InvalidPatchError('a JSON patch must be a JSON array of operations');
  let result = doc;
  patch.forEach((raw, index) => {
    const op = readOperation(raw, index);
    try {
      result = applyOperation(result, op);
    } catch (err) {
      if (!(err instanceof OperationError)) throw err;
      throw new InvalidPatchError(`JSON patch operation ${index} (${op.op} ${op.path}): ${err.message}`);
    }
  });
  return result;
}

function readOperation(raw: unknown, index: number): PatchOperation {
  const where = `JSON patch operation ${index}`;
  if (!isObject(raw)) throw new InvalidPatchError(`${where}: must be an object`);
  const { op, path, from } = raw;
  if (typeof op !== 'string') throw new InvalidPatchError(`${where}: "op" must be a string`);
  if (typeof path !== 'string') throw new InvalidPatchError(`${where} (${op}): "path" must be a string`);
  const hasValue = Object.hasOwn(raw, 'value');
  if ((op === 'add' || op === 'replace' || op === 'test') && !hasValue) {
    throw new InvalidPatchError(`${where} (${op} ${path}): "value" is required`);
  }
  if ((op === 'move' || op === 'copy') && typeof from !== 'string') {
    throw new InvalidPatchError(`${where} (${op} ${path}): "from" must be a string`);
  }
  return { op, path, hasValue, value: raw.value, ...(typeof from === 'string' ? { from } : {}) };
}

/** Applies one operation and returns the (possibly new) document root. */
function applyOperation(doc: unknown, op: PatchOperation): unknown {
  const path = parsePointer(op.path);
  switch (op.op) {
    case 'add':
      return add(doc, path, op.value);
    case 'remove':
      return remove(doc, path).doc;
    case 'replace':
      return add(remove(doc, path).doc, path, op.value);
    case 'move': {
      const from = parsePointer(op.from!);
      if (from.length < path.length && from.every((t, i) => t === path[i])) {
        throw new OperationError(`cannot move "${op.from}" into one of its own children`);
      }
      const removed = remove(doc, from);
      return add(removed.doc, path, removed.value);
    }
    case 'copy':
      return add(doc, path, structuredClone(get(doc, parsePointer(op.from!), 'from')));
    case 'test':
      if (!jsonEqual(get(doc, path, 'path'), op.value)) throw new OperationError('test failed: the value differs');
      return doc;
    default:
      throw new OperationError(`unknown operation "${op.op}"`);
  }
}

const FORBIDDEN_SEGMENTS = new Set(['__proto__', 'constructor', 'prototype']);

/** RFC 6901: `""` is the whole document; `~1` is `/` and `~0` is `~`, decoded in that order. */
function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new OperationError(`"${pointer}" is not a JSON pointer: it must start with "/"`);
  return pointer
    .slice(1)
    .split('/')
    .map((segment) => {
      if (/~(?![01])/.test(segment)) throw new OperationError(`invalid escape in "${segment}": "~" must be followed by 0 or 1`);
      const token = segment.replace(/~1/g, '/').replace(/~0/g, '~');
      if (FORBIDDEN_SEGMENTS.has(token)) throw new OperationError(`the path segment "${token}" is not allowed`);
      return token;
    });
}

const ARRAY_INDEX = /^(0|[1-9][0-9]*)$/;

function arrayIndex(arr: unknown[], token: string, allowEnd: boolean): number {
  if (allowEnd && token === '-') return arr.length;
  if (!ARRAY_INDEX.test(token)) throw new OperationError(`"${token}" is not a valid array index`);
  const i = Number(token);
  if (i > arr.length || (!allowEnd && i === arr.length)) throw new OperationError(`array index ${token} is out of bounds`);
  return i;
}

function get(doc: unknown, path: readonly string[], which: 'path' | 'from'): unknown {
  let node = doc;
  for (const token of path) {
    if (Array.isArray(node)) node = node[arrayIndex(node, token, false)];
    else if (isObject(node) && Object.hasOwn(node, token)) node = node[token];
    else throw new OperationError(which === 'path' ? 'path does not exist' : '"from" path does not exist');
  }
  return node;
}

/** The container that holds the last token of `path`; it must exist (RFC 6902 section 4.1). */
function parentOf(doc: unknown, path: readonly string[]): unknown {
  const parent = get(doc, path.slice(0, -1), 'path');
  if (!Array.isArray(parent) && !isObject(parent)) throw new OperationError('path does not exist: its parent is not an object or array');
  return parent;
}

function add(doc: unknown, path: readonly string[], value: unknown): unknown {
  if (path.length === 0) return value;
  const parent = parentOf(doc, path);
  const token = path[path.length - 1]!;
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, token, true), 0, value);
  else (parent as Record<string, unknown>)[token] = value;
  return doc;
}

function remove(doc: unknown, path: readonly string[]): { doc: unknown; value: unknown } {
  if (path.length === 0) return { doc: undefined, value: doc };
  const value = get(doc, path, 'path');
  const parent = parentOf(doc, path);
  const token = path[path.length - 1]!;
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, token, false), 1);
  else delete (parent as Record<string, unknown>)[token];
  return { doc, value };
}

// ---------------------------------------------------------------------------------------------
// Strategic merge patch. Sluice's kinds declare no merge keys, so lists are replaced whole and
// maps merge as in RFC 7386; the `$` directives kubectl emits are honoured and never kept.

const DELETE = Symbol('delete');
const SET_ELEMENT_ORDER = '$setElementOrder/';
const DELETE_FROM_PRIMITIVE_LIST = '$deleteFromPrimitiveList/';

function strategicMergePatch(current: Record<string, unknown>, patch: unknown): Record<string, unknown> {
  if (!isObject(patch)) throw new InvalidPatchError('a strategic merge patch must be a JSON object');
  const result = strategicMergeMap(current, patch, '');
  if (result === DELETE) throw new InvalidPatchError('"$patch: delete" at the top level would delete the whole object');
  return result;
}

function smpError(where: string, problem: string): InvalidPatchError {
  return new InvalidPatchError(`strategic merge patch${where ? ` at ${where}` : ''}: ${problem}`);
}

function strategicMergeMap(target: unknown, patch: Record<string, unknown>, where: string): Record<string, unknown> | typeof DELETE {
  const directive = patch.$patch;
  if (directive === 'delete') return DELETE;
  if (directive === 'replace') {
    const { $patch: _, ...rest } = patch;
    return strategicMergeMap(undefined, rest, where);
  }
  if (directive !== undefined && directive !== 'merge') throw smpError(where, `unknown $patch directive ${JSON.stringify(directive)}`);

  const out: Record<string, unknown> = isObject(target) ? { ...target } : {};
  // Deletions first: kubectl pairs them with the field's new elements, which must survive.
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith(DELETE_FROM_PRIMITIVE_LIST)) deleteFromPrimitiveList(out, key.slice(DELETE_FROM_PRIMITIVE_LIST.length), value, join(where, key));
  }
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith('$')) {
      checkDirective(key, join(where, key));
      continue;
    }
    mergeField(out, key, value, join(where, key));
  }
  if (patch.$retainKeys !== undefined) retainKeys(out, patch.$retainKeys, join(where, '$retainKeys'));
  return out;
}

function join(where: string, key: string): string {
  return where ? `${where}.${key}` : key;
}

function checkDirective(key: string, where: string): void {
  const known = key === '$patch' || key === '$retainKeys' || key.startsWith(SET_ELEMENT_ORDER) || key.startsWith(DELETE_FROM_PRIMITIVE_LIST);
  if (!known) throw smpError(where, `unknown directive "${key}"`);
}

function mergeField(out: Record<string, unknown>, key: string, value: unknown, where: string): void {
  if (value === null) {
    delete out[key];
  } else if (isObject(value)) {
    const merged = strategicMergeMap(Object.hasOwn(out, key) ? out[key] : undefined, value, where);
    if (merged === DELETE) delete out[key];
    else out[key] = merged;
  } else if (Array.isArray(value)) {
    out[key] = strategicList(value, where);
  } else {
    out[key] = value;
  }
}

/** Without merge keys a list is atomic, but its map elements may still carry directives to strip. */
function strategicList(list: unknown[], where: string): unknown[] {
  const out: unknown[] = [];
  list.forEach((item, i) => {
    if (!isObject(item)) {
      out.push(item);
      return;
    }
    // `{$patch: replace}` as an element asks for the list to be replaced, which it is anyway.
    if (item.$patch === 'replace' && Object.keys(item).length === 1) return;
    const cleaned = strategicMergeMap(undefined, item, `${where}[${i}]`);
    if (cleaned === DELETE) throw smpError(`${where}[${i}]`, '"$patch: delete" needs a merge key, and this list has none');
    out.push(cleaned);
  });
  return out;
}

function deleteFromPrimitiveList(out: Record<string, unknown>, field: string, values: unknown, where: string): void {
  if (!Array.isArray(values)) throw smpError(where, 'must be a list');
  const list = Object.hasOwn(out, field) ? out[field] : undefined;
  if (list === undefined) return;
  if (!Array.isArray(list)) throw smpError(where, `"${field}" is not a list`);
  out[field] = list.filter((item) => !values.some((v) => jsonEqual(v, item)));
}

function retainKeys(out: Record<string, unknown>, keys: unknown, where: string): void {
  if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string')) throw smpError(where, 'must be a list of strings');
  for (const key of Object.keys(out)) {
    if (!keys.includes(key)) delete out[key];
  }
}

// ---------------------------------------------------------------------------------------------
// Server-side apply

/** Kubernetes' managedFields `fieldsV1`: `{"f:spec": {"f:uri": {}}}`; leaves (scalars and atomic lists) are `{}`. */
export type FieldsV1 = Record<string, unknown>;

const IDENTITY_KEYS = ['apiVersion', 'kind'];
const OWNED_METADATA = ['labels', 'annotations'];

/**
 * The fields an applied configuration sets. `apiVersion`, `kind`, `metadata.name` and
 * `metadata.namespace` identify the object rather than being owned; server-set metadata
 * (uid, resourceVersion, ...) is never a manager's. A `null` sets nothing: it removes.
 */
export function fieldSetOf(obj: Record<string, unknown>): FieldsV1 {
  const set: FieldsV1 = {};
  for (const [key, value] of Object.entries(obj)) {
    if (IDENTITY_KEYS.includes(key) || value === null) continue;
    if (key === 'metadata') {
      const meta = metadataFieldSet(value);
      if (meta) set['f:metadata'] = meta;
      continue;
    }
    set[`f:${key}`] = fieldsOf(value);
  }
  return set;
}

function metadataFieldSet(metadata: unknown): FieldsV1 | undefined {
  if (!isObject(metadata)) return undefined;
  const set: FieldsV1 = {};
  for (const key of OWNED_METADATA) {
    if (isObject(metadata[key])) set[`f:${key}`] = fieldsOf(metadata[key]);
  }
  return Object.keys(set).length > 0 ? set : undefined;
}

function fieldsOf(value: unknown): FieldsV1 {
  if (!isObject(value)) return {};
  const set: FieldsV1 = {};
  for (const [key, child] of Object.entries(value)) {
    if (child !== null) set[`f:${key}`] = fieldsOf(child);
  }
  return set;
}

/**
 * Server-side apply for one manager: fields it owned before but no longer applies are removed,
 * fields other managers set stay, and `applied` is merged in (maps recursively, lists and
 * scalars replaced, `null` removes). Only identity, labels and annotations are taken from the
 * applied metadata: the rest of metadata is the server's. Conflicts with other managers are
 * the caller's to detect.
 */
export function serverSideApply(
  current: Record<string, unknown> | undefined,
  applied: Record<string, unknown>,
  previouslyOwned: FieldsV1 | undefined,
): Record<string, unknown> {
  const result = structuredClone(current ?? {});
  rejectProtoKeys(applied);
  if (previouslyOwned) removeDropped(result, previouslyOwned, fieldSetOf(applied));
  for (const [key, value] of Object.entries(applied)) {
    if (key === 'metadata') applyMetadata(result, value);
    else applyField(result, key, value);
  }
  return result;
}

/** Removes from `obj` the leaves of `owned` that `kept` no longer lists, keeping everything else. */
function removeDropped(obj: Record<string, unknown>, owned: FieldsV1, kept: FieldsV1 | undefined): void {
  for (const [fkey, ownedChild] of Object.entries(owned)) {
    // Only `f:` entries name fields; `k:`/`v:`/`i:` (list element keys) cannot occur for atomic lists.
    if (!fkey.startsWith('f:')) continue;
    const key = fkey.slice(2);
    if (!Object.hasOwn(obj, key)) continue;
    const keptChild = kept && Object.hasOwn(kept, fkey) ? kept[fkey] : undefined;
    const ownedChildren = isObject(ownedChild) && Object.keys(ownedChild).length > 0 ? ownedChild : undefined;
    if (ownedChildren) {
      // The manager owned fields inside this map, not the map: others' fields in it stay.
      const child = obj[key];
      if (isObject(child)) removeDropped(child, ownedChildren, isObject(keptChild) ? keptChild : undefined);
    } else if (keptChild === undefined && !isNonEmptyObject(obj[key])) {
      // A leaf the manager stopped applying goes. An owned `{}` that now has entries was an
      // empty map the manager applied and others filled since: their entries stay.
      delete obj[key];
    }
  }
}

function isNonEmptyObject(v: unknown): boolean {
  return isObject(v) && Object.keys(v).length > 0;
}

function applyField(target: Record<string, unknown>, key: string, value: unknown): void {
  if (value === null) {
    delete target[key];
  } else if (isObject(value)) {
    const child = Object.hasOwn(target, key) && isObject(target[key]) ? (target[key] as Record<string, unknown>) : {};
    for (const [k, v] of Object.entries(value)) applyField(child, k, v);
    target[key] = child;
  } else {
    target[key] = structuredClone(value);
  }
}

function applyMetadata(result: Record<string, unknown>, applied: unknown): void {
  if (!isObject(applied)) return;
  const meta: Record<string, unknown> = isObject(result.metadata) ? result.metadata : {};
  for (const key of ['name', 'namespace', ...OWNED_METADATA]) {
    if (Object.hasOwn(applied, key)) applyField(meta, key, applied[key]);
  }
  result.metadata = meta;
}

/** Parses a server-side apply body: one YAML (or JSON) mapping. Throws InvalidPatchError. */
export function parseApplyBody(body: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    // A bounded alias count keeps a "billion laughs" body from expanding without limit.
    parsed = parseYaml(body, { maxAliasCount: 100 });
  } catch (err) {
    throw new InvalidPatchError(`the body is not valid YAML or JSON for ${APPLY_PATCH_CONTENT_TYPE}: ${(err as Error).message}`, { cause: err });
  }
  if (!isObject(parsed)) throw new InvalidPatchError(`the body of ${APPLY_PATCH_CONTENT_TYPE} must be a mapping (an object)`);
  rejectProtoKeys(parsed);
  return parsed;
}
