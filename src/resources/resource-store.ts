import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { ResourceOrigin } from '../errors.js';
import type {
  ApplyOutcome,
  LoadedResource,
  LoadResult,
  ObjectMeta,
  Resource,
  ResourceEvent,
  ResourceStatus,
  SecretEvent,
  SecretResource,
} from './types.js';

export interface ResourceStoreOptions {
  /** Called when a watch listener throws; the store and the other listeners carry on. Default: a process warning. */
  onListenerError?: (err: unknown) => void;
  /** Clock for creationTimestamp (tests). */
  now?: () => Date;
}

interface Entry {
  resource: Resource;
  origin: ResourceOrigin | undefined;
  status: ResourceStatus | undefined;
}

export interface ApplyAllSummary {
  created: string[];
  updated: string[];
  unchanged: string[];
  /** Keys removed by `prune` (resources and `Secret/<ns>/<name>`). */
  deleted: string[];
}

/** The metadata a user controls; uid, generation and creationTimestamp belong to the store. */
function userMeta(m: ObjectMeta): ObjectMeta {
  const out: ObjectMeta = { name: m.name, namespace: m.namespace };
  if (m.labels) out.labels = { ...m.labels };
  if (m.annotations) out.annotations = { ...m.annotations };
  return out;
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v) && !ArrayBuffer.isView(v)) {
    for (const child of Object.values(v)) deepFreeze(child);
    Object.freeze(v);
  }
  return v;
}

function cloneSecret(s: SecretResource, meta: ObjectMeta): SecretResource {
  // structuredClone would turn Buffers into plain Uint8Arrays.
  const data = Object.fromEntries(Object.entries(s.data).map(([k, v]) => [k, Buffer.from(v)]));
  return { apiVersion: 'v1', kind: 'Secret', metadata: meta, data, ...(s.type !== undefined ? { type: s.type } : {}) };
}

/**
 * The validated resources Sluice runs, keyed `kind/namespace/name`, with the status
 * reconcilers report and a watch for changes. Stored resources are frozen copies, so a
 * caller can never change the store's state behind its back.
 */
export class ResourceStore {
  #entries = new Map<string, Entry>();
  #secrets = new Map<string, SecretResource>();
  #listeners = new Set<(e: ResourceEvent) => void>();
  #secretListeners = new Set<(e: SecretEvent) => void>();
  #onListenerError: (err: unknown) => void;
  #now: () => Date;

  constructor(options: ResourceStoreOptions = {}) {
    this.#onListenerError =
      options.onListenerError ?? ((err) => process.emitWarning(`a resource watch listener failed: ${(err as Error)?.stack ?? String(err)}`));
    this.#now = options.now ?? (() => new Date());
  }

  static key(kind: string, namespace: string, name: string): string {
    return `${kind}/${namespace}/${name}`;
  }

