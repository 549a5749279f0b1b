// Kubernetes reads a field written with no value (`labels:`, `spec.delivery:`, which YAML
// and JSON give as null) as if it were absent: Go's decoder leaves the field at its zero
// value, and `kubectl apply` drops null map entries. Knative's own samples rely on it
// (templates with fields emptied), so Sluice does the same, once, before any schema runs:
// every schema then sees "absent" and none needs to be taught about null.
//
// Only mapping entries are dropped. A null item of a list (`containers: [null]`) is kept,
// so that the schema still reports it by index: Kubernetes rejects it too.

/** Nesting deeper than this is no resource document; it is left as is for the schema to judge. */
const MAX_DEPTH = 100;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * A copy of `value` without the null-valued entries of its mappings, at any depth (inside
 * lists too). The input is never changed: callers keep the document as it was sent.
 * Shared and cyclic references (YAML anchors and aliases) are copied once and stay shared.
 */
export function dropNullFields<T>(value: T): T {
  return copy(value, 0, new Map()) as T;
}

function copy(value: unknown, depth: number, seen: Map<object, unknown>): unknown {
  if (typeof value !== 'object' || value === null || depth > MAX_DEPTH) return value;
  const done = seen.get(value);
  if (done !== undefined) return done;
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    seen.set(value, out);
    for (const item of value) out.push(copy(item, depth + 1, seen));
    return out;
  }
  // A Date (a YAML timestamp) or a Buffer is a value, not a mapping.
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  seen.set(value, out);
  for (const [k, v] of Object.entries(value)) {
    if (v === null || v === undefined) continue;
    out[k] = copy(v, depth + 1, seen);
  }
  return out;
}
