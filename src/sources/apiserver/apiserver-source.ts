import type { KubeConfig } from '@kubernetes/client-node';
import { ResourceValidationError } from '../../errors.js';
import { silentLogger, type Logger } from '../../observability/logger.js';
import { parseWith } from '../../resources/zod-issues.js';
import type { EmitFn, Source } from '../source.js';
import { ApiDiscovery, collectionPath, type ResolvedKind } from './api-discovery.js';
import { makeApiServerEvent } from './apiserver-events.js';
import { EmitQueue } from './emit-queue.js';
import { KubeClient, type KubeObject } from './kube-client.js';
import { isEmptySelector, matchesSelector, selectorToString } from './label-selector.js';
import { ResourceWatcher, type ChangeType } from './resource-watcher.js';
import { apiServerSourceSpecSchema, type ApiServerSourceSpec, type ApiServerSourceSpecInput } from './spec-schema.js';

export interface ApiServerSourceOptions {
  /** metadata.name and metadata.namespace of the ApiServerSource. */
  name: string;
  namespace: string;
  /** The spec as written; validated (and defaulted) here. */
  spec: ApiServerSourceSpecInput;
  /** From `loadKubeConfig()`. */
  kubeConfig: KubeConfig;
  logger?: Logger;
  /** Report objects that exist when a watch starts as `add` events (default true, as Knative). */
  emitExisting?: boolean;
  /** Sink backpressure: events held, and retries of a refused event (see EmitQueue). */
  queueCapacity?: number;
  emitRetries?: number;
  emitRetryDelayMs?: number;
  /** Backoff of failed list/watch calls (defaults 200 ms doubling to 30 s). */
  retryInitialMs?: number;
  retryMaxMs?: number;
}

interface WatchedResource {
  kind: ResolvedKind;
  labelSelector: string | undefined;
}

// Namespaces are listed to apply `namespaceSelector`; the core group always serves them.
const NAMESPACES_PATH = '/api/v1/namespaces';
const SCOPE_RETRY_MS = 5000;

/**
 * Knative's ApiServerSource: watches Kubernetes resources and emits one CloudEvent per
 * add, update and delete. Watches the source's own namespace, or every namespace that
 * matches `namespaceSelector` (following namespaces as they appear, change labels and
 * go), or the whole cluster when the selector is empty. Cluster-scoped kinds are
 * watched once, cluster-wide.
 */
export class ApiServerSource implements Source {
  readonly name: string;
  readonly namespace: string;
  readonly spec: ApiServerSourceSpec;
  readonly #o: ApiServerSourceOptions;
  readonly #log: Logger;
  #client: KubeClient | undefined;
  #queue: EmitQueue | undefined;
  #resources: WatchedResource[] = [];
  /** Watchers by scope: a namespace, or '' for cluster-wide ones. */
  readonly #scopes = new Map<string, ResourceWatcher[]>();
  #nsTracker: ResourceWatcher | undefined;
  #pendingScopeStarts: Array<Promise<void>> | undefined;
  readonly #retryTimers = new Set<NodeJS.Timeout>();
  #started = false;
  #stopped = false;

  constructor(options: ApiServerSourceOptions) {
    this.name = options.name;
    this.namespace = options.namespace;
    const parsed = parseWith(apiServerSourceSpecSchema, options.spec, ['spec']);
    if (!parsed.ok) throw new ResourceValidationError({ kind: 'ApiServerSource', name: `${options.namespace}/${options.name}`, issues: parsed.issues });
    this.spec = parsed.value;
    this.#o = options;
    this.#log = (options.logger ?? silentLogger()).child({ source: `ApiServerSource ${options.namespace}/${options.name}` });
  }

  /** The API server URL (the events' `source`), once started. */
  get server(): string | undefined {
    return this.#client?.server;
  }