  static keyOf(r: Pick<Resource<unknown>, 'kind' | 'metadata'>): string {
    return ResourceStore.key(r.kind, r.metadata.namespace, r.metadata.name);
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Adds or replaces a resource. `generation` goes up when the spec changes; uid and creationTimestamp are kept. */
  apply(loaded: LoadedResource): ApplyOutcome {
    const incoming = loaded.resource;
    const key = ResourceStore.keyOf(incoming);
    const prev = this.#entries.get(key);
    const meta = userMeta(incoming.metadata);
    if (prev) {
      const p = prev.resource;
      const specChanged = !isDeepStrictEqual(p.spec, incoming.spec);
      if (!specChanged && isDeepStrictEqual(userMeta(p.metadata), meta) && p.apiVersion === incoming.apiVersion) {
        prev.origin = loaded.origin ?? prev.origin;
        return 'unchanged';
      }
      const resource = deepFreeze<Resource>({
        apiVersion: incoming.apiVersion,
        kind: incoming.kind,
        metadata: { ...meta, uid: p.metadata.uid!, generation: (p.metadata.generation ?? 1) + (specChanged ? 1 : 0), creationTimestamp: p.metadata.creationTimestamp! },
        spec: structuredClone(incoming.spec),
      });
      this.#entries.set(key, { resource, origin: loaded.origin ?? prev.origin, status: prev.status });
      this.#emit({ type: 'updated', resource, ...(loaded.origin ? { origin: loaded.origin } : {}) });
      return 'updated';
    }
    const resource = deepFreeze<Resource>({
      apiVersion: incoming.apiVersion,
      kind: incoming.kind,
      metadata: { ...meta, uid: randomUUID(), generation: 1, creationTimestamp: this.#now().toISOString() },
      spec: structuredClone(incoming.spec),
    });
    this.#entries.set(key, { resource, origin: loaded.origin, status: undefined });
    this.#emit({ type: 'added', resource, ...(loaded.origin ? { origin: loaded.origin } : {}) });
    return 'created';
  }

  /** Removes a resource and its status; false when there was none. */
  delete(kind: string, namespace: string, name: string): boolean {
    const key = ResourceStore.key(kind, namespace, name);
    const entry = this.#entries.get(key);
    if (!entry) return false;
    this.#entries.delete(key);
    this.#emit({ type: 'deleted', resource: entry.resource, ...(entry.origin ? { origin: entry.origin } : {}) });
    return true;
  }

  get<Spec = Record<string, unknown>>(kind: string, namespace: string, name: string): Resource<Spec> | undefined {
    return this.#entries.get(ResourceStore.key(kind, namespace, name))?.resource as Resource<Spec> | undefined;
  }

  /** Where a stored resource was loaded from (file#document), if it came from a file. */
  originOf(key: string): ResourceOrigin | undefined {
    return this.#entries.get(key)?.origin;
  }

  /** Resources, optionally of one kind, in the order they were first added. */
  list<Spec = Record<string, unknown>>(kind?: string): Array<Resource<Spec>> {
    const out: Array<Resource<Spec>> = [];
    for (const e of this.#entries.values()) if (kind === undefined || e.resource.kind === kind) out.push(e.resource as Resource<Spec>);
    return out;
  }

  /** Records a reconciler's status for `kind/namespace/name`; ignored (false) when no such resource is stored. */
  setStatus(key: string, status: ResourceStatus): boolean {
    const entry = this.#entries.get(key);
    if (!entry) return false;
    entry.status = status;
    return true;
  }

  getStatus(key: string): ResourceStatus | undefined {
    return this.#entries.get(key)?.status;
  }

  applySecret(secret: SecretResource): ApplyOutcome {
    const key = `${secret.metadata.namespace}/${secret.metadata.name}`;
    const prev = this.#secrets.get(key);
    const meta = userMeta(secret.metadata);
    if (prev && isDeepStrictEqual(userMeta(prev.metadata), meta) && prev.type === secret.type && isDeepStrictEqual(prev.data, secret.data)) {
      return 'unchanged';
    }
    const stored = cloneSecret(secret, {
      ...meta,
      uid: prev?.metadata.uid ?? randomUUID(),
      generation: (prev?.metadata.generation ?? 0) + 1,
      creationTimestamp: prev?.metadata.creationTimestamp ?? this.#now().toISOString(),
    });
    this.#secrets.set(key, stored);
    this.#emitSecret({ type: prev ? 'updated' : 'added', secret: stored });
    return prev ? 'updated' : 'created';
  }

  getSecret(namespace: string, name: string): SecretResource | undefined {
    return this.#secrets.get(`${namespace}/${name}`);
  }

  listSecrets(): SecretResource[] {
    return [...this.#secrets.values()];
  }

  deleteSecret(namespace: string, name: string): boolean {
    const key = `${namespace}/${name}`;
    const prev = this.#secrets.get(key);
    if (!prev) return false;
    this.#secrets.delete(key);
    this.#emitSecret({ type: 'deleted', secret: prev });
    return true;
  }

  /**
   * Applies a whole load. With `prune`, resources and Secrets that are not in it are
   * deleted: what a reload of the config files needs.
   */
  applyAll(result: Pick<LoadResult, 'resources' | 'secrets'>, options: { prune?: boolean } = {}): ApplyAllSummary {
    const summary: ApplyAllSummary = { created: [], updated: [], unchanged: [], deleted: [] };
    const keep = new Set<string>();
    for (const loaded of result.resources) {
      const key = ResourceStore.keyOf(loaded.resource);
      keep.add(key);
      summary[this.apply(loaded)].push(key);
    }
    for (const s of result.secrets) {
      const key = ResourceStore.key('Secret', s.metadata.namespace, s.metadata.name);
      keep.add(key);
      summary[this.applySecret(s)].push(key);
    }
    if (options.prune) {
      for (const r of this.list()) {
        const key = ResourceStore.keyOf(r);
        if (!keep.has(key) && this.delete(r.kind, r.metadata.namespace, r.metadata.name)) summary.deleted.push(key);
      }
      for (const s of this.listSecrets()) {
        const key = ResourceStore.key('Secret', s.metadata.namespace, s.metadata.name);
        if (!keep.has(key) && this.deleteSecret(s.metadata.namespace, s.metadata.name)) summary.deleted.push(key);
      }
    }
    return summary;
  }

  /** Calls `listener` after every change of a resource (not of status); returns the unsubscribe function. */
  watch(listener: (event: ResourceEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  watchSecrets(listener: (event: SecretEvent) => void): () => void {
    this.#secretListeners.add(listener);
    return () => void this.#secretListeners.delete(listener);
  }

  #emit(event: ResourceEvent): void {
    for (const l of [...this.#listeners]) {
      try {
        l(event);
      } catch (err) {
        this.#onListenerError(err);
      }
    }
  }

  #emitSecret(event: SecretEvent): void {
    for (const l of [...this.#secretListeners]) {
      try {
        l(event);
      } catch (err) {
        this.#onListenerError(err);
      }
    }
  }
}
