import { dirname } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { NotReadyError } from '../errors.js';
import { nsKey, type Condition, type Destination, type Resource, type ResourceStatus } from '../resources/types.js';
import { DestinationError, type ResolvedDestination } from '../runtime/addressing.js';
import type { ReconcileContext, Reconciler } from '../runtime/runtime.js';
import { readyStatus } from '../runtime/status.js';
import type { DeliveryPolicy } from '../subscriptions/index.js';
import { nextBackoffMs } from '../subscriptions/retry-backoff.js';
import { SinkBindingSync } from './runners/sinkbinding-sync.js';
import type { AdapterStatus, RetireReason, RunningSource, SourceContext, SourceRunner } from './runners/source-runner.js';
import { SinkBindingIndex } from './sinkbinding/index.js';
import { SinkEmitter } from './sink-emitter.js';
import type { WebhookSource } from './source.js';
import type { ContainerSupport } from '../container/container-support.js';
import { runtimeEnvLookup } from '../runtime/env-resolver.js';

export interface SourcesReconcilerOptions {
  /** Shared with whoever runs bound processes (the activator's local services). */
  sinkBindings?: SinkBindingIndex;
  /** `--kubeconfig` for ApiServerSources (else KUBECONFIG, else in-cluster). */
  kubeconfigPath?: string | undefined;
  /** Kubernetes access given in code (the server's `kubeConfig`); used when no `kubeconfigPath` is set. */
  kubeConfig?: (() => KubeConfig) | undefined;
  /** The ingress as this host reaches it, once bound; Sluice's own sinks are reached there rather than via `--public-url`. */
  localIngressUrl?: () => string | undefined;
  /** Retries of an event the sink refused (default DEFAULT_SOURCE_EMIT_POLICY). */
  emitPolicy?: DeliveryPolicy;
  /** How long a reconcile pass waits for sources to start before reporting them `Starting` (default 5 s). */
  startWaitMs?: number;
  /** Backoff between attempts to start a source that failed (1 s doubling to 60 s by default). */
  startRetryInitialMs?: number;
  startRetryMaxMs?: number;
  /** How often live status (webhook registration, restarts) is copied to the resources (default 1 s). */
  statusRefreshMs?: number;
  /** Longest wait for one source to stop (or remove its webhook) (default 10 s). */
  stopTimeoutMs?: number;
  github?: SourceContext['github'];
  /** The source kinds run: the runners listed in `src/kinds.ts` (the server passes them; default none). */
  runners?: readonly SourceRunner[];
  /** The container runtime for ContainerSources with an image (none: they cannot run). */
  containers?: ContainerSupport | undefined;
}

interface Entry {
  readonly key: string;
  readonly webhookKey: string;
  readonly runner: SourceRunner;
  resource: Resource;
  readonly restartKey: string;
  readonly emitter: SinkEmitter;
  readonly running: RunningSource;
  readonly log: Logger;
  state: 'starting' | 'running' | 'failed';
  error?: { reason: string; message: string };
  failures: number;
  retryTimer?: NodeJS.Timeout;
  retryDue: boolean;
  /** Conditions last published, to keep their lastTransitionTime while they hold. */
  conditions: Map<string, Condition>;
}

/**
 * Runs the source adapters for the source resources (phase `consumer`: sinks are
 * resolved after channels, addressable kinds and subscriptions). Per resource: resolves
 * `spec.sink`, builds the adapter, starts it with an emit that POSTs to the sink, and
 * keeps `status` (Ready, reason, `sinkUri`, and per kind the webhook URL...) current. A
 * change of spec, sink, or of the secrets and bindings it uses restarts it; deletion
 * stops it (and removes a GitHub webhook). A start that fails is a status and a retry
 * with backoff, never an exception out of here.
 */
