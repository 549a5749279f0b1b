import { randomBytes } from 'node:crypto';
import { ConflictError, InvalidOptionError, InvalidPatchError, NotFoundError } from '../errors.js';
import { stableJson } from '../live-config/resource-digest.js';
import type { KubeKind, KubeObject } from './kube-kinds.js';
import { kubeTime, SERVER_METADATA, type KubeObjectStore } from './object-store.js';
import { applyPatch, fieldSetOf, parseApplyBody, patchContentType, serverSideApply, type FieldsV1 } from './patch.js';
import { applyConflicts, leafPaths, withoutFields } from './field-ownership.js';

/** The one write path Sluice has (live configuration): the Kubernetes API only translates to it. */
export interface KubeWriteTarget {
  /** Validates and applies one document (all-or-nothing), saved under `--data-dir` like any admin apply. */
  apply(doc: Record<string, unknown>): Promise<void>;
  /** Validates one document as apply() would, changing nothing (dry run). */
  validate(doc: Record<string, unknown>): Promise<void>;
  /** Deletes one resource; false when there is none. */
  delete(kind: string, namespace: string, name: string): Promise<boolean>;
  /** The document serving for a resource as written (real Secret values included). */
  document(kind: string, namespace: string, name: string): Record<string, unknown> | undefined;
}

/** Where a write goes: kind, version and namespace from the URL; name for item requests. */
export interface WriteTarget {
  kind: KubeKind;
  version: string;
  namespace: string;
  name?: string;
  /** `dryRun=All`: validate and answer with the object as it would be, change nothing. */
  dryRun?: boolean;
}

interface ManagedFieldsEntry {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  time: string;
  fieldsType: 'FieldsV1';
  fieldsV1: FieldsV1;
}

/**
 * Create, update, patch and delete as the Kubernetes API defines them, carried out as
 * applies of whole documents through live configuration, so the admin API, `sluice
 * apply`, `-f` files and kubectl share one store, one validation and one persistence.
 * The server metadata (uid, creationTimestamp, generation, managedFields) is written
 * into the stored document so it survives a restart; resourceVersion is the store's.
 */
export class KubeWrites {
  readonly #store: KubeObjectStore;
  readonly #target: KubeWriteTarget;

  /** Writes one at a time: a check (exists? current resourceVersion?) and its write must not interleave with another's. */
  #chain: Promise<unknown> = Promise.resolve();

  constructor(store: KubeObjectStore, target: KubeWriteTarget) {
    this.#store = store;
    this.#target = target;
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(fn);
    this.#chain = run.catch(() => {});
    return run;
  }

  create(t: WriteTarget, body: unknown): Promise<KubeObject> {
    return this.#serial(() => this.#create(t, body));
  }

  update(t: WriteTarget, body: unknown): Promise<KubeObject> {
    return this.#serial(() => this.#update(t, body));
  }

  patch(t: WriteTarget, body: string, contentType: string | undefined, query: { fieldManager?: string; force?: string }): Promise<{ object: KubeObject; created: boolean }> {
    return this.#serial(() => this.#patch(t, body, contentType, query));
  }

  delete(t: WriteTarget, options: { preconditions?: { uid?: string; resourceVersion?: string } }): Promise<KubeObject> {
    return this.#serial(() => this.#delete(t, options));
  }

  async #create(t: WriteTarget, body: unknown): Promise<KubeObject> {
    const obj = this.#checked(t, body, 'create');
    const meta = obj.metadata as Record<string, unknown>;
    if (typeof meta.name !== 'string' || meta.name === '') {
      if (typeof meta.generateName !== 'string' || meta.generateName === '') throw new InvalidOptionError('metadata.name or metadata.generateName is required');
      meta.name = `${meta.generateName}${randomSuffix()}`;
    }
    delete meta.generateName;
    const name = meta.name as string;
    if (this.#store.get(t.kind.kind, t.namespace, name)) {
      throw new ConflictError(`${qualified(t.kind)} "${name}" already exists`, { kubeReason: 'AlreadyExists' });
    }
    const doc = forWrite(obj, t);
    Object.assign(doc.metadata as object, this.#store.identityFor(t.kind.kind, t.namespace, name), { generation: 1 });
    return this.#write(t, name, doc);
  }

