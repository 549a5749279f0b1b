import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { ChannelRegistry } from '../channels/registry.js';
import { createMemoryChannelFactory } from '../channels/memory/index.js';
import { Dispatcher } from '../dispatcher/index.js';
import { Metrics } from '../observability/metrics.js';
import type { ChannelTemplate } from '../resources/types.js';
import { SluiceRuntime } from '../runtime/runtime.js';
import { createAdminApp } from './admin.js';
import { createIngressApp } from './ingress.js';
import { IngressTargets } from './targets.js';
import { InvalidOptionError, NotFoundError } from '../errors.js';
import { EventDisplayReconciler } from '../display/index.js';

export interface SluiceServerOptions {
  logger: Logger;
  port?: number;
  host?: string;
  adminPort?: number;
  adminHost?: string;
  /** Base URL Sluice uses for its own addresses; defaults to http://<host or 127.0.0.1>:<port>. */
  publicUrl?: string;
  maxBodyBytes?: number;
  channelCapacity?: number;
  defaultChannelTemplate?: ChannelTemplate;
  drainTimeoutMs?: number;
  /** Per-attempt delivery timeout when a subscription sets none. */
  deliveryTimeoutMs?: number;
  /** Registers extra channel backends (NATS, Redis) before resources are applied. */
  registerChannels?: (registry: ChannelRegistry) => void;
  defaultMetrics?: boolean;
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
  readonly displays = new EventDisplayReconciler();
  admin!: FastifyInstance;
  #o: SluiceServerOptions;
  #draining = false;
  #closed: Promise<void> | undefined;
  ingressUrl = '';
  adminUrl = '';

  constructor(options: SluiceServerOptions) {
    this.#o = options;
    const maxBody = options.maxBodyBytes ?? 1024 * 1024;
    if (!Number.isInteger(maxBody) || maxBody < 1) throw new InvalidOptionError('maxBodyBytes must be a positive integer');
    this.metrics = new Metrics({ defaultMetrics: options.defaultMetrics ?? false });
    this.channelRegistry.register('InMemoryChannel', createMemoryChannelFactory({ defaultCapacity: options.channelCapacity }));
    options.registerChannels?.(this.channelRegistry);
    this.dispatcher = new Dispatcher({
      logger: options.logger.child({ component: 'dispatcher' }),
      metrics: this.metrics,
      ...(options.deliveryTimeoutMs ? { defaultTimeoutMs: options.deliveryTimeoutMs } : {}),
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
    this.runtime.addReconciler(this.displays);
    this.ingress = createIngressApp({
      targets: this.targets,
      logger: options.logger,
      metrics: this.metrics,
      maxBodyBytes: maxBody,
      isDraining: () => this.#draining,
    });
  }

  /** Binds the ingress and admin ports. With port 0, the runtime's public URL follows the bound port. */
  async listen(): Promise<void> {
    const o = this.#o;
    this.admin = await createAdminApp({
      runtime: this.runtime,
      metrics: this.metrics,
      logger: o.logger,
      plugins: [
        (app) => {
          app.get('/api/v1/displays/:namespace/:name', async (req) => {
            const p = req.params as { namespace: string; name: string };
            const d = this.displays.displays.get(`${p.namespace}/${p.name}`);
            if (!d) throw new NotFoundError(`EventDisplay ${p.namespace}/${p.name} not found`);
            return { items: d.recent() };
          });
        },
      ],
    });
    this.ingressUrl = await this.ingress.listen({ port: o.port ?? 8080, host: o.host ?? '0.0.0.0' });
    const addr = this.ingress.server.address();
    const boundPort = typeof addr === 'object' && addr ? addr.port : (o.port ?? 8080);
    this.ingressUrl = `http://${hostForUrl(o.host)}:${boundPort}`;
    if (!o.publicUrl && (o.port ?? 8080) === 0) this.runtime.setPublicUrl(this.ingressUrl);
    this.adminUrl = await this.admin.listen({ port: o.adminPort ?? 9090, host: o.adminHost ?? '127.0.0.1' });
    const aaddr = this.admin.server.address();
    if (typeof aaddr === 'object' && aaddr) this.adminUrl = `http://${hostForUrl(o.adminHost ?? '127.0.0.1')}:${aaddr.port}`;
  }

  get draining(): boolean {
    return this.#draining;
  }

  /** Graceful stop: new events get 503, accepted ones are delivered until the drain deadline. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#draining = true;
      const deadline = Date.now() + (this.#o.drainTimeoutMs ?? 30_000);
      await this.runtime.close(deadline);
      await Promise.allSettled([this.ingress.close(), this.admin?.close()]);
    })();
    return this.#closed;
  }
}

/** 0.0.0.0 and :: are bind-all addresses, not ones a client can dial. */
function hostForUrl(host: string | undefined): string {
  if (!host || host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}
