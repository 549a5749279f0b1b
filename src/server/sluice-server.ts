import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { ChannelRegistry } from '../channels/registry.js';
import { createMemoryChannelFactory } from '../channels/memory/index.js';
import { DurableBackends, type ChannelBackendsOptions } from '../channels/durable-backends.js';
import { Dispatcher } from '../dispatcher/index.js';
import { Metrics } from '../observability/metrics.js';
import { TRACING_OFF, type Tracing } from '../observability/tracing.js';
import type { ChannelTemplate } from '../resources/types.js';
import { nsKey } from '../resources/types.js';
import { SluiceRuntime } from '../runtime/runtime.js';
import { createAdminApp } from './admin.js';
import { createIngressApp, type IngressLimits } from './ingress.js';
import { createAcceptEvents, type AcceptEvents } from './accept-events.js';
import { OwnAddresses } from './own-addresses.js';
import { checkIngressToken } from './ingress-auth.js';
import { BufferBudget } from '../channels/memory/index.js';
import { IngressTargets } from '../runtime/ingress-targets.js';
import { InvalidOptionError, NotFoundError } from '../errors.js';
import { EventDisplayReconciler } from '../display/index.js';
import { BrokerReconciler } from '../broker/index.js';
import { ServiceReconciler, type ActivatorOptions } from '../activator/index.js';
import { ContainerSupport, type ContainerRuntimeChoice } from '../container/index.js';
import type { KubeConfig } from '@kubernetes/client-node';
import { Inspector, inspectorRoutes, type InspectorOptions } from '../inspector/index.js';
import { SourcesReconciler, type SourcesReconcilerOptions } from '../sources/sources-reconciler.js';
import { SinkBindingIndex } from '../sources/sinkbinding/index.js';
import { serviceBindingEnv } from '../sources/sinkbinding/bind-services.js';
import { LiveConfig, resolveKindName } from '../live-config/index.js';
import { createSluiceKinds, kindReconcilers, sourceRunners, type KindEntry } from '../kinds.js';
import { adminResourcesPlugin } from './admin-resources.js';
import { kubeApi, type KubeObjectStore } from '../kube-api/index.js';
import { DeadLetters, TargetRecordingDispatcher, durableDeadLetterStores, observeAll } from '../deadletters/index.js';
import { JobSinkReconciler } from '../jobsink/index.js';

/**
 * Besides these, each durable channel backend's options under its name (`nats`, `redis`:
 * ChannelBackendsOptions), its server dialled only once such a channel exists.
 */