  async #update(t: WriteTarget, body: unknown): Promise<KubeObject> {
    const obj = this.#checked(t, body, 'update');
    const current = this.#existing(t);
    const rv = (obj.metadata as Record<string, unknown>).resourceVersion;
    if (rv !== undefined && rv !== '' && rv !== current.metadata.resourceVersion) throw conflict(t);
    return this.#replace(t, current, obj);
  }

  async #patch(t: WriteTarget, body: string, contentType: string | undefined, query: { fieldManager?: string; force?: string }): Promise<{ object: KubeObject; created: boolean }> {
    const type = patchContentType(contentType);
    if (!type) throw new InvalidPatchError(`PATCH takes application/merge-patch+json, application/json-patch+json, application/strategic-merge-patch+json or application/apply-patch+yaml, not ${contentType ?? 'no Content-Type'}`);
    if (type === 'application/apply-patch+yaml') return this.#serverSideApply(t, body, query.fieldManager, query.force === 'true');
    const current = this.#existing(t);
    const patched = applyPatch(this.#patchBase(t, current), body, type);
    const rv = (patched.metadata as Record<string, unknown> | undefined)?.resourceVersion;
    if (rv !== undefined && rv !== current.metadata.resourceVersion) throw conflict(t);
    return { object: await this.#replace(t, current, this.#checked(t, patched, 'patch')), created: false };
  }

  async #delete(t: WriteTarget, options: { preconditions?: { uid?: string; resourceVersion?: string } }): Promise<KubeObject> {
    const current = this.#existing(t);
    const p = options.preconditions;
    if (p?.uid && p.uid !== current.metadata.uid) throw new ConflictError(`Precondition failed: UID in precondition: ${p.uid}, UID in object meta: ${current.metadata.uid}`);
    if (p?.resourceVersion && p.resourceVersion !== current.metadata.resourceVersion) throw conflict(t);
    if (t.dryRun) return current;
    if (!(await this.#target.delete(t.kind.kind, t.namespace, t.name!))) throw notFound(t);
    this.#store.refresh();
    return current;
  }

  async #serverSideApply(t: WriteTarget, body: string, manager: string | undefined, force: boolean): Promise<{ object: KubeObject; created: boolean }> {
    if (!manager) throw new InvalidOptionError('PATCH with application/apply-patch+yaml requires the fieldManager parameter');
    const applied = this.#checked(t, parseApplyBody(body), 'apply');
    const current = this.#store.get(t.kind.kind, t.namespace, t.name!);
    const entries = (current?.metadata.managedFields as ManagedFieldsEntry[] | undefined) ?? [];
    const mine = (e: ManagedFieldsEntry) => e.manager === manager && e.operation === 'Apply';
    const previous = entries.find(mine)?.fieldsV1;
    const base = current ? this.#patchBase(t, current) : undefined;
    const appliedFields = fieldSetOf(applied);
    let others = entries.filter((e) => !mine(e));
    const conflicts = base ? applyConflicts(base, applied, appliedFields, others) : [];
    if (conflicts.length > 0) {
      if (!force) {
        const list = conflicts.map((c) => `conflict with "${c.manager}" using ${apiVersionOf(t)}: ${c.field}`).join('\n');
        throw new ConflictError(`Apply failed with ${conflicts.length} conflict${conflicts.length > 1 ? 's' : ''}: ${list}`, { fieldConflicts: conflicts });
      }
      // Forced: the fields change hands.
      const taken = conflicts.map((c) => c.field.slice(1).split('.'));
      others = others.map((e) => ({ ...e, fieldsV1: withoutFields(e.fieldsV1, taken) })).filter((e) => leafPaths(e.fieldsV1).length > 0);
    }
    // A field this manager stops applying stays while another manager's apply still owns it.
    const stillOwned = others.filter((e) => e.operation === 'Apply').flatMap((e) => leafPaths(e.fieldsV1));
    const merged = serverSideApply(base, applied, previous && withoutFields(previous, stillOwned));
    const own: ManagedFieldsEntry = { manager, operation: 'Apply', apiVersion: apiVersionOf(t), time: kubeTime(), fieldsType: 'FieldsV1', fieldsV1: appliedFields };
    (merged.metadata as Record<string, unknown>).managedFields = [...others, own];
    if (!current) {
      const doc = forWrite(merged, t);
      Object.assign(doc.metadata as object, this.#store.identityFor(t.kind.kind, t.namespace, t.name!), { generation: 1 });
      return { object: await this.#write(t, t.name!, doc), created: true };
    }
    return { object: await this.#replace(t, current, merged), created: false };
  }

  /** The object a patch applies to: the document as written (real Secret values), the server's metadata, and status. */
  #patchBase(t: WriteTarget, current: KubeObject): Record<string, unknown> {
    const doc = this.#target.document(t.kind.kind, t.namespace, t.name!) ?? current;
    const meta = (doc.metadata ?? {}) as Record<string, unknown>;
    return { ...doc, apiVersion: apiVersionOf(t), metadata: { ...meta, ...current.metadata }, ...(current.status !== undefined ? { status: current.status } : {}) };
  }

  async #replace(t: WriteTarget, current: KubeObject, obj: Record<string, unknown>): Promise<KubeObject> {
    const doc = forWrite(obj, t);
    const meta = doc.metadata as Record<string, unknown>;
    const before = forWrite(this.#patchBase(t, current), t);
    const changed = stableJson(content(before)) !== stableJson(content(doc));
    meta.uid = current.metadata.uid;
    meta.creationTimestamp = current.metadata.creationTimestamp;
    meta.generation = changed ? current.metadata.generation + 1 : current.metadata.generation;
    if (current.metadata.managedFields !== undefined && meta.managedFields === undefined) meta.managedFields = current.metadata.managedFields;
    return this.#write(t, t.name!, doc);
  }

  async #write(t: WriteTarget, name: string, doc: Record<string, unknown>): Promise<KubeObject> {
    if (t.dryRun) {
      await this.#target.validate(doc);
      return this.#wouldBe(t, name, doc);
    }
    await this.#target.apply(doc);
    const written = this.#store.get(t.kind.kind, t.namespace, name);
    if (!written) throw new NotFoundError(`${qualified(t.kind)} "${name}" was applied but is not served (see its status with kubectl describe)`);
    return written;
  }

  /** What a dry run answers: the written document with the server's metadata and the current status. */
  #wouldBe(t: WriteTarget, name: string, doc: Record<string, unknown>): KubeObject {
    const current = this.#store.get(t.kind.kind, t.namespace, name, false);
    const meta = doc.metadata as Record<string, unknown>;
    const object = { ...doc, metadata: { ...meta, name, namespace: t.namespace, resourceVersion: current?.metadata.resourceVersion ?? '' } } as KubeObject;
    if (t.kind.kind === 'Secret') object.data = Object.fromEntries([...Object.keys((doc.data as object | undefined) ?? {}), ...Object.keys((doc.stringData as object | undefined) ?? {})].map((k) => [k, '']));
    delete object.stringData;
    if (!t.kind.topLevel && current?.status !== undefined) object.status = current.status;
    return object;
  }

  #existing(t: WriteTarget): KubeObject {
    const current = this.#store.get(t.kind.kind, t.namespace, t.name!);
    if (!current) throw notFound(t);
    return current;
  }

  /** The body names this kind, this namespace and (for item requests) this name; anything else is refused, as Kubernetes does. */
  #checked(t: WriteTarget, body: unknown, verb: string): Record<string, unknown> {
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new InvalidOptionError(`the ${verb} body must be a ${t.kind.kind} object`);
    const obj = structuredClone(body) as Record<string, unknown>;
    if (obj.kind !== undefined && obj.kind !== t.kind.kind) throw new InvalidOptionError(`the body's kind ${JSON.stringify(obj.kind)} does not match the URL's ${t.kind.kind}`);
    if (obj.apiVersion !== undefined && obj.apiVersion !== apiVersionOf(t)) throw new InvalidOptionError(`the body's apiVersion ${JSON.stringify(obj.apiVersion)} does not match the URL's ${apiVersionOf(t)}`);
    const meta = (obj.metadata ?? {}) as Record<string, unknown>;
    if (typeof meta !== 'object' || Array.isArray(meta)) throw new InvalidOptionError('metadata must be an object');
    if (meta.namespace !== undefined && meta.namespace !== t.namespace) throw new InvalidOptionError('the namespace of the provided object does not match the namespace sent on the request');
    if (t.name !== undefined && meta.name !== undefined && meta.name !== t.name) throw new InvalidOptionError(`the name of the object (${String(meta.name)}) does not match the name on the URL (${t.name})`);
    if (t.name !== undefined && meta.name === undefined) meta.name = t.name;
    obj.metadata = { ...meta, namespace: t.namespace };
    obj.kind = t.kind.kind;
    obj.apiVersion = apiVersionOf(t);
    return obj;
  }
}

