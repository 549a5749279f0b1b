import { dirname, isAbsolute, resolve as resolvePath } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import { Agent } from 'undici';
import { NotReadyError, ResourceValidationError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { nsKey, type LoadedResource, type Resource } from '../resources/types.js';
import { DestinationError } from '../runtime/addressing.js';
import type { ReconcileContext, Reconciler } from '../runtime/runtime.js';
import { sendError } from '../server/reply-error.js';
import type { RawRouteHandler } from '../runtime/ingress-targets.js';
import { Activator, type ActivatorOptions } from './activator.js';
import { loadKubeConfig } from '../sources/apiserver/kubeconfig.js';
import { DeploymentRefs } from './deployment-refs.js';
import { createServiceProxy, type ServiceProxy } from './service-proxy.js';
import { serviceConfigFrom, serviceKind, type ServiceConfig, type ServiceSpec } from './service-spec.js';
import { serviceResourceStatus, type ServiceProblem } from './service-status.js';
import type { ContainerSupport } from '../container/container-support.js';
import type { DetectedRuntime } from '../container/detect-runtime.js';
import { ImagePullError } from '../errors.js';
import { resolveEnvSources, runtimeEnvLookup } from '../runtime/env-resolver.js';
import { ProcessScaler } from './process-scaler.js';
import { ContainerLauncher } from './container-launcher.js';
import type { Scaler } from './scaler.js';

const SERVING_GROUP = 'serving.knative.dev/';

export interface ServiceReconcilerOptions {
  logger: Logger;
  /** The broker's metrics registry: the activator's metrics go on its /metrics. */
  registry?: Registry;
  /** Kubernetes access for `apps/v1` Deployment refs, loaded on first use (throws when there is none); default: KUBECONFIG, in-cluster, ~/.kube/config. */
  kubeConfig?: () => KubeConfig;
  /** Overrides for the activator (queue size and timeout, process scaler options). */
  activator?: Omit<ActivatorOptions, 'logger' | 'registry'>;
  /** How often the admin status of each Service is refreshed (default 250 ms). */
  statusIntervalMs?: number;
  /** Docker/Podman for Services with an image and no command (none: they cannot run). */
  containers?: ContainerSupport;
  /** Environment a Service's replicas get from SinkBindings (K_SINK, K_CE_OVERRIDES), read at each replica start. */
  bindingEnv?: (service: ServiceConfig) => Record<string, string>;
  /**
   * The cluster's DNS domain when Sluice runs inside Kubernetes (`cluster.local`): a ref to
   * a core `v1` Service then resolves, as in Knative, to `http://<name>.<ns>.svc.<domain>/`.
   * None (outside a cluster): only core Services named after a Knative Service Sluice runs
   * resolve (Knative gives every Knative Service a core Service of its name).
   */
  clusterDomain?: string | undefined;
}

/** An image made present for a Service version (pulled by its policy), or why it could not be. */
interface ImageCheck {
  key: string;
  done: boolean;
  error?: string;
}

interface Tracked {
  resource: Resource<unknown>;
  /** Set when the current spec cannot run; a previous version may still serve. */
  problem?: ServiceProblem;
  /** Fields accepted without effect here, shown in the status. */
  ignored?: string[];
  proxy?: { handler: RawRouteHandler; proxy: ServiceProxy; timeoutMs: number };
}

/**
 * Turns `serving.knative.dev/v1` Services into activator services (local processes that
 * scale to zero): starts them, rolls them on change, stops them on delete and when
 * Sluice stops. Makes `ref: {kind: Service}` resolve through the activator (deliveries
 * wait while it wakes without spending retries), routes `/services/<ns>/<name>/...` on
 * the public port to it, and keeps each Service's status current. Also makes `apps/v1`
 * Deployment refs resolvable (scaled through the Kubernetes API).
 */
export class ServiceReconciler implements Reconciler {
  readonly phase = 'address' as const;
  readonly activator: Activator;
  readonly deployments: DeploymentRefs;
  readonly #log: Logger;
  readonly #statusMs: number;
  readonly #tracked = new Map<string, Tracked>();
  readonly #agent = new Agent({ keepAliveTimeout: 4_000, connections: 256 });
  readonly #o: ServiceReconcilerOptions;
  readonly #images = new Map<string, ImageCheck>();
  #runtime: ReconcileContext | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: ServiceReconcilerOptions) {
    this.#log = options.logger.child({ component: 'services' });
    this.#statusMs = options.statusIntervalMs ?? 250;
    this.#o = options;
    this.activator = new Activator({
      ...options.activator,
      scalerFactory: options.activator?.scalerFactory ?? ((service, logger) => this.#scalerFor(service, logger)),
      logger: options.logger,
      ...(options.registry ? { registry: options.registry } : {}),
    });
    this.deployments = new DeploymentRefs({
      logger: options.logger,
      ...(options.registry ? { registry: options.registry } : {}),
      // KUBECONFIG, then the in-cluster service account, then ~/.kube/config.
      kubeConfig: options.kubeConfig ?? (() => loadKubeConfig()),
    });
  }

  async reconcile(runtime: ReconcileContext): Promise<void> {
    if (this.#closed) return;
    if (!this.#runtime) this.#attach(runtime);
    const desired = new Set<string>();
    for (const item of runtime.list<ServiceSpec>(serviceKind.kind)) {
      if (!item.resource.apiVersion.startsWith(SERVING_GROUP)) continue;
      const key = nsKey(item.resource.metadata.namespace, item.resource.metadata.name);
      desired.add(key);
      await this.#apply(key, item as LoadedResource<unknown>);
    }
    for (const key of this.activator.keys()) if (!desired.has(key)) await this.#remove(key);
    for (const key of this.#tracked.keys()) if (!desired.has(key)) await this.#remove(key);
    this.#refreshStatus();
  }

  /**
   * Lets requests in flight finish (channels drain into services while Sluice stops),
   * up to `deadline`, then stops every replica.
   */
  async close(deadline: number): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    while (Date.now() < deadline && this.#busy()) await new Promise((r) => setTimeout(r, 50));
    await Promise.allSettled([this.activator.close(), this.deployments.close()]);
    await Promise.allSettled([...this.#tracked.values()].map((t) => t.proxy?.proxy.close()));
    await this.#agent.close().catch(() => {});
  }

  // ---- internals ----

  #attach(runtime: ReconcileContext): void {
    this.#runtime = runtime;
    runtime.addresses.register(serviceKind.kind, (ref) => {
      const key = nsKey(ref.namespace, ref.name);
      const core = !ref.apiVersion.startsWith(SERVING_GROUP);
      if (core && ref.apiVersion !== 'v1') {
        throw new DestinationError(`${ref.kind} ${key}: apiVersion must be serving.knative.dev/v1 (a Knative Service) or v1 (a Kubernetes Service), not ${ref.apiVersion}`);
      }
      const t = this.#tracked.get(key);
      if (!t) return core ? this.#coreService(ref.namespace, ref.name) : undefined;
      if (!this.activator.get(key)) throw new DestinationError(`Service ${key} is not ready: ${t.problem?.message ?? 'not started'}`, 'SubscriberNotReady');
      return { url: this.#url(key), endpoint: this.activator.resolver(key) };
    });
    runtime.addresses.register('Deployment', this.deployments.resolve);
    this.#timer = setInterval(() => this.#refreshStatus(), this.#statusMs);
    this.#timer.unref();
  }

  /** A Kubernetes Service that is not a Knative Service's: its cluster DNS name, which only resolves inside the cluster. */
  #coreService(namespace: string, name: string): { url: string } {
    const domain = this.#o.clusterDomain;
    if (domain) return { url: `http://${name}.${namespace}.svc.${domain}/` };
    throw new DestinationError(
      `Service ${namespace}/${name} (v1): a Kubernetes Service is reached at http://${name}.${namespace}.svc.cluster.local/ only from inside a cluster, ` +
        'and Sluice runs outside one (KUBERNETES_SERVICE_HOST is not set); use uri, or a serving.knative.dev/v1 Service of that name for Sluice to run',
    );
  }

  #url(key: string): string {
    return `${this.#runtime!.publicUrl}/services/${key}`;
  }

  async #apply(key: string, item: LoadedResource<unknown>): Promise<void> {
    const t: Tracked = this.#tracked.get(key) ?? { resource: item.resource };
    t.resource = item.resource;
    this.#tracked.set(key, t);
    let config: ServiceConfig;
    try {
      config = withBaseDir(serviceConfigFrom(item.resource, 'local', item.origin), item.origin?.file);
    } catch (err) {
      if (!(err instanceof ResourceValidationError)) throw err;
      // The previous version, if any, keeps serving (as Knative keeps its last ready revision).
      return this.#cannotRun(key, t, { reason: cannotRunLocally(err) ? 'CommandRequired' : 'InvalidSpec', message: err.message });
    }
    t.ignored = config.ignored;
    if (config.runner === 'container') {
      const problem = await this.#imageProblem(config);
      if (problem) return this.#cannotRun(key, t, problem);
    }
    try {
      await this.activator.apply(config);
      delete t.problem;
      this.#route(key, t, config);
    } catch (err) {
      t.problem = { reason: 'ActivationFailed', message: (err as Error).message };
      this.#log.error({ service: key, err }, 'Service could not be started');
    }
  }

  #cannotRun(key: string, t: Tracked, problem: ServiceProblem): void {
    t.problem = problem;
    if (!this.activator.get(key)) this.#route(key, t, undefined);
    this.#log.warn({ service: key, reason: problem.reason, err: problem.message }, 'Service cannot run');
  }

  /**
   * For a Service run as a container: a runtime exists and its image is present (pulled
   * by its policy, once per version). A pull still running is reported and does not hold
   * up the reconcile pass; another pass is asked for when it ends.
   */
  async #imageProblem(config: ServiceConfig): Promise<ServiceProblem | undefined> {
    const image = config.container.image!;
    const detected: DetectedRuntime = await (this.#o.containers?.runtime() ?? Promise.resolve({ reason: 'no container runtime configured' }));
    if (!detected.runtime) {
      return {
        reason: 'ContainerRuntimeUnavailable',
        message: `image ${image} cannot run: ${detected.reason}; set command (and args) to run the service as a local process, or install Docker or Podman`,
      };
    }
    const runtime = detected.runtime;
    const policy = config.container.imagePullPolicy;
    const key = `${image}|${policy}|${JSON.stringify(config)}`;
    let check = this.#images.get(config.key);
    if (check?.key !== key) {
      const started: ImageCheck = { key, done: false };
      check = started;
      this.#images.set(config.key, started);
      const settled = runtime.ensureImage(image, policy).then(
        () => {
          started.done = true;
        },
        (err: Error) => {
          started.done = true;
          started.error = err instanceof ImagePullError ? err.message : `image ${image}: ${err.message}`;
        },
      );
      // Most checks (image present) end at once; a real pull finishes in the background.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([settled, new Promise((r) => (timer = setTimeout(r, 2_000)))]);
      clearTimeout(timer);
      if (!started.done) {
        void settled.then(() => {
          if (this.#images.get(config.key) === started && !this.#closed) void this.#runtime?.reconcile();
        });
      }
    }
    if (!check.done) return { reason: 'PullingImage', message: `pulling image ${image}` };
    if (check.error) return { reason: 'ImagePullFailed', message: check.error };
    return undefined;
  }

  /** Replicas of a Service: local processes, or containers of its image. */
  #scalerFor(service: ServiceConfig, logger: Logger): Scaler {
    const p = this.#o.activator?.process;
    const runtime = service.runner === 'container' ? this.#o.containers?.current : undefined;
    const lookup = this.#runtime ? runtimeEnvLookup(this.#runtime) : undefined;
    const sources = service.container.envSources;
    return new ProcessScaler({
      ...p,
      service,
      logger,
      extraEnv: () => {
        const env = { ...p?.extraEnv?.(), ...this.#o.bindingEnv?.(service) };
        // A bridged container reaches Sluice through the host gateway, not loopback.
        if (runtime && env.K_SINK) env.K_SINK = this.#o.containers!.localize(env.K_SINK, runtime);
        return env;
      },
      ...(sources.length && lookup ? { resolveEnv: () => resolveEnvSources(sources, service.namespace, lookup) } : {}),
      ...(runtime
        ? {
            launcher: new ContainerLauncher({
              service,
              runtime,
              logger,
              network: this.#o.containers!.network,
              ...(p?.stopGraceMs !== undefined ? { stopGraceSeconds: p.stopGraceMs / 1000 } : {}),
            }),
          }
        : {}),
    });
  }

  /** `/services/<ns>/<name>/...`: the proxy through the activator, or a 503 saying why not. */
  #route(key: string, t: Tracked, config: ServiceConfig | undefined): void {
    const services = this.#runtime!.targets.services;
    if (!config) {
      services.set(key, async (_req, reply) => {
        sendError(reply, new NotReadyError(`Service ${key} is not ready: ${t.problem?.message ?? 'not started'}`));
      });
      return;
    }
    if (t.proxy?.timeoutMs === config.requestTimeoutMs) return;
    const old = t.proxy;
    const proxy = createServiceProxy(this.activator.resolver(key), { logger: this.#log, requestTimeoutMs: config.requestTimeoutMs, agent: this.#agent });
    const handler: RawRouteHandler = (req, reply, rest) => proxy.handle(req, reply, rest);
    t.proxy = { handler, proxy, timeoutMs: config.requestTimeoutMs };
    services.set(key, handler);
    void old?.proxy.close();
  }

  async #remove(key: string): Promise<void> {
    const t = this.#tracked.get(key);
    this.#tracked.delete(key);
    this.#runtime?.targets.services.delete(key);
    await t?.proxy?.proxy.close();
    if (this.activator.get(key) || this.activator.pending(key)) {
      this.#log.info({ service: key }, 'Service deleted: stopping its replicas');
      await this.activator.remove(key);
    }
  }

  #refreshStatus(): void {
    const runtime = this.#runtime;
    if (!runtime || this.#closed) return;
    for (const [key, t] of this.#tracked) {
      runtime.setStatus(
        t.resource,
        serviceResourceStatus({
          url: this.#url(key),
          serving: this.activator.get(key)?.status(),
          pending: this.activator.pending(key)?.status(),
          problem: t.problem,
          ignored: t.ignored,
        }),
      );
    }
  }

  #busy(): boolean {
    const all = [...Object.values(this.activator.status()), ...Object.values(this.deployments.status())];
    return all.some((s) => s.inFlight > 0 || s.queued > 0);
  }
}

/** A relative `workingDir` is taken from the folder of the YAML file that declared it. */
function withBaseDir(config: ServiceConfig, file: string | undefined): ServiceConfig {
  const wd = config.container.workingDir;
  // A container's workingDir is a path inside its image.
  if (!wd || isAbsolute(wd) || !file || config.runner === 'container') return config;
  return { ...config, container: { ...config.container, workingDir: resolvePath(dirname(file), wd) } };
}

function cannotRunLocally(err: ResourceValidationError): boolean {
  return err.issues.some((i) => i.path.endsWith('.command'));
}