export interface SluiceServerOptions extends ChannelBackendsOptions {
  logger: Logger;
  port?: number;
  host?: string;
  adminPort?: number;
  adminHost?: string;
  /** Base URL Sluice uses for its own addresses; defaults to http://<host or 127.0.0.1>:<port>. */
  publicUrl?: string;
  maxBodyBytes?: number;
  /** Ingress header/request/idle/keep-alive timeouts and connection cap (defaults in IngressLimits). */
  ingressLimits?: IngressLimits;
  channelCapacity?: number;
  /** Bytes an InMemoryChannel holds when its spec sets no `capacityBytes` (default 64 MiB). */
  channelCapacityBytes?: number;
  /** Bytes all in-memory channels together hold before ingress answers 429 (`--max-buffered-bytes`; default a quarter of the heap limit). */
  maxBufferedBytes?: number;
  defaultChannelTemplate?: ChannelTemplate;
  drainTimeoutMs?: number;
  /** Per-attempt delivery timeout when a subscription sets none. */
  deliveryTimeoutMs?: number;
  /** POST to subscribers from a delivery thread (`--delivery-thread` / `--no-delivery-thread`; default: on 3 cores or more). */
  deliveryThread?: boolean;
  /** Registers extra channel backends before resources are applied. */
  registerChannels?: (registry: ChannelRegistry) => void;
  defaultMetrics?: boolean;
  /** Spans and trace context (loadTracing, from `--otlp-endpoint`); default: ids propagated, no spans. The server shuts it down. */
  tracing?: Tracing;
  /** Kubernetes access for apps/v1 Deployment refs (scaled to zero by the activator); loaded on first use. */
  kubeConfig?: () => KubeConfig;
  /**
   * The cluster's DNS domain, for refs to core `v1` Services (`http://<name>.<ns>.svc.<domain>/`).
   * Default: `$CLUSTER_DOMAIN` or `cluster.local` when Sluice runs in a pod (KUBERNETES_SERVICE_HOST
   * is set), none outside a cluster, where such names do not resolve.
   */
  clusterDomain?: string | undefined;
  /** Activator overrides (held-queue size and timeout, process scaler options) for Services. */
  activator?: Omit<ActivatorOptions, 'logger' | 'registry'>;
  /** Event inspector limits (live-stream buffers, history sizes, rate window). */
  inspector?: Omit<InspectorOptions, 'logger'>;
  /** `--kubeconfig` for ApiServerSources; else KUBECONFIG, else the in-cluster service account. */
  kubeconfigPath?: string;
  /** Source tuning (start retries, emit retries, status refresh); tests shorten the waits. */
  sources?: Omit<SourcesReconcilerOptions, 'sinkBindings' | 'kubeconfigPath' | 'kubeConfig' | 'localIngressUrl'>;
  /** Bearer token the admin API's `/api/` routes require (`--admin-token`); none: open (loopback by default). */
  adminToken?: string;
  /**
   * TLS for the admin port (`--admin-tls-cert`, `--admin-tls-key`). kubectl sends a
   * kubeconfig's token only over TLS, so a token-protected admin port needs it for kubectl.
   */
  adminTls?: { cert: string | Buffer; key: string | Buffer };
  /** More `Host` names the admin port answers besides loopback and a specific adminHost (`--admin-allowed-hosts`). */
  adminAllowedHosts?: string[];
  /** Where resources applied through the admin API are kept across restarts (`--data-dir`); none: memory only. */
  dataDir?: string;
  /**
   * Kinds an embedder adds besides Sluice's own (definitions, source runners, or kinds with
   * their own reconciler): accepted by the admin API and file watcher of this server.
   */
  kinds?: readonly KindEntry[];
  /** Quiet time after a change to a watched `-f` file before it is re-read (default 250 ms). */
  watchDebounceMs?: number;
  /**
   * How Services and ContainerSources with an image run (`--container-runtime`): a Docker
   * or Podman CLI, the first that works (`auto`, the default), or `none`. Detected on the
   * first resource that needs it.
   */
  containerRuntime?: ContainerRuntimeChoice;
  /** A prepared container runtime (tests); overrides `containerRuntime`. */
  containers?: ContainerSupport;
}

export const IN_MEMORY_TEMPLATE: ChannelTemplate = { apiVersion: 'messaging.knative.dev/v1', kind: 'InMemoryChannel' };

/**
 * One Sluice broker: the runtime plus its two HTTP apps (public ingress, admin).
 * `listen()` binds both; `close()` stops accepting (503), drains, and closes.
 */