export class SourcesReconciler implements Reconciler {
  readonly phase = 'consumer' as const;
  readonly sinkBindings: SinkBindingIndex;
  readonly #o: SourcesReconcilerOptions;
  readonly #runners: readonly SourceRunner[];
  readonly #entries = new Map<string, Entry>();
  /** By source key: the webhook path of a source that cannot run, answering 503 with the reason. */
  readonly #placeholders = new Map<string, { webhookKey: string; hook: WebhookSource }>();
  /** Keys whose build failed, with the restart key it failed for, to log each failure once. */
  readonly #invalid = new Map<string, string>();
  #bindings: SinkBindingSync | undefined;
  #runtime: ReconcileContext | undefined;
  #log: Logger | undefined;
  #refresher: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: SourcesReconcilerOptions = {}) {
    this.#o = options;
    this.sinkBindings = options.sinkBindings ?? new SinkBindingIndex();
    this.#runners = options.runners ?? [];
  }

  /** The running adapter of a source, for diagnostics and tests. */
  sourceOf(kind: string, namespace: string, name: string): RunningSource | undefined {
    return this.#entries.get(`${kind}/${namespace}/${name}`)?.running;
  }

  async reconcile(runtime: ReconcileContext): Promise<void> {
    if (this.#closed) return;
    this.#runtime = runtime;
    const log = (this.#log ??= runtime.logger.child({ component: 'sources' }));
    (this.#bindings ??= new SinkBindingSync(this.sinkBindings, log)).reconcile(runtime, this.#localize);

    const desired = new Set<string>();
    const starting: Array<Promise<void>> = [];
    for (const runner of this.#runners) {
      for (const { resource, origin } of runtime.list(runner.definition.kind)) {
        const key = `${runner.definition.kind}/${resource.metadata.namespace}/${resource.metadata.name}`;
        desired.add(key);
        try {
          const started = await this.#reconcileOne(runtime, runner, resource, key, origin?.file);
          if (started) starting.push(started);
        } catch (err) {
          log.error({ err, source: key }, 'reconciling a source failed');
          runtime.setStatus(resource, readyStatus(false, 'ReconcileFailed', (err as Error).message));
        }
      }
    }
    const gone = [...this.#entries.values()].filter((e) => !desired.has(e.key));
    for (const key of [...this.#placeholders.keys()]) if (!desired.has(key)) this.#dropPlaceholder(key);
    for (const key of [...this.#invalid.keys()]) if (!desired.has(key)) this.#invalid.delete(key);
    await Promise.all(gone.map((e) => this.#retire(e, 'deleted')));
    await within(Promise.all(starting), this.#o.startWaitMs ?? 5000);
    if (!this.#refresher && this.#entries.size > 0) {
      this.#refresher = setInterval(() => this.#publishAll(), this.#o.statusRefreshMs ?? 1000);
      this.#refresher.unref();
    }
  }

  async close(deadline: number): Promise<void> {
    this.#closed = true;
    if (this.#refresher) clearInterval(this.#refresher);
    this.#refresher = undefined;
    const budget = Math.max(0, Math.min(this.#o.stopTimeoutMs ?? 10_000, deadline - Date.now()));
    await Promise.all([...this.#entries.values()].map((e) => this.#retire(e, 'shutdown', undefined, budget)));
    for (const key of [...this.#placeholders.keys()]) this.#dropPlaceholder(key);
  }

  /** Returns the start of a (re)built source, or undefined when nothing was started. */
  async #reconcileOne(runtime: ReconcileContext, runner: SourceRunner, resource: Resource, key: string, file: string | undefined): Promise<Promise<void> | undefined> {
    const { namespace, name } = resource.metadata;
    const webhookKey = nsKey(namespace, name);
    const existing = this.#entries.get(key);
    let sink: ResolvedDestination;
    try {
      sink = runtime.addresses.resolve((resource.spec as { sink?: Destination }).sink ?? {}, namespace, 'spec.sink');
    } catch (err) {
      if (!(err instanceof DestinationError)) throw err;
      if (existing) await this.#retire(existing, 'replaced');
      this.#unavailable(runner, resource, key, webhookKey, err.message);
      runtime.setStatus(resource, readyStatus(false, 'SinkNotFound', err.message));
      return undefined;
    }

    const log = this.#log!.child({ source: `${runner.definition.kind} ${namespace}/${name}` });
    const base: Omit<SourceContext, 'emitter'> = {
      resource,
      // The adapters name themselves on their log lines.
      logger: this.#log!,
      publicUrl: runtime.publicUrl,
      kubeconfigPath: this.#o.kubeconfigPath,
      kubeConfig: this.#o.kubeConfig,
      sinkBindings: this.sinkBindings,
      github: this.#o.github,
      baseDir: file ? dirname(file) : undefined,
      secret: (secret, k) => runtime.getSecret(namespace, secret)?.data[k],
      envLookup: runtimeEnvLookup(runtime),
      containers: this.#o.containers,
    };
    const restartKey = JSON.stringify([resource.apiVersion, resource.spec, sink.url, runner.restartKey?.(base) ?? null]);
    if (existing && existing.restartKey === restartKey && !(existing.state === 'failed' && existing.retryDue)) {
      existing.resource = resource;
      existing.emitter.setTarget(sink);
      this.#publish(existing);
      return undefined;
    }
    if (!existing && this.#invalid.get(key) === restartKey) return undefined;

    const emitter = new SinkEmitter({ dispatcher: runtime.dispatcher, target: sink, localize: this.#localize, logger: log, ...(this.#o.emitPolicy ? { policy: this.#o.emitPolicy } : {}) });
    let running: RunningSource;
    try {
      running = runner.build({ ...base, emitter });
    } catch (err) {
      if (existing) await this.#retire(existing, 'replaced');
      this.#invalid.set(key, restartKey);
      log.error({ err }, 'the source cannot run');
      this.#unavailable(runner, resource, key, webhookKey, (err as Error).message);
      runtime.setStatus(resource, readyStatus(false, 'InvalidSpec', (err as Error).message));
      return undefined;
    }
    this.#invalid.delete(key);
    const entry: Entry = {
      key,
      webhookKey,
      runner,
      resource,
      restartKey,
      emitter,
      running,
      log,
      state: 'starting',
      failures: existing?.restartKey === restartKey ? existing.failures : 0,
      retryDue: false,
      conditions: existing?.conditions ?? new Map(),
    };
    // The new webhook goes in before the old one is retired: GitHub sees 503 at worst, never 404.
    if (running.webhook) {
      this.#placeholders.delete(key);
      runtime.targets.webhooks.set(webhookKey, running.webhook);
    }
    if (existing) await this.#retire(existing, 'replaced', running);
    this.#entries.set(key, entry);
    return this.#start(entry);
  }

  #start(entry: Entry): Promise<void> {
    entry.state = 'starting';
    this.#publish(entry);
    return Promise.resolve()
      .then(() => entry.running.source.start(entry.emitter.emit))
      .then(
        () => {
          if (!this.#current(entry)) return;
          entry.state = 'running';
          entry.failures = 0;
          entry.error = undefined;
          entry.log.info({ sink: entry.emitter.sinkUri }, 'source started');
          this.#publish(entry);
        },
        (err: unknown) => {
          if (!this.#current(entry)) return;
          const delay = nextBackoffMs(entry.failures, { initialMs: this.#o.startRetryInitialMs ?? 1000, maxMs: this.#o.startRetryMaxMs ?? 60_000 });
          entry.failures++;
          entry.state = 'failed';
          const message = err instanceof Error ? err.message : String(err);
          entry.error = { reason: entry.running.failureReason?.(err) ?? 'StartFailed', message: `${message}; retrying in ${formatDelay(delay)}` };
          entry.log.warn({ err: message, retryInMs: delay, failures: entry.failures }, 'source failed to start; will retry');
          void entry.running.source.stop().catch(() => undefined);
          entry.retryTimer = setTimeout(() => {
            entry.retryDue = true;
            void this.#runtime?.reconcile().catch(() => undefined);
          }, delay);
          entry.retryTimer.unref();
          this.#publish(entry);
        },
      );
  }

  /** Stops a source (bounded by `budget`); on deletion a GitHubSource also removes its webhook. */
  async #retire(entry: Entry, why: RetireReason, next?: RunningSource, budget = this.#o.stopTimeoutMs ?? 10_000): Promise<void> {
    if (entry.retryTimer) clearTimeout(entry.retryTimer);
    if (this.#entries.get(entry.key) === entry) this.#entries.delete(entry.key);
    const hooks = this.#runtime?.targets.webhooks;
    if (entry.running.webhook && hooks?.get(entry.webhookKey) === entry.running.webhook) hooks.delete(entry.webhookKey);
    const work = Promise.resolve()
      .then(() => (entry.running.retire ? entry.running.retire(why, next) : entry.running.source.stop()))
      .catch((err: unknown) => entry.log.warn({ err }, 'stopping the source failed'));
    if (!(await within(work, budget))) entry.log.warn({ waitedMs: budget }, 'the source did not stop in time; left to finish in the background');
    entry.emitter.close();
    if (why === 'deleted') entry.log.info('source removed');
  }

  /** A webhook source that cannot run answers 503 with the reason rather than 404. */
  #unavailable(runner: SourceRunner, resource: Resource, key: string, webhookKey: string, reason: string): void {
    if (!runner.webhook) return;
    const err = new NotReadyError(`${resource.kind} ${webhookKey} is not ready: ${reason}`);
    const hook: WebhookSource = {
      start: async () => undefined,
      stop: async () => undefined,
      handleRequest: async () => ({ statusCode: err.statusCode, body: { error: err.message, reason: err.code } }),
    };
    this.#placeholders.set(key, { webhookKey, hook });
    this.#runtime?.targets.webhooks.set(webhookKey, hook);
  }

  #dropPlaceholder(key: string): void {
    const p = this.#placeholders.get(key);
    this.#placeholders.delete(key);
    const hooks = this.#runtime?.targets.webhooks;
    if (p && hooks?.get(p.webhookKey) === p.hook) hooks.delete(p.webhookKey);
  }

  #current(entry: Entry): boolean {
    return !this.#closed && this.#entries.get(entry.key) === entry;
  }

  #publishAll(): void {
    for (const e of this.#entries.values()) this.#publish(e);
  }

  #publish(entry: Entry): void {
    const runtime = this.#runtime;
    if (!runtime || !this.#current(entry)) return;
    let adapter: AdapterStatus = {};
    try {
      adapter = entry.running.status?.() ?? {};
    } catch (err) {
      entry.log.debug({ err }, 'reading the source status failed');
    }
    const ready =
      entry.state === 'failed'
        ? { status: 'False' as const, ...entry.error! }
        : entry.state === 'starting'
          ? { status: 'Unknown' as const, reason: 'Starting', message: 'the source is starting' }
          : (adapter.notReady ?? { status: 'True' as const, reason: 'SourceReady', message: undefined });
    const now = new Date().toISOString();
    const fresh: Condition[] = [
      { type: 'Ready', status: ready.status, reason: ready.reason, ...(ready.message ? { message: ready.message } : {}), lastTransitionTime: now },
      { type: 'SinkProvided', status: 'True', reason: 'SinkResolved', lastTransitionTime: now },
      ...(adapter.conditions ?? []),
    ];
    const conditions = fresh.map((c) => {
      const prev = entry.conditions.get(c.type);
      const kept = prev && prev.status === c.status && prev.reason === c.reason && prev.message === c.message ? { ...c, lastTransitionTime: prev.lastTransitionTime } : c;
      entry.conditions.set(c.type, kept);
      return kept;
    });
    const status: ResourceStatus = { conditions, sinkUri: entry.emitter.sinkUri, ...adapter.fields };
    runtime.setStatus(entry.resource, status);
  }

  /** Sluice's own addresses (under the public URL) are reached on the local ingress. */
  readonly #localize = (url: string): string => {
    const local = this.#o.localIngressUrl?.()?.replace(/\/+$/, '');
    const pub = this.#runtime?.publicUrl.replace(/\/+$/, '');
    if (!local || !pub || local === pub) return url;
    if (url === pub) return local;
    return url.startsWith(pub + '/') ? local + url.slice(pub.length) : url;
  };
}

/** Waits for `p` at most `ms`; true when it settled in time. */
async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([p.then(() => true, () => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function formatDelay(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Math.round(ms / 100) / 10} s`;
}
