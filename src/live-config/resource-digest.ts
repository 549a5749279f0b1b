import { createHash } from 'node:crypto';
import type { LoadedResource, SecretResource } from '../resources/types.js';

/**
 * A stable fingerprint of what a resource says (apiVersion, kind, name, namespace, labels,
 * annotations, spec; for a Secret its type and data). Live configuration compares these
 * to tell a changed document from an unchanged one, and to tell whether a `-f` file was
 * edited since an admin change overrode (or deleted) its document.
 */
export function resourceDigest(r: LoadedResource | SecretResource): string {
  const content =
    'resource' in r
      ? { apiVersion: r.resource.apiVersion, kind: r.resource.kind, meta: userMeta(r.resource.metadata), spec: r.resource.spec }
      : { apiVersion: r.apiVersion, kind: r.kind, meta: userMeta(r.metadata), type: r.type ?? 'Opaque', data: base64Map(r.data) };
  return createHash('sha256').update(stableJson(content)).digest('base64url');
}

function userMeta(m: { name: string; namespace: string; labels?: Record<string, string>; annotations?: Record<string, string> }) {
  return { name: m.name, namespace: m.namespace, labels: m.labels ?? {}, annotations: m.annotations ?? {} };
}

function base64Map(data: Record<string, Buffer>): Record<string, string> {
  return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
}

/** JSON with object keys sorted, so that key order in a YAML file does not count as a change. */
export function stableJson(value: unknown): string {
  if (Buffer.isBuffer(value)) return JSON.stringify(value.toString('base64'));
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : stableJson(v))).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
