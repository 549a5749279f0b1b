import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Logger } from 'pino';
import { ApplyRejectedError, SluiceError, type ResourceValidationError } from '../errors.js';
import { loadResources, parseResourcesText, type ResourceKindRegistry } from '../resources/index.js';
import type { ChannelTemplate, LoadedResource, LoadResult, SecretResource } from '../resources/types.js';
import type { ResourceView } from '../runtime/runtime-view.js';
import { AdminStateFile, type AppliedEntry, type DeletedEntry } from './admin-state-file.js';
import {
  bodyDocuments,
  docKey,
  documentError,
  documentOf,
  errorKey,
  rawByKey,
  rawKey,
  rejectIfInvalid,
  trackedDocs,
  type TrackedDoc,
} from './documents.js';
import { FileWatcher } from './file-watcher.js';
import { resolveKindName } from './kind-names.js';
import { resourceDigest } from './resource-digest.js';

/** What live configuration needs from the runtime (kept narrow; the runtime implements it). */
export interface LiveRuntime {
  apply(items: readonly LoadedResource[], secrets?: readonly SecretResource[]): Promise<void>;
  delete(kind: string, namespace: string, name: string): Promise<boolean>;
  /** Several deletes with one reconcile pass (else one delete, and one pass, per item). */
  deleteMany?(items: ReadonlyArray<{ kind: string; namespace: string; name: string }>): Promise<number>;
  listResources(): ResourceView[];
  getSecret(namespace: string, name: string): SecretResource | undefined;
  recordInvalid(errors: readonly ResourceValidationError[]): void;
}

export interface LiveConfigOptions {
  runtime: LiveRuntime;
  registry: ResourceKindRegistry;
  defaultChannelTemplate?: ChannelTemplate;
  /** Where admin changes are kept across restarts; without it they live in memory only. */
  dataDir?: string;
  logger: Logger;
  /** Quiet time after a change to a watched `-f` file before it is re-read. */
  watchDebounceMs?: number;
}

export type ApplyResult = 'created' | 'configured' | 'unchanged';

export interface AppliedItem {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  result: ApplyResult;
}

export interface DeletedItem {
  kind: string;
  namespace: string;
  name: string;
  result: 'deleted' | 'notfound';
}

interface AppliedState {
  entry: AppliedEntry;
  /** Undefined when the saved document no longer validates (it is kept, not served). */
  doc?: TrackedDoc;
}

/**
 * Live configuration: the resources Sluice serves are the `-f` files plus what the admin
 * API applied or deleted, kept under `--data-dir`. For one kind/namespace/name the later
 * word wins: an admin change wins over the file document it replaced, until that file
 * document is edited (then the file wins again). Each change is applied to the runtime as
 * a diff, so unchanged resources (and the events they hold) are left alone. Every change
 * is serialised; an admin change is saved before it is applied, so what answered 200 is
 * what a restart brings back.
 */