  /** Namespaces currently watched ('' = cluster-wide), for status and diagnostics. */
  get watchedScopes(): string[] {
    return [...this.#scopes.keys()].sort();
  }

  /** Resolves when every event produced so far was sent (or given up on). */
  whenIdle(): Promise<void> {
    return this.#queue?.whenIdle() ?? Promise.resolve();
  }

  /**
   * Resolves once every watch has listed its objects and started watching; rejects
   * (and stops what it started) when a kind is unknown, access is refused or the API
   * server cannot be reached.
   */
  async start(emit: EmitFn): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    const client = new KubeClient(this.#o.kubeConfig);
    this.#client = client;
    this.#queue = new EmitQueue({
      emit,
      logger: this.#log,
      capacity: this.#o.queueCapacity,
      retries: this.#o.emitRetries,
      retryDelayMs: this.#o.emitRetryDelayMs,
    });
    try {
      const discovery = new ApiDiscovery(client);
      this.#resources = await Promise.all(
        this.spec.resources.map(async (r) => ({
          kind: await discovery.resolve(r.apiVersion, r.kind),
          labelSelector: selectorToString(r.selector),
        })),
      );
      if (this.#stopped) return;
      const clusterScoped = this.#resources.filter((r) => !r.kind.namespaced);
      const namespaced = this.#resources.filter((r) => r.kind.namespaced);
      const starts: Array<Promise<void>> = [];
      const nsSel = this.spec.namespaceSelector;
      if (clusterScoped.length) starts.push(this.#startScope('', clusterScoped, true));
      if (namespaced.length) {
        if (nsSel && isEmptySelector(nsSel)) {
          // An empty namespaceSelector selects every namespace: one watch per kind, cluster-wide.
          starts.push(this.#startScope('*', namespaced, true));
        } else if (nsSel) {
          starts.push(this.#trackNamespaces());
        } else {
          starts.push(this.#startScope(this.namespace, namespaced, true));
        }
      }
      await Promise.all(starts);
      this.#log.info({ server: client.server, scopes: this.watchedScopes, mode: this.spec.mode }, 'watching');
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const t of this.#retryTimers) clearTimeout(t);
    this.#retryTimers.clear();
    this.#nsTracker?.stop();
    for (const watchers of this.#scopes.values()) for (const w of watchers) w.stop();
    this.#scopes.clear();
    this.#queue?.close();
  }

  /** Follows the namespaces that match `namespaceSelector` and watches each of them. */
  async #trackNamespaces(): Promise<void> {
    const sel = this.spec.namespaceSelector;
    const namespaced = this.#resources.filter((r) => r.kind.namespaced);
    this.#pendingScopeStarts = [];
    const tracker = new ResourceWatcher({
      client: this.#client as KubeClient,
      path: NAMESPACES_PATH,
      apiVersion: 'v1',
      kind: 'Namespace',
      labelSelector: selectorToString(sel),
      logger: this.#log,
      retryInitialMs: this.#o.retryInitialMs,
      retryMaxMs: this.#o.retryMaxMs,
      onChange: (change, ns) => {
        const name = ns.metadata?.name;
        if (!name) return;
        const selected = change !== 'delete' && matchesSelector(sel, ns.metadata?.labels);
        if (selected && !this.#scopes.has(name)) {
          const p = this.#startScope(name, namespaced, this.#pendingScopeStarts !== undefined);
          // Awaited by #trackNamespaces during start-up; never left to reject unobserved.
          p.catch(() => undefined);
          this.#pendingScopeStarts?.push(p);
        } else if (!selected && this.#scopes.has(name)) {
          this.#log.info({ namespace: name }, 'namespace no longer selected; stopping its watches');
          this.#stopScope(name);
        }
      },
    });
    this.#nsTracker = tracker;
    await tracker.start();
    const initial = this.#pendingScopeStarts;
    this.#pendingScopeStarts = undefined;
    await Promise.all(initial);
  }

  /**
   * Starts one watcher per resource in a scope ('' cluster-scoped kinds, '*' every
   * namespace, else a namespace). `required`: a failure rejects (start-up); otherwise it
   * is logged and retried while the scope is still wanted.
   */
  async #startScope(scope: string, resources: WatchedResource[], required: boolean): Promise<void> {
    const watchers = resources.map((r) => this.#makeWatcher(r, scope === '' || scope === '*' ? undefined : scope));
    this.#scopes.set(scope, watchers);
    const results = await Promise.allSettled(watchers.map((w) => w.start()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (!failed || this.#stopped || this.#scopes.get(scope) !== watchers) return;
    if (required) throw failed.reason;
    this.#log.error({ namespace: scope, err: (failed.reason as Error).message }, 'cannot watch namespace; retrying');
    for (const w of watchers) w.stop();
    this.#scopes.delete(scope);
    const t = setTimeout(() => {
      this.#retryTimers.delete(t);
      if (!this.#stopped && !this.#scopes.has(scope) && this.#nsTracker) void this.#startScope(scope, resources, false);
    }, SCOPE_RETRY_MS);
    this.#retryTimers.add(t);
  }

  #stopScope(scope: string): void {
    for (const w of this.#scopes.get(scope) ?? []) w.stop();
    this.#scopes.delete(scope);
  }

  #makeWatcher(r: WatchedResource, namespace: string | undefined): ResourceWatcher {
    return new ResourceWatcher({
      client: this.#client as KubeClient,
      path: collectionPath(r.kind, namespace),
      apiVersion: r.kind.apiVersion,
      kind: r.kind.kind,
      labelSelector: r.labelSelector,
      logger: this.#log,
      emitInitial: this.#o.emitExisting ?? true,
      retryInitialMs: this.#o.retryInitialMs,
      retryMaxMs: this.#o.retryMaxMs,
      onChange: (change, object) => this.#onChange(change, object),
    });
  }

  #onChange(change: ChangeType, object: KubeObject): void {
    if (this.#stopped || !this.#passesOwnerFilter(object)) return;
    this.#queue?.push(
      makeApiServerEvent({
        change,
        object,
        mode: this.spec.mode,
        source: (this.#client as KubeClient).server,
        extensions: this.spec.ceOverrides?.extensions,
      }),
    );
  }

  /** Knative's controllerFilter: with `owner` set, only objects whose controller matches pass. */
  #passesOwnerFilter(object: KubeObject): boolean {
    const owner = this.spec.owner;
    if (!owner) return true;
    const controller = object.metadata?.ownerReferences?.find((r) => r.controller === true);
    if (!controller) return false;
    if (owner.apiVersion && owner.apiVersion !== controller.apiVersion) return false;
    if (owner.kind && owner.kind !== controller.kind) return false;
    return true;
  }
}