export class SluiceServer {
  readonly metrics: Metrics;
  readonly targets = new IngressTargets();
  readonly runtime: SluiceRuntime;
  readonly channelRegistry = new ChannelRegistry();
  readonly dispatcher: Dispatcher;
  readonly ingress: FastifyInstance;
  /** W3C trace context on every hop; OpenTelemetry spans exported when otlpTracesUrl is set. */
  readonly tracing: Tracing;
  readonly displays = new EventDisplayReconciler();
  /** Brokers (address phase) and, through `brokers.triggers`, their Triggers (consumer phase). */
  readonly brokers = new BrokerReconciler({ localIngressUrl: () => this.ingressUrl || undefined });
  /** `serving.knative.dev/v1` Services (scale to zero) and apps/v1 Deployment refs. */
  readonly services: ServiceReconciler;
  /** Live tail, recent deliveries, dead letters and rates for the admin page. */
  readonly inspector: Inspector;
  /** Dead letters (in memory, or in the durable channel's backend), listed and redriven through the admin API. */
  readonly deadLetters: DeadLetters;
  /** The connections of the durable channel kinds, NATS and Redis (lazy). */
  readonly durableBackends: DurableBackends;
  /** GitHub, Ping, ApiServer and Container sources, and SinkBindings. */
  readonly sources: SourcesReconciler;
  /** Which SinkBindings apply to the processes Sluice runs (ContainerSources, local Service replicas). */
  readonly sinkBindings = new SinkBindingIndex();
  /** Docker/Podman for Services and ContainerSources with an image. */
  readonly containers: ContainerSupport;
  /** `sinks.knative.dev/v1alpha1` JobSinks: a job (process or container) per event. */
  readonly jobSinks: JobSinkReconciler;
  /** `-f` files (watched) plus admin API changes (saved under dataDir), applied live. */
  readonly liveConfig: LiveConfig;
  admin!: FastifyInstance;
  /** The Kubernetes view of the resources kubectl reads and watches (set by listen()). */
  kubeStore: KubeObjectStore | undefined;
  #o: SluiceServerOptions;
  /** The kinds the admin API accepts: the same registry `sluice start` loads files with. */
  #kinds: ReturnType<typeof createSluiceKinds>;
  #draining = false;
  #ownAddresses: OwnAddresses;
  /** Bytes held by every in-memory channel of this server, bounded by `maxBufferedBytes`. */
  readonly bufferBudget: BufferBudget;
  /** How events enter a channel, broker or display: from the ingress, and in process from Sluice's own hops. */
  readonly acceptEvents: AcceptEvents;
  #closed: Promise<void> | undefined;
  ingressUrl = '';
  adminUrl = '';

