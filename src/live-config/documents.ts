import { parseAllDocuments } from 'yaml';
import { ApplyRejectedError, InvalidOptionError, ResourceValidationError, type ResourceIssue } from '../errors.js';
import type { LoadResult, LoadedResource, SecretResource } from '../resources/types.js';
import { resourceDigest } from './resource-digest.js';

/** One resource or Secret as live configuration tracks it. */
export interface TrackedDoc {
  key: string;
  kind: string;
  namespace: string;
  name: string;
  digest: string;
  resource?: LoadedResource;
  secret?: SecretResource;
  /** The `-f` file it came from, when known. */
  file?: string;
}

export function docKey(kind: string, namespace: string, name: string): string {
  return `${kind}/${namespace}/${name}`;
}

/** Tracked docs of a load result, keyed `kind/namespace/name`. */
export function trackedDocs(loaded: Pick<LoadResult, 'resources' | 'secrets'>): Map<string, TrackedDoc> {
  const out = new Map<string, TrackedDoc>();
  for (const r of loaded.resources) {
    const { kind, metadata } = r.resource;
    const key = docKey(kind, metadata.namespace, metadata.name);
    out.set(key, { key, kind, namespace: metadata.namespace, name: metadata.name, digest: resourceDigest(r), resource: r, ...(r.origin ? { file: r.origin.file } : {}) });
  }
  for (const s of loaded.secrets) {
    const key = docKey('Secret', s.metadata.namespace, s.metadata.name);
    out.set(key, { key, kind: 'Secret', namespace: s.metadata.namespace, name: s.metadata.name, digest: resourceDigest(s), secret: s });
  }
  return out;
}

/** The key a validation error names (`kind/namespace/name`), when the document got that far. */
export function errorKey(e: ResourceValidationError): string | undefined {
  if (!e.kind || !e.resourceName) return undefined;
  const [namespace, name] = e.resourceName.includes('/') ? e.resourceName.split('/', 2) : ['default', e.resourceName];
  return docKey(e.kind, namespace!, name!);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A request body as loader text plus the documents as sent. */
export interface BodyDocuments {
  /** Multi-document YAML for the resource loader (JSON documents are valid YAML). */
  text: string;
  /** Each document as parsed, `List` items flattened; null for an empty or unreadable one. */
  raw: unknown[];
}

/**
 * Reads an admin request body: YAML (one or more documents) or JSON (one object, a v1
 * List, or an array of objects). JSON is turned into one YAML document per object so
 * that the loader numbers documents like array elements (1-based).
 */
export function bodyDocuments(body: string, contentType: string | undefined): BodyDocuments {
  const trimmed = body.trim();
  const looksJson = /json/i.test(contentType ?? '') || trimmed.startsWith('[');
  if (looksJson) {
    let value: unknown;
    try {
      value = JSON.parse(body);
    } catch (err) {
      if (/json/i.test(contentType ?? '')) throw new InvalidOptionError(`request body is not valid JSON: ${(err as Error).message}`, { cause: err });
      value = undefined;
    }
    if (value !== undefined) {
      const docs = Array.isArray(value) ? value : [value];
      return { text: docs.map((d) => JSON.stringify(d)).join('\n---\n'), raw: flattenLists(docs) };
    }
  }
  const raw: unknown[] = [];
  for (const doc of parseAllDocuments(body.replace(/^\uFEFF/, ''))) {
    if (doc.errors.length > 0) continue;
    try {
      raw.push(doc.toJS({ maxAliasCount: 100 }));
    } catch {
      // the loader reports it
    }
  }
  return { text: body, raw: flattenLists(raw) };
}

function flattenLists(docs: unknown[]): unknown[] {
  return docs.flatMap((d) => (isRecord(d) && d.kind === 'List' && d.apiVersion === 'v1' && Array.isArray(d.items) ? d.items : [d]));
}

/** The kind/namespace/name a raw document names, if it names one. */
export function rawKey(doc: unknown): { kind: string; namespace: string; name: string } | undefined {
  if (!isRecord(doc) || typeof doc.kind !== 'string' || !doc.kind || !isRecord(doc.metadata)) return undefined;
  const { name, namespace } = doc.metadata;
  if (typeof name !== 'string' || !name) return undefined;
  return { kind: doc.kind, namespace: typeof namespace === 'string' && namespace ? namespace : 'default', name };
}

/** Raw documents by `kind/namespace/name`, so what is persisted is what the user sent. */
export function rawByKey(raw: unknown[]): Map<string, Record<string, unknown>> {
  const out = new Map<string, Record<string, unknown>>();
  for (const d of raw) {
    const k = rawKey(d);
    if (k && isRecord(d)) out.set(docKey(k.kind, k.namespace, k.name), d);
  }
  return out;
}

/** A document equivalent to a validated one, for when the raw one cannot be matched. */
export function documentOf(doc: TrackedDoc): Record<string, unknown> {
  if (doc.secret) {
    const s = doc.secret;
    return { apiVersion: 'v1', kind: 'Secret', metadata: s.metadata, type: s.type ?? 'Opaque', data: Object.fromEntries(Object.entries(s.data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])) };
  }
  const r = doc.resource!.resource;
  return { apiVersion: r.apiVersion, kind: r.kind, metadata: { name: r.metadata.name, namespace: r.metadata.namespace, ...(r.metadata.labels ? { labels: r.metadata.labels } : {}), ...(r.metadata.annotations ? { annotations: r.metadata.annotations } : {}) }, spec: r.spec };
}

/** Rejects a request when any document is invalid, naming each. */
export function rejectIfInvalid(errors: readonly ResourceValidationError[], what: string): void {
  if (errors.length === 0) return;
  const lines = errors.map((e) => e.message).join('\n');
  throw new ApplyRejectedError(`${errors.length} invalid document(s); nothing was ${what}:\n${lines}`, errors);
}

/** A document-level issue as a validation error (a delete document without kind or name). */
export function documentError(file: string, document: number, issues: ResourceIssue[]): ResourceValidationError {
  return new ResourceValidationError({ origin: { file, document }, issues });
}