/** What is stored: no status (Sluice's controllers set it), no server metadata but what persists on purpose. */
function forWrite(obj: Record<string, unknown>, t: WriteTarget): Record<string, unknown> {
  const { status: _status, ...rest } = obj;
  const meta = { ...((rest.metadata ?? {}) as Record<string, unknown>) };
  const managedFields = meta.managedFields;
  for (const f of SERVER_METADATA) delete meta[f];
  if (managedFields !== undefined) meta.managedFields = managedFields;
  return { ...rest, apiVersion: apiVersionOf(t), kind: t.kind.kind, metadata: meta };
}

/** What counts for `generation`: everything but metadata's server fields (as Kubernetes counts for custom resources without a status subresource policy). */
function content(doc: Record<string, unknown>): unknown {
  const { metadata, apiVersion: _a, ...rest } = doc;
  const m = (metadata ?? {}) as Record<string, unknown>;
  return { ...rest, labels: m.labels ?? {}, annotations: m.annotations ?? {} };
}

export function apiVersionOf(t: { kind: KubeKind; version: string }): string {
  return t.kind.group ? `${t.kind.group}/${t.version}` : t.version;
}

export function qualified(kind: KubeKind): string {
  return kind.group ? `${kind.plural}.${kind.group}` : kind.plural;
}

function notFound(t: WriteTarget): NotFoundError {
  return new NotFoundError(`${qualified(t.kind)} "${t.name}" not found`);
}

function conflict(t: WriteTarget): ConflictError {
  return new ConflictError(`Operation cannot be fulfilled on ${qualified(t.kind)} "${t.name}": the object has been modified; please apply your changes to the latest version and try again`);
}

/** Kubernetes' generateName suffix: 5 characters from an alphabet without vowels or look-alikes. */
function randomSuffix(): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  return [...randomBytes(5)].map((b) => alphabet[b % alphabet.length]).join('');
}
