import { createHash, randomUUID } from 'node:crypto';
import { ResourceVersionGoneError } from '../errors.js';
import { stableJson } from '../live-config/resource-digest.js';
import type { ResourceView } from '../runtime/runtime-view.js';
import type { KubeKind, KubeKinds, KubeObject, KubeObjectMeta } from './kube-kinds.js';

/** Metadata Sluice sets, never the user: dropped from what is written, added to what is read. */
export const SERVER_METADATA = ['uid', 'resourceVersion', 'generation', 'creationTimestamp', 'managedFields', 'selfLink', 'deletionTimestamp', 'deletionGracePeriodSeconds'] as const;

/** kubectl's client-side apply annotation: it holds the whole object as applied, Secret values included. */
export const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/** What the object store reads: the runtime's resources with their status, and the documents as written. */
export interface KubeStoreSource {
  listResources(): ResourceView[];
  /**
   * The document serving for a resource, as the user wrote it, or undefined. The store only
   * reads it; the same object until the resource is written again (so unchanged ones are cheap).
   */
  document(kind: string, namespace: string, name: string): Record<string, unknown> | undefined;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** One change, as kept in the history a watch replays from. */
export interface StoreEvent {
  type: WatchEventType;
  rv: number;
  kind: string;
  object: KubeObject;
  /** The object before a MODIFIED change: a watch with a selector turns a change across it into ADDED or DELETED. */
  previous?: KubeObject;
}

export interface KubeObjectStoreOptions {
  /** Changes kept for watches that resume from a resourceVersion; older ones get 410 Expired. */
  historySize?: number;
  /** How often status changes are looked for while a watch is open. */
  pollMs?: number;
}

interface Entry {
  object: KubeObject;
  /** The object without resourceVersion and transition times: what counts as a change. */
  fingerprint: string;
  specFingerprint: string;
  statusFingerprint: string;
  /** The stored document it was built from (the same object until the resource is written again). */
  doc?: Record<string, unknown>;
}

/**
 * The Kubernetes view of Sluice's resources: every resource as the user wrote it plus
 * `status` from the runtime, with `uid`, `creationTimestamp`, `generation` and a
 * `resourceVersion` that moves on every change of spec or status. Sluice's runtime has
 * no change feed, so the store diffs what it shows: on every read, after every write,
 * and every `pollMs` while a watch is open. Each change gets the next resourceVersion
 * and goes into a bounded history that watches resume from.
 */
export class KubeObjectStore {
  readonly #kinds: KubeKinds;
  readonly #source: KubeStoreSource;
  readonly #historySize: number;
  readonly #pollMs: number;
  #entries = new Map<string, Entry>();
  /** Starts at the clock so a restarted Sluice never reuses a version clients saw before. */
  #rv = Date.now();
  #history: StoreEvent[] = [];
  /** The oldest resourceVersion a watch can resume from. */
  #horizon = this.#rv;
  #watchers = new Set<(e: StoreEvent) => void>();
  #closers = new Set<() => void>();
  #timer: NodeJS.Timeout | undefined;
  /** Server metadata of resources whose documents carry none (from `-f` files): kept for the process's life. */
  #assigned = new Map<string, { uid: string; creationTimestamp: string }>();
  #generations = new Map<string, { spec: string; generation: number }>();

  constructor(kinds: KubeKinds, source: KubeStoreSource, options: KubeObjectStoreOptions = {}) {
    this.#kinds = kinds;
    this.#source = source;
    this.#historySize = options.historySize ?? 2000;
    this.#pollMs = options.pollMs ?? 250;
  }

