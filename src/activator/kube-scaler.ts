import { AppsV1Api, type KubeConfig, type V1Deployment } from '@kubernetes/client-node';
import type { Logger } from '../observability/logger.js';
import { InvalidOptionError, KubeApiError, ServiceUnavailableError } from '../errors.js';
import type { Endpoint, Scaler, ScalerListener, ScalerStatus } from './scaler.js';
import { waitForEndpoint } from './wait-for-endpoint.js';

/** The two calls the scaler makes (a subset of AppsV1Api), so tests and callers can pass either. */
export type DeploymentApi = Pick<AppsV1Api, 'readNamespacedDeployment' | 'patchNamespacedDeploymentScale'>;

export interface KubeDeploymentScalerOptions {
  namespace: string;
  /** The apps/v1 Deployment to scale. */
  deployment: string;
  /** Address of the Kubernetes Service in front of its pods, e.g. `http://name.ns.svc.cluster.local/`. */
  url: string;
  logger: Logger;
  /** An AppsV1Api (or anything with its two calls); or a KubeConfig to build one from. */
  api?: DeploymentApi;
  kubeConfig?: KubeConfig;
  /** Status polling while replicas are starting or stopping (default 200 ms, Knative's probe period). */
  pollIntervalMs?: number;
  /** Status polling when settled, to notice pods that crash or are evicted (default 5 s). */
  resyncIntervalMs?: number;
}

/**
 * Scales an apps/v1 Deployment through its scale subresource (JSON Patch on
 * `/spec/replicas`), 0 -> n on demand and back to 0 when idle, and reads readiness from
 * the Deployment's `status.readyReplicas`. All ready pods sit behind one Kubernetes
 * Service, so there is a single endpoint whose `slots` is the ready replica count.
 * Scaling down relies on Kubernetes' own termination grace for in-flight requests.
 */
export class KubeDeploymentScaler implements Scaler {
  readonly kind = 'kubernetes' as const;
  readonly #api: DeploymentApi;
  readonly #ns: string;
  readonly #name: string;
  readonly #url: string;
  readonly #log: Logger;
  readonly #pollMs: number;
  readonly #resyncMs: number;
  readonly #changeWaiters = new Set<() => void>();
  #listener: ScalerListener | undefined;
  #desired: number | undefined;
  #specReplicas: number | undefined;
  #ready = 0;
  #restarts = 0;
  #lastError: string | undefined;
  #endpoints: Endpoint[] = [];
  #timer: NodeJS.Timeout | undefined;
  #polling = false;
  #closed = false;

  constructor(options: KubeDeploymentScalerOptions) {
    if (!options.api && !options.kubeConfig) throw new InvalidOptionError('KubeDeploymentScaler: pass api or kubeConfig');
    try {
      new URL(options.url);
    } catch {
      throw new InvalidOptionError(`KubeDeploymentScaler: url ${JSON.stringify(options.url)} is not an absolute URL`);
    }
    this.#api = options.api ?? options.kubeConfig!.makeApiClient(AppsV1Api);
    this.#ns = options.namespace;
    this.#name = options.deployment;
    this.#url = options.url.endsWith('/') ? options.url : `${options.url}/`;
    this.#log = options.logger.child({ deployment: `${options.namespace}/${options.deployment}` });
    this.#pollMs = options.pollIntervalMs ?? 200;
    this.#resyncMs = options.resyncIntervalMs ?? 5000;
  }

  attach(listener: ScalerListener): void {
    this.#listener = listener;
    this.#schedule(0);
  }

