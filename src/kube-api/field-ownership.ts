import { stableJson } from '../live-config/resource-digest.js';
import type { FieldsV1 } from './patch.js';

/** One field another field manager owns with a different value than an apply sets. */
export interface FieldConflict {
  manager: string;
  /** Kubernetes' spelling: `.spec.subscriber.uri`. */
  field: string;
}

/** A managedFields entry, as far as ownership goes. */
export interface OwnedFields {
  manager: string;
  operation: string;
  fieldsV1: FieldsV1;
}

/**
 * Server-side apply's conflict rule: a field the applier sets to a value that differs from
 * the live one, while another manager's Apply owns it, is a conflict (409 unless forced).
 * Equal values are shared ownership, not a conflict. Only Apply entries are compared: writes
 * that are not applies (create, update, patch) record no field ownership in Sluice.
 */
export function applyConflicts(live: Record<string, unknown>, applied: Record<string, unknown>, appliedFields: FieldsV1, others: readonly OwnedFields[]): FieldConflict[] {
  const out: FieldConflict[] = [];
  const wanted = new Set(leafPaths(appliedFields).map((p) => p.join('\u0000')));
  for (const other of others) {
    if (other.operation !== 'Apply') continue;
    for (const path of leafPaths(other.fieldsV1)) {
      if (!wanted.has(path.join('\u0000'))) continue;
      if (stableJson(valueAt(live, path)) !== stableJson(valueAt(applied, path))) out.push({ manager: other.manager, field: '.' + path.join('.') });
    }
  }
  return out;
}

/** `fields` without the given leaf paths (a forced apply takes them over from their owner). */
export function withoutFields(fields: FieldsV1, drop: readonly string[][]): FieldsV1 {
  const out = structuredClone(fields);
  for (const path of drop) {
    const parents: FieldsV1[] = [out];
    let node: FieldsV1 | undefined = out;
    for (const key of path.slice(0, -1)) {
      node = node[`f:${key}`] as FieldsV1 | undefined;
      if (!node) break;
      parents.push(node);
    }
    if (!node) continue;
    delete node[`f:${path[path.length - 1]}`];
    // A map left with no owned fields is no longer owned either.
    for (let i = parents.length - 1; i > 0; i--) {
      if (Object.keys(parents[i]!).length > 0) break;
      delete parents[i - 1]![`f:${path[i - 1]}`];
    }
  }
  return out;
}

/** Every owned leaf (a scalar, a list, or a map owned whole) as its path of field names. */
export function leafPaths(fields: FieldsV1, prefix: string[] = []): string[][] {
  const out: string[][] = [];
  for (const [key, child] of Object.entries(fields)) {
    if (!key.startsWith('f:')) continue;
    const path = [...prefix, key.slice(2)];
    const nested = child !== null && typeof child === 'object' && Object.keys(child).length > 0;
    if (nested) out.push(...leafPaths(child as FieldsV1, path));
    else out.push(path);
  }
  return out;
}

function valueAt(obj: unknown, path: readonly string[]): unknown {
  let v = obj;
  for (const key of path) {
    if (v === null || typeof v !== 'object' || Array.isArray(v) || !Object.hasOwn(v, key)) return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}