  get resourceVersion(): string {
    return String(this.#rv);
  }

  /** Re-reads the runtime and records what changed. */
  refresh(): void {
    const seen = new Set<string>();
    for (const view of this.#source.listResources()) {
      const kind = this.#kinds.byKind(view.kind);
      if (!kind || view.spec === null) continue; // invalid documents have no object to show
      const key = storeKey(view.kind, view.metadata.namespace, view.metadata.name);
      seen.add(key);
      this.#observe(key, kind, view);
    }
    for (const [key, entry] of this.#entries) {
      if (seen.has(key)) continue;
      this.#entries.delete(key);
      this.#generations.delete(key);
      this.#assigned.delete(key);
      const object = withVersion(entry.object, ++this.#rv);
      this.#record({ type: 'DELETED', rv: this.#rv, kind: object.kind, object });
    }
  }

  /** Objects of a kind, in one namespace or all, as of now. */
  list(kind: string, namespace: string | undefined): KubeObject[] {
    this.refresh();
    const out: KubeObject[] = [];
    for (const e of this.#entries.values()) {
      if (e.object.kind === kind && (namespace === undefined || e.object.metadata.namespace === namespace)) out.push(e.object);
    }
    return out.sort((a, b) => (a.metadata.namespace + '/' + a.metadata.name).localeCompare(b.metadata.namespace + '/' + b.metadata.name));
  }

  get(kind: string, namespace: string, name: string, refresh = true): KubeObject | undefined {
    if (refresh) this.refresh();
    return this.#entries.get(storeKey(kind, namespace, name))?.object;
  }

  /** Server metadata a new write of this resource must carry, so it persists with the document. */
  identityFor(kind: string, namespace: string, name: string): { uid: string; creationTimestamp: string } {
    const current = this.#entries.get(storeKey(kind, namespace, name))?.object.metadata;
    if (current) return { uid: current.uid, creationTimestamp: current.creationTimestamp };
    return { uid: randomUUID(), creationTimestamp: kubeTime() };
  }

  /**
   * Calls `send` with every change after `fromRv` (history first), then live changes,
   * until the returned function is called. An `fromRv` older than the history: 410.
   */
  watch(fromRv: number | undefined, send: (e: StoreEvent) => void, onClose?: () => void): () => void {
    this.refresh();
    if (fromRv !== undefined) {
      if (fromRv < this.#horizon || fromRv > this.#rv) throw new ResourceVersionGoneError(`too old resource version: ${fromRv} (${this.#horizon})`);
      for (const e of this.#history) if (e.rv > fromRv) send(e);
    }
    this.#watchers.add(send);
    if (onClose) this.#closers.add(onClose);
    this.#timer ??= setInterval(() => this.refresh(), this.#pollMs).unref();
    return () => {
      this.#watchers.delete(send);
      if (onClose) this.#closers.delete(onClose);
      if (this.#watchers.size === 0 && this.#timer) {
        clearInterval(this.#timer);
        this.#timer = undefined;
      }
    };
  }

  /** Ends every watch (their streams close, so the admin server can stop). */
  close(): void {
    for (const c of [...this.#closers]) c();
    this.#closers.clear();
    this.#watchers.clear();
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #observe(key: string, kind: KubeKind, view: ResourceView): void {
    const before = this.#entries.get(key);
    const stored = this.#source.document(view.kind, view.metadata.namespace, view.metadata.name);
    // The common case, polled every pollMs while a watch is open: the same stored document
    // and a status of the same content. Only the status is compared then.
    const statusFingerprint = stableJson(withoutVolatileStatus(view.status));
    if (before && stored && before.doc === stored && before.statusFingerprint === statusFingerprint) return;
    const doc = stored ?? fallbackDocument(view, kind);
    const meta = (doc.metadata ?? {}) as Record<string, unknown>;
    const identity = this.#identity(key, meta, before, view.status);
    const content = kind.topLevel ? redactSecret(doc) : { ...pick(doc, 'spec'), status: view.status ?? {} };
    const specFingerprint = stableJson(kind.topLevel ? content : { spec: content.spec, labels: meta.labels, annotations: meta.annotations });
    const generation = this.#generation(key, specFingerprint, meta);
    const metadata: KubeObjectMeta = {
      ...userMetadata(meta),
      name: view.metadata.name,
      namespace: view.metadata.namespace,
      uid: identity.uid,
      resourceVersion: '',
      generation,
      creationTimestamp: identity.creationTimestamp,
      ...(Array.isArray(meta.managedFields) ? { managedFields: meta.managedFields } : {}),
    };
    if (view.kind === 'Secret' && metadata.annotations?.[LAST_APPLIED] !== undefined) {
      metadata.annotations = { ...metadata.annotations, [LAST_APPLIED]: redactedLastApplied(metadata.annotations[LAST_APPLIED]) };
    }
    const object: KubeObject = { apiVersion: String(doc.apiVersion ?? view.apiVersion), kind: view.kind, metadata, ...content };
    const fingerprint = stableJson(withoutVolatile(object));
    if (before && before.fingerprint === fingerprint) {
      this.#entries.set(key, { ...before, statusFingerprint, ...(stored ? { doc: stored } : {}) });
      return;
    }
    const versioned = withVersion(object, ++this.#rv);
    this.#entries.set(key, { object: versioned, fingerprint, specFingerprint, statusFingerprint, ...(stored ? { doc: stored } : {}) });
    this.#record(before ? { type: 'MODIFIED', rv: this.#rv, kind: view.kind, object: versioned, previous: before.object } : { type: 'ADDED', rv: this.#rv, kind: view.kind, object: versioned });
  }

  #identity(key: string, meta: Record<string, unknown>, before: Entry | undefined, status: unknown): { uid: string; creationTimestamp: string } {
    if (typeof meta.uid === 'string' && typeof meta.creationTimestamp === 'string') return { uid: meta.uid, creationTimestamp: meta.creationTimestamp };
    if (before) return { uid: before.object.metadata.uid, creationTimestamp: before.object.metadata.creationTimestamp };
    let a = this.#assigned.get(key);
    if (!a) {
      // Stable for the same document across restarts of a file-configured Sluice.
      // Seen for the first time maybe long after it was loaded: its first condition tells when Sluice took it up.
      a = { uid: uuidFrom(`${key}`), creationTimestamp: firstTransition(status) ?? kubeTime() };
      this.#assigned.set(key, a);
    }
    return a;
  }

  /** 1 on creation, +1 on every change of spec, labels or annotations (as Kubernetes counts for custom resources). */
  #generation(key: string, specFingerprint: string, meta: Record<string, unknown>): number {
    const stored = typeof meta.generation === 'number' ? meta.generation : undefined;
    const g = this.#generations.get(key);
    let generation: number;
    if (!g) generation = stored ?? 1;
    else if (g.spec === specFingerprint) generation = g.generation;
    else generation = Math.max(g.generation + 1, stored ?? 0);
    this.#generations.set(key, { spec: specFingerprint, generation });
    return generation;
  }

  #record(e: StoreEvent): void {
    this.#history.push(e);
    if (this.#history.length > this.#historySize) {
      const dropped = this.#history.splice(0, this.#history.length - this.#historySize);
      this.#horizon = dropped[dropped.length - 1]!.rv;
    }
    for (const w of this.#watchers) w(e);
  }
}

export function storeKey(kind: string, namespace: string, name: string): string {
  return `${kind}/${namespace}/${name}`;
}

function withVersion(o: KubeObject, rv: number): KubeObject {
  return { ...o, metadata: { ...o.metadata, resourceVersion: String(rv) } };
}

/** A Kubernetes timestamp: RFC 3339 with second precision. */
export function kubeTime(at: Date = new Date()): string {
  return at.toISOString().replace(/\.\d+Z$/, 'Z');
}

function firstTransition(status: unknown): string | undefined {
  const conditions = (status as { conditions?: Array<{ lastTransitionTime?: unknown }> } | undefined)?.conditions ?? [];
  const times = conditions.map((c) => (typeof c.lastTransitionTime === 'string' ? Date.parse(c.lastTransitionTime) : NaN)).filter((t) => Number.isFinite(t) && t <= Date.now());
  return times.length ? kubeTime(new Date(Math.min(...times))) : undefined;
}

function uuidFrom(seed: string): string {
  const h = createHash('sha256').update(seed).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function pick(o: Record<string, unknown>, key: string): Record<string, unknown> {
  return o[key] === undefined ? {} : { [key]: o[key] };
}

/** Labels, annotations and any other user metadata, without the server's fields. */
function userMetadata(meta: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(meta)) if (!(SERVER_METADATA as readonly string[]).includes(k) && k !== 'name' && k !== 'namespace') out[k] = v;
  return out;
}

/** A status' transition times move on every recompute; they are not a change of their own. */
function withoutVolatile(o: KubeObject): unknown {
  return o.status === undefined ? o : { ...o, status: withoutVolatileStatus(o.status) };
}

function withoutVolatileStatus(status: unknown): unknown {
  const s = status as { conditions?: Array<Record<string, unknown>> } | undefined;
  if (!s?.conditions) return status;
  return { ...s, conditions: s.conditions.map(({ lastTransitionTime: _t, ...c }) => c) };
}

/** A v1 Secret as the API shows it: the key names, never the values (as the admin API does). */
function redactSecret(doc: Record<string, unknown>): Record<string, unknown> {
  const { apiVersion: _a, kind, metadata: _m, ...rest } = doc;
  if (kind !== 'Secret') return rest;
  const keys = [...Object.keys((rest.data as object | undefined) ?? {}), ...Object.keys((rest.stringData as object | undefined) ?? {})];
  const { stringData: _s, ...out } = rest;
  return { ...out, type: out.type ?? 'Opaque', data: Object.fromEntries(keys.map((k) => [k, ''])) };
}

/**
 * kubectl keeps the whole applied Secret, values included, in this annotation; it is shown
 * with the values blanked, like `data`. kubectl's three-way merge still sees which keys
 * were applied (so a key removed from the file is removed); each apply re-sends the values.
 */
function redactedLastApplied(annotation: string): string {
  let applied: unknown;
  try {
    applied = JSON.parse(annotation);
  } catch {
    return '';
  }
  if (applied === null || typeof applied !== 'object' || Array.isArray(applied)) return '';
  const out: Record<string, unknown> = { ...(applied as Record<string, unknown>) };
  for (const f of ['data', 'stringData']) {
    const v = out[f];
    if (v !== null && typeof v === 'object') out[f] = Object.fromEntries(Object.keys(v).map((k) => [k, '']));
  }
  return JSON.stringify(out);
}

function fallbackDocument(view: ResourceView, kind: KubeKind): Record<string, unknown> {
  if (kind.topLevel) return { apiVersion: view.apiVersion, kind: view.kind, metadata: view.metadata, ...(view.spec as Record<string, unknown>) };
  return { apiVersion: view.apiVersion, kind: view.kind, metadata: view.metadata, spec: view.spec };
}