  async setScale(replicas: number): Promise<void> {
    if (this.#closed) throw new ServiceUnavailableError(`Deployment ${this.#ns}/${this.#name}: scaler is closed`);
    if (!Number.isInteger(replicas) || replicas < 0) throw new InvalidOptionError(`setScale: ${replicas} is not a replica count`);
    this.#desired = replicas;
    if (replicas !== this.#specReplicas) await this.#patch(replicas);
    this.#schedule(this.#pollMs);
  }

  ensureReady(signal?: AbortSignal): Promise<Endpoint> {
    if (this.#endpoints.length === 0 && !this.#desired) void this.setScale(1).catch(() => {});
    return waitForEndpoint(this, this.#changeWaiters, signal);
  }

  endpoints(): readonly Endpoint[] {
    return this.#endpoints;
  }

  status(): ScalerStatus {
    const desired = this.#desired ?? this.#specReplicas ?? 0;
    return {
      desired,
      ready: this.#ready,
      starting: Math.max(0, (this.#specReplicas ?? 0) - this.#ready),
      restarts: this.#restarts,
      ...(this.#lastError ? { lastError: this.#lastError } : {}),
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    for (const w of [...this.#changeWaiters]) w();
  }

  // ---- internals ----

  async #patch(replicas: number): Promise<void> {
    try {
      await this.#api.patchNamespacedDeploymentScale({
        name: this.#name,
        namespace: this.#ns,
        body: [{ op: 'replace', path: '/spec/replicas', value: replicas }],
      });
      this.#specReplicas = replicas;
      this.#log.info({ replicas }, 'deployment scaled');
    } catch (err) {
      throw this.#fail(err, `scaling to ${replicas}`);
    }
  }

  #schedule(ms: number): void {
    if (this.#closed) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#poll(), ms);
    this.#timer.unref();
  }

  async #poll(): Promise<void> {
    if (this.#closed || this.#polling) return;
    this.#polling = true;
    let dep: V1Deployment | undefined;
    try {
      dep = await this.#api.readNamespacedDeployment({ name: this.#name, namespace: this.#ns });
      if (this.#lastError && this.#lastError.startsWith('reading')) this.#lastError = undefined;
    } catch (err) {
      this.#fail(err, 'reading the deployment');
    } finally {
      this.#polling = false;
    }
    if (this.#closed) return;
    if (dep) {
      this.#specReplicas = dep.spec?.replicas ?? 1;
      // Someone (or a failed patch) left a different count: the activator owns the scale.
      if (this.#desired !== undefined && this.#specReplicas !== this.#desired) {
        await this.#patch(this.#desired).catch(() => {});
      }
      this.#observe(dep.status?.readyReplicas ?? 0);
    }
    const settled = dep !== undefined && this.#ready === (this.#desired ?? this.#specReplicas);
    this.#schedule(settled ? this.#resyncMs : this.#pollMs);
  }

  #observe(ready: number): void {
    if (ready === this.#ready) return;
    if (ready < this.#ready && (this.#desired ?? 0) >= this.#ready) {
      this.#restarts++;
      this.#lastError = `ready replicas dropped from ${this.#ready} to ${ready}`;
      this.#log.warn(this.#lastError);
    }
    this.#ready = ready;
    this.#endpoints = ready > 0 ? [{ id: `deployment/${this.#ns}/${this.#name}`, url: this.#url, slots: ready }] : [];
    this.#listener?.endpointsChanged();
    for (const w of [...this.#changeWaiters]) w();
  }

  #fail(err: unknown, doing: string): KubeApiError {
    const e = err as { code?: unknown; body?: unknown; message?: string };
    const status = typeof e.code === 'number' ? e.code : undefined;
    const message = `Deployment ${this.#ns}/${this.#name}: ${doing} failed${status ? ` (HTTP ${status})` : ''}: ${bodyMessage(e.body) ?? e.message ?? String(err)}`;
    if (message !== this.#lastError) this.#log.warn(message);
    this.#lastError = message;
    return new KubeApiError(message, { cause: err, ...(status ? { status } : {}) });
  }
}

function bodyMessage(body: unknown): string | undefined {
  if (typeof body !== 'string') return undefined;
  try {
    const parsed = JSON.parse(body) as { message?: unknown };
    return typeof parsed.message === 'string' ? parsed.message : body.slice(0, 200);
  } catch {
    return body.slice(0, 200);
  }
}