export class LiveConfig {
  readonly #o: LiveConfigOptions;
  readonly #log: Logger;
  readonly #state: AdminStateFile | undefined;
  #files = new Map<string, TrackedDoc>();
  #applied = new Map<string, AppliedState>();
  #deleted = new Map<string, DeletedEntry>();
  /** What this object last handed to the runtime. */
  #effective = new Map<string, TrackedDoc>();
  /** Keys of invalid file documents reported to the runtime (shown as InvalidSpec). */
  #invalidShown = new Set<string>();
  #paths: string[] = [];
  #watcher: FileWatcher | undefined;
  #chain: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(options: LiveConfigOptions) {
    this.#o = options;
    this.#log = options.logger.child({ component: 'live-config' });
    this.#state = options.dataDir ? new AdminStateFile(options.dataDir) : undefined;
  }

  /** The admin state file, when a data dir is set. */
  get statePath(): string | undefined {
    return this.#state?.path;
  }

  /**
   * Loads the saved admin changes, merges them with the `-f` files (`initial`, when the
   * caller already loaded them to report errors), applies the result and starts watching.
   */
  start(options: { paths: readonly string[]; initial?: LoadResult; watch?: boolean }): Promise<void> {
    return this.#serial(async () => {
      this.#paths = [...options.paths];
      await this.#loadState();
      const loaded = options.initial ?? (this.#paths.length ? await loadResources(this.#paths, this.#loadOptions()) : emptyLoad());
      this.#files = trackedDocs(loaded);
      const changed = this.#reconcileSources(new Set());
      if (changed) await this.#save();
      await this.#sync();
      await this.#noteInvalid(loaded.errors);
      if (options.watch && this.#paths.length && !this.#closed) {
        this.#watcher = new FileWatcher(this.#paths, {
          debounceMs: this.#o.watchDebounceMs ?? 250,
          onChange: () => this.reloadFiles(),
          onError: (err) => this.#log.error({ err }, 're-reading the -f files failed'),
        });
        await this.#watcher.start();
      }
    });
  }

  /**
   * Applies a YAML or JSON body: every document, or none when any is invalid. A body of
   * thousands of documents takes a while to parse: the event loop gets a turn between the
   * steps, so ingress keeps answering meanwhile.
   */
  async applyBody(body: string, contentType: string | undefined, source = 'request'): Promise<AppliedItem[]> {
    const docs = bodyDocuments(body, contentType);
    await nextTurn();
    const loaded = parseResourcesText(docs.text, source, this.#loadOptions());
    rejectIfInvalid(loaded.errors, 'applied');
    await nextTurn();
    const tracked = trackedDocs(loaded);
    if (tracked.size === 0) throw new ApplyRejectedError('the request has no resource documents; send YAML or JSON resources (apiVersion, kind, metadata)', []);
    const raw = rawByKey(docs.raw);
    return this.#serial(async () => {
      const before = this.#runtimeDigests();
      const snapshot = this.#snapshot();
      const now = new Date().toISOString();
      const items: AppliedItem[] = [];
      for (const doc of tracked.values()) {
        const document = raw.get(doc.key) ?? documentOf(doc);
        this.#applied.set(doc.key, {
          entry: { kind: doc.kind, namespace: doc.namespace, name: doc.name, document, overrides: this.#files.get(doc.key)?.digest ?? null, appliedAt: now },
          doc,
        });
        this.#deleted.delete(doc.key);
        const prev = before.get(doc.key);
        items.push({
          apiVersion: doc.resource?.resource.apiVersion ?? 'v1',
          kind: doc.kind,
          namespace: doc.namespace,
          name: doc.name,
          result: prev === undefined ? 'created' : prev === doc.digest ? 'unchanged' : 'configured',
        });
      }
      this.#reconcileSources(new Set());
      await this.#saveOrRestore(snapshot);
      // A resource the runtime got from elsewhere (not this object) is re-applied as sent.
      await this.#sync(new Set([...tracked.keys()].filter((k) => before.get(k) !== tracked.get(k)!.digest)));
      return items;
    });
  }

  /** What applyBody() would refuse, without applying anything (a dry run): throws ApplyRejectedError. */
  validateBody(body: string, contentType: string | undefined, source = 'request'): void {
    const docs = bodyDocuments(body, contentType);
    rejectIfInvalid(parseResourcesText(docs.text, source, this.#loadOptions()).errors, 'applied (dry run)');
  }

  /** Deletes one resource; false when there is no such resource. */
  async deleteOne(kindInput: string, namespace: string, name: string): Promise<boolean> {
    const kind = resolveKindName(this.#o.registry, kindInput) ?? kindInput;
    const [item] = await this.#delete([{ kind, namespace, name }]);
    return item!.result === 'deleted';
  }

  /** Deletes what the documents of a YAML or JSON body name (they need kind and metadata.name only). */
  deleteBody(body: string, contentType: string | undefined, source = 'request'): Promise<DeletedItem[]> {
    const docs = bodyDocuments(body, contentType);
    const errors: ResourceValidationError[] = [];
    const targets: Array<{ kind: string; namespace: string; name: string }> = [];
    docs.raw.forEach((d, i) => {
      if (d === null || d === undefined) return;
      const k = rawKey(d);
      if (!k) errors.push(documentError(source, i + 1, [{ path: '', message: 'a document to delete needs kind and metadata.name' }]));
      else targets.push({ ...k, kind: resolveKindName(this.#o.registry, k.kind) ?? k.kind });
    });
    rejectIfInvalid(errors, 'deleted');
    if (targets.length === 0) throw new ApplyRejectedError('the request names no resources to delete; send YAML or JSON documents with kind and metadata.name', []);
    return this.#delete(targets);
  }

  /** Re-reads the `-f` files and applies what changed; invalid edits keep the previous version serving. */
  reloadFiles(): Promise<void> {
    return this.#serial(async () => {
      if (this.#closed) return;
      let loaded: LoadResult;
      try {
        loaded = await loadResources(this.#paths, this.#loadOptions());
      } catch (err) {
        const msg = err instanceof SluiceError ? err.message : String(err);
        this.#log.error(`${msg}; keeping the running configuration`);
        return;
      }
      for (const e of loaded.errors) this.#log.error(`${e.message} (invalid edit ignored: the previous version keeps serving)`);
      const next = trackedDocs(loaded);
      const uncertainFiles = new Set<string>();
      const uncertainKeys = new Set<string>();
      for (const e of loaded.errors) {
        const k = errorKey(e);
        if (k) uncertainKeys.add(k);
        else if (e.origin) uncertainFiles.add(e.origin.file);
      }
      // A document that no longer parses may still be in its file: keep what served.
      for (const [k, old] of this.#files) {
        if (next.has(k)) continue;
        const fileUnsure = old.file ? uncertainFiles.has(old.file) : uncertainFiles.size > 0;
        if (uncertainKeys.has(k) || fileUnsure) next.set(k, old);
      }
      const removed = new Set([...this.#files.keys()].filter((k) => !next.has(k)));
      this.#files = next;
      const changed = this.#reconcileSources(removed);
      if (changed) await this.#save().catch((err) => this.#log.error({ err }, 'saving admin state failed'));
      const summary = await this.#sync();
      await this.#noteInvalid(loaded.errors);
      if (summary.applied || summary.deleted) this.#log.info(summary, 'configuration files changed: applied the difference');
    });
  }

  /**
   * The document serving for a resource as it was written (a copy, unless asked not to): the admin-applied one,
   * else the `-f` file's. Undefined when nothing serves under that kind, namespace and name.
   */
  document(kindInput: string, namespace: string, name: string, options: { copy?: boolean } = {}): Record<string, unknown> | undefined {
    // A kind name as the runtime spells it is the common case (and resolving aliases is not cheap).
    let key = docKey(kindInput, namespace, name);
    if (!this.#effective.has(key)) key = docKey(resolveKindName(this.#o.registry, kindInput) ?? kindInput, namespace, name);
    const serving = this.#effective.get(key);
    if (!serving) return undefined;
    const applied = this.#applied.get(key);
    const doc = applied?.doc === serving ? applied.entry.document : (serving.resource?.raw ?? documentOf(serving));
    // Without a copy the caller must not change it: the Kubernetes view compares it by identity.
    return options.copy === false ? doc : structuredClone(doc);
  }

  /** Stops watching files. */
  close(): void {
    this.#closed = true;
    this.#watcher?.close();
  }

  #loadOptions() {
    return { registry: this.#o.registry, ...(this.#o.defaultChannelTemplate ? { defaultChannelTemplate: this.#o.defaultChannelTemplate } : {}) };
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(fn);
    this.#chain = run.catch(() => {});
    return run;
  }

  async #delete(targets: Array<{ kind: string; namespace: string; name: string }>): Promise<DeletedItem[]> {
    return this.#serial(async () => {
      const present = this.#runtimeDigests();
      const snapshot = this.#snapshot();
      const now = new Date().toISOString();
      const items: DeletedItem[] = [];
      const unmanaged: typeof targets = [];
      for (const t of targets) {
        const key = docKey(t.kind, t.namespace, t.name);
        const exists = t.kind === 'Secret' ? this.#o.runtime.getSecret(t.namespace, t.name) !== undefined : present.has(key);
        if (!exists && !this.#effective.has(key)) {
          items.push({ ...t, result: 'notfound' });
          continue;
        }
        items.push({ ...t, result: 'deleted' });
        this.#applied.delete(key);
        const file = this.#files.get(key);
        if (file) this.#deleted.set(key, { ...t, overrides: file.digest, deletedAt: now });
        if (!this.#effective.has(key)) unmanaged.push(t);
      }
      this.#reconcileSources(new Set());
      await this.#saveOrRestore(snapshot);
      await this.#sync();
      await this.#deleteFromRuntime(unmanaged);
      return items;
    });
  }

  /**
   * Decides, per kind/namespace/name, whether the file or the admin change serves, and
   * drops admin entries a newer file edit replaced. `removed`: file documents seen
   * removed by an edit. Returns whether the saved state changed.
   */
  #reconcileSources(removed: ReadonlySet<string>): boolean {
    let changed = false;
    const drop = (map: Map<string, unknown>, key: string, why: string) => {
      map.delete(key);
      changed = true;
      this.#log.info({ resource: key }, why);
    };
    for (const [k, f] of this.#files) {
      const a = this.#applied.get(k);
      if (a && a.entry.overrides !== f.digest) drop(this.#applied, k, 'the -f file changed this resource after an admin apply: the file version serves');
      const d = this.#deleted.get(k);
      if (d && d.overrides !== f.digest) drop(this.#deleted, k, 'the -f file changed this resource after an admin delete: the file version serves');
    }
    for (const k of this.#applied.keys()) {
      if (removed.has(k)) drop(this.#applied, k, 'the -f file removed this resource after an admin apply: deleted');
    }
    for (const k of this.#deleted.keys()) {
      // The file no longer has the document, so there is nothing left to hide.
      if (!this.#files.has(k)) {
        this.#deleted.delete(k);
        changed = true;
      }
    }
    return changed;
  }

  /** What should serve now: file documents, replaced or hidden by admin changes. */
  #desired(): Map<string, TrackedDoc> {
    const out = new Map<string, TrackedDoc>();
    for (const [k, f] of this.#files) if (!this.#deleted.has(k)) out.set(k, f);
    for (const [k, a] of this.#applied) if (a.doc) out.set(k, a.doc);
    return out;
  }

  /** Applies the difference between what the runtime got last and what should serve now. */
  async #sync(force: ReadonlySet<string> = new Set()): Promise<{ applied: number; deleted: number }> {
    const desired = this.#desired();
    const resources: LoadedResource[] = [];
    const secrets: SecretResource[] = [];
    for (const [k, d] of desired) {
      if (this.#effective.get(k)?.digest === d.digest && !force.has(k)) continue;
      if (d.secret) secrets.push(d.secret);
      else if (d.resource) resources.push(d.resource);
    }
    const gone = [...this.#effective.values()].filter((d) => !desired.has(d.key));
    this.#effective = desired;
    if (resources.length || secrets.length) await this.#o.runtime.apply(resources, secrets);
    await this.#deleteFromRuntime(gone);
    return { applied: resources.length + secrets.length, deleted: gone.length };
  }

  /** One reconcile pass for the lot when the runtime can (a bulk delete must not be O(n²)). */
  async #deleteFromRuntime(items: ReadonlyArray<{ kind: string; namespace: string; name: string }>): Promise<void> {
    if (items.length === 0) return;
    const rt = this.#o.runtime;
    if (rt.deleteMany) {
      await rt.deleteMany(items.map(({ kind, namespace, name }) => ({ kind, namespace, name })));
      return;
    }
    for (const d of items) await rt.delete(d.kind, d.namespace, d.name);
  }

  /** Digests of what the runtime holds now (including resources applied around this object). */
  #runtimeDigests(): Map<string, string> {
    const out = new Map<string, string>();
    for (const v of this.#o.runtime.listResources()) {
      const key = docKey(v.kind, v.metadata.namespace, v.metadata.name);
      if (v.spec === null) {
        out.set(key, 'invalid');
        continue;
      }
      const meta = v.metadata as LoadedResource['resource']['metadata'];
      out.set(key, resourceDigest({ resource: { apiVersion: v.apiVersion, kind: v.kind, metadata: meta, spec: v.spec as Record<string, unknown> } }));
    }
    for (const d of this.#effective.values()) {
      if (d.kind !== 'Secret') continue;
      const s = this.#o.runtime.getSecret(d.namespace, d.name);
      if (s) out.set(d.key, resourceDigest(s));
    }
    return out;
  }

  #snapshot(): () => void {
    const applied = new Map(this.#applied);
    const deleted = new Map(this.#deleted);
    return () => {
      this.#applied = applied;
      this.#deleted = deleted;
    };
  }

  async #saveOrRestore(restore: () => void): Promise<void> {
    try {
      await this.#save();
    } catch (err) {
      restore();
      throw err;
    }
  }

  async #save(): Promise<void> {
    if (!this.#state) return;
    await this.#state.save({ applied: [...this.#applied.values()].map((a) => a.entry), deleted: [...this.#deleted.values()] });
  }

  async #loadState(): Promise<void> {
    if (!this.#state) return;
    const { state, warning } = await this.#state.load();
    if (warning) this.#log.error(warning);
    if (state.applied.length === 0 && state.deleted.length === 0) return;
    // One multi-document text, so each entry's errors carry its position in the file.
    const text = state.applied.map((e) => JSON.stringify(e.document)).join('\n---\n');
    const loaded = parseResourcesText(text, this.#state.path, this.#loadOptions());
    const valid = trackedDocs(loaded);
    for (const e of loaded.errors) this.#log.error(`${e.message} (an admin-applied document that no longer validates: it is kept but not served)`);
    for (const entry of state.applied) {
      const k = rawKey(entry.document);
      const key = docKey(entry.kind, entry.namespace, entry.name);
      const doc = k ? valid.get(docKey(resolveKindName(this.#o.registry, k.kind) ?? k.kind, k.namespace, k.name)) : undefined;
      this.#applied.set(key, { entry, ...(doc ? { doc } : {}) });
    }
    for (const d of state.deleted) this.#deleted.set(docKey(d.kind, d.namespace, d.name), d);
    this.#log.info({ applied: this.#applied.size, deleted: this.#deleted.size, file: this.#state.path }, 'loaded admin-applied changes');
  }

  /** Shows invalid file documents that have no serving version as not Ready (InvalidSpec). */
  async #noteInvalid(errors: readonly ResourceValidationError[]): Promise<void> {
    const now = new Set<string>();
    const show: ResourceValidationError[] = [];
    for (const e of errors) {
      const k = errorKey(e);
      if (!k || this.#effective.has(k)) continue;
      now.add(k);
      show.push(e);
    }
    if (show.length) this.#o.runtime.recordInvalid(show);
    for (const k of this.#invalidShown) {
      if (now.has(k) || this.#effective.has(k)) continue;
      const [kind = '', namespace = '', ...rest] = k.split('/');
      await this.#o.runtime.delete(kind, namespace, rest.join('/'));
    }
    this.#invalidShown = now;
  }
}

function emptyLoad(): LoadResult {
  return { resources: [], secrets: [], errors: [] };
}