  constructor(options: SluiceServerOptions) {
    this.#o = options;
    this.#kinds = createSluiceKinds(options.kinds);
    const maxBody = options.maxBodyBytes ?? 1024 * 1024;
    if (!Number.isInteger(maxBody) || maxBody < 1) throw new InvalidOptionError('maxBodyBytes must be a positive integer');
    this.metrics = new Metrics({ defaultMetrics: options.defaultMetrics ?? false });
    this.bufferBudget = new BufferBudget(options.maxBufferedBytes);
    this.channelRegistry.register(
      'InMemoryChannel',
      createMemoryChannelFactory({ defaultCapacity: options.channelCapacity, defaultCapacityBytes: options.channelCapacityBytes, budget: this.bufferBudget }),
    );
    this.durableBackends = new DurableBackends({ ...options, metrics: this.metrics }); // each backend takes its options by name
    // Caller-registered backends first: they may bring their own NATS or Redis channel factory.
    options.registerChannels?.(this.channelRegistry);
    this.durableBackends.register(this.channelRegistry);
    this.inspector = new Inspector({ ...options.inspector, logger: options.logger.child({ component: 'inspector' }) });
    this.tracing = options.tracing ?? TRACING_OFF;
    this.acceptEvents = createAcceptEvents({ metrics: this.metrics, tracing: this.tracing, onAccepted: (target, events) => this.inspector.onAccepted(target, events) });
    this.#ownAddresses = new OwnAddresses(this.targets, () => this.#ownBases(), this.acceptEvents);
    this.deadLetters = new DeadLetters({
      logger: options.logger.child({ component: 'deadletters' }),
      resources: () => [...this.runtime.list('Subscription'), ...this.runtime.list('Trigger')].map((l) => l.resource),
      isClosed: () => this.dispatcher.closed,
      // Subscriptions on NatsJetStreamChannels and RedisChannels keep their dead letters in that backend.
      backends: durableDeadLetterStores((kind) => this.durableBackends.connection(kind)),
      // A Trigger's dead letters go where its Broker's backing channel keeps events.
      channelKindOf: (ns, name, owner) =>
        owner === 'Trigger' ? this.brokers.instances.get(nsKey(ns, name))?.backendKind : this.runtime.channelStats().find((c) => c.namespace === ns && c.name === name)?.kind,
    });
    // Records each subscription's current delivery target and handler, which a redrive sends through.
    this.dispatcher = new TargetRecordingDispatcher({
      directory: this.deadLetters.directory,
      logger: options.logger.child({ component: 'dispatcher' }),
      metrics: this.metrics,
      tracing: this.tracing,
      observer: observeAll(this.inspector, this.deadLetters),
      local: this.#ownAddresses.resolve,
      ...(options.deliveryTimeoutMs ? { defaultTimeoutMs: options.deliveryTimeoutMs } : {}),
      ...(options.deliveryThread !== undefined ? { deliveryThread: options.deliveryThread } : {}),
    });
    const port = options.port ?? 8080;
    const publicUrl = options.publicUrl ?? `http://${hostForUrl(options.host)}:${port}`;
    this.runtime = new SluiceRuntime({
      logger: options.logger,
      metrics: this.metrics,
      dispatcher: this.dispatcher,
      channelRegistry: this.channelRegistry,
      targets: this.targets,
      publicUrl,
      defaultChannelTemplate: options.defaultChannelTemplate ?? IN_MEMORY_TEMPLATE,
    });
    // Per-address ingress tokens: the Secret named by the channel's or Broker's annotation, read per request.
    this.targets.authorize = (target, headers) => {
      const r = this.runtime.resourceAt(target);
      return r ? checkIngressToken(r.metadata, (ns, n) => this.runtime.getSecret(ns, n), headers) : undefined;
    };
    this.liveConfig = new LiveConfig({
      runtime: this.runtime,
      registry: this.#kinds,
      ...(options.defaultChannelTemplate ? { defaultChannelTemplate: options.defaultChannelTemplate } : {}),
      ...(options.dataDir ? { dataDir: options.dataDir } : {}),
      ...(options.watchDebounceMs ? { watchDebounceMs: options.watchDebounceMs } : {}),
      logger: options.logger,
    });
    this.containers =
      options.containers ??
      new ContainerSupport({
        choice: options.containerRuntime ?? 'auto',
        logger: options.logger,
        // A container on the runtime's bridge reaches the host through its gateway, where
        // an ingress bound to loopback only does not listen: then containers share the host's network.
        network: isLoopbackHost(options.host ?? '0.0.0.0') ? 'host' : 'bridge',
      });
    this.services = new ServiceReconciler({
      containers: this.containers,
      logger: options.logger,
      registry: this.metrics.registry,
      ...(options.kubeConfig ? { kubeConfig: options.kubeConfig } : {}),
      ...(options.activator ? { activator: options.activator } : {}),
      // Local replicas get K_SINK/K_CE_OVERRIDES from the SinkBindings that select their Service.
      bindingEnv: serviceBindingEnv(this.sinkBindings, this.runtime),
      clusterDomain: 'clusterDomain' in options ? options.clusterDomain : defaultClusterDomain(process.env),
    });
    this.sources = new SourcesReconciler({
      runners: sourceRunners(options.kinds),
      ...options.sources,
      sinkBindings: this.sinkBindings,
      kubeconfigPath: options.kubeconfigPath,
      kubeConfig: options.kubeConfig,
      containers: this.containers,
      // Emits to Sluice's own channels stay on this host even when --public-url is a tunnel.
      localIngressUrl: () => this.ingressUrl || undefined,
    });
    this.jobSinks = new JobSinkReconciler({ containers: this.containers, budget: this.bufferBudget, journalDir: options.dataDir ? join(options.dataDir, 'jobsinks') : undefined, metrics: this.metrics });
    for (const r of [this.displays, this.brokers, this.brokers.triggers, this.services, this.sources, this.jobSinks, ...kindReconcilers(options.kinds)]) this.runtime.addReconciler(r);
    this.ingress = createIngressApp({
      targets: this.targets,
      logger: options.logger,
      metrics: this.metrics,
      maxBodyBytes: maxBody,
      ...options.ingressLimits,
      isDraining: () => this.#draining,
      tracing: this.tracing,
      acceptEvents: this.acceptEvents,
    });
  }

  /** Binds the ingress and admin ports. With port 0, the runtime's public URL follows the bound port. */
  async listen(): Promise<void> {
    const o = this.#o;
    const kube = kubeApi({ registry: this.#kinds, live: this.liveConfig, runtime: this.runtime, isDraining: () => this.#draining });
    this.kubeStore = kube.store;
    this.admin = await createAdminApp({
      runtime: this.runtime,
      metrics: this.metrics,
      logger: o.logger,
      ...(o.adminToken !== undefined ? { token: o.adminToken } : {}),
      adminHost: o.adminHost ?? '127.0.0.1',
      ...(o.adminTls ? { tls: o.adminTls } : {}),
      ...(o.adminAllowedHosts ? { allowedHosts: o.adminAllowedHosts } : {}),
      resolveKind: (input) => resolveKindName(this.#kinds, input),
      plugins: [
        adminResourcesPlugin(this.liveConfig, this.runtime, this.#kinds, { isDraining: () => this.#draining }),
        kube.plugin,
        // GET /api/v1/deadletters is served by the dead-letter routes, below.
        inspectorRoutes({ inspector: this.inspector, runtime: this.runtime, logger: o.logger.child({ component: 'inspector' }) }),
        this.deadLetters.routes(),
        this.jobSinks.adminRoutes(),
        (app) => {
          app.get('/api/v1/displays/:namespace/:name', async (req) => {
            const p = req.params as { namespace: string; name: string };
            const d = this.displays.displays.get(nsKey(p.namespace, p.name));
            if (!d) throw new NotFoundError(`EventDisplay ${p.namespace}/${p.name} not found`);
            return { items: d.recent() };
          });
        },
      ],
    });
    // Taking events means delivering them at once: the delivery thread (started with the
    // dispatcher, and loading meanwhile) must be up before the ingress port opens.
    await this.dispatcher.ready();
    this.ingressUrl = await this.ingress.listen({ port: o.port ?? 8080, host: o.host ?? '0.0.0.0' });
    const addr = this.ingress.server.address();
    const boundPort = typeof addr === 'object' && addr ? addr.port : (o.port ?? 8080);
    this.ingressUrl = `http://${hostForUrl(o.host)}:${boundPort}`;
    if (!o.publicUrl && (o.port ?? 8080) === 0) this.runtime.setPublicUrl(this.ingressUrl);
    this.adminUrl = await this.admin.listen({ port: o.adminPort ?? 9090, host: o.adminHost ?? '127.0.0.1' });
    const aaddr = this.admin.server.address();
    if (typeof aaddr === 'object' && aaddr) this.adminUrl = `${o.adminTls ? 'https' : 'http'}://${hostForUrl(o.adminHost ?? '127.0.0.1')}:${aaddr.port}`;
  }

  /** This server's public URL and its bound ingress address: URLs under them are its own. */
  #ownBases(): readonly string[] {
    return [this.runtime?.publicUrl ?? '', this.ingressUrl];
  }

  get draining(): boolean {
    return this.#draining;
  }

  /** Graceful stop: new events get 503, accepted ones are delivered until the drain deadline. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#draining = true;
      this.liveConfig.close();
      this.kubeStore?.close();
      const deadline = Date.now() + (this.#o.drainTimeoutMs ?? 30_000);
      await this.runtime.close(deadline);
      // After the drain, so the last deliveries' spans are exported too.
      await this.tracing.shutdown();
      await this.durableBackends.close().catch((err: unknown) => this.#o.logger.warn({ err }, 'closing NATS/Redis connections failed'));
      // The admin port holds no events: a client that keeps a connection open past 2 s
      // (a stuck keep-alive, a stream) must not hold up the exit.
      const adminForce = setTimeout(() => this.admin?.server.closeAllConnections(), 2000);
      await Promise.allSettled([this.ingress.close(), this.admin?.close()]);
      clearTimeout(adminForce);
      this.inspector.close();
    })();
    return this.#closed;
  }
}

/** 0.0.0.0 and :: are bind-all addresses, not ones a client can dial. */
function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

function hostForUrl(host: string | undefined): string {
  if (!host || host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

/** `$CLUSTER_DOMAIN`, else `cluster.local` (Knative also looks in /etc/resolv.conf), and only inside a cluster. */
export function defaultClusterDomain(env: NodeJS.ProcessEnv): string | undefined {
  if (!env.KUBERNETES_SERVICE_HOST) return undefined;
  return env.CLUSTER_DOMAIN || 'cluster.local';
}
