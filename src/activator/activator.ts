import type { Registry } from 'prom-client';
import type { Logger } from '../observability/logger.js';
import { ServiceUnavailableError } from '../errors.js';
import type { ServiceConfig } from './service-spec.js';
import type { Scaler } from './scaler.js';
import { ActivatorMetrics } from './activator-metrics.js';
import { ProcessScaler, type ProcessScalerOptions } from './process-scaler.js';
import { ServiceActivator, type EndpointResolver, type Lease, type ServiceStatus } from './service-activator.js';

export type ScalerFactory = (service: ServiceConfig, logger: Logger) => Scaler;

export interface ActivatorOptions {
  logger: Logger;
  /** Metrics are registered here (the broker's registry); none when omitted. */
  registry?: Registry;
  /** Held requests per service before 503 (default 10,000). */
  queueSize?: number;
  /** How long a request is held waiting for a replica before 503 (default 300 s). */
  queueTimeoutMs?: number;
  /** Builds the scaler for a service; defaults to local processes (ProcessScaler). */
  scalerFactory?: ScalerFactory;
  /** Options for the default ProcessScaler (probe period, grace, base dir for workingDir). */
  process?: Omit<ProcessScalerOptions, 'service' | 'logger'>;
}

/**
 * All scaled services of one broker, keyed `namespace/name`. The runtime calls `apply`
 * when a Service resource appears or changes and `remove` when it goes; the dispatcher
 * and the HTTP proxy get requests through `resolver(key)`.
 */
export class Activator {
  readonly #opts: ActivatorOptions;
  readonly #log: Logger;
  readonly #metrics: ActivatorMetrics | undefined;
  readonly #services = new Map<string, { svc: ServiceActivator; fingerprint: string }>();
  #closed = false;

  constructor(options: ActivatorOptions) {
    this.#opts = options;
    this.#log = options.logger.child({ component: 'activator' });
    this.#metrics = options.registry ? new ActivatorMetrics(options.registry) : undefined;
  }

  /**
   * Starts the service, or restarts it when its config changed (an unchanged config is a
   * no-op). `scaler` overrides the factory (e.g. a KubeDeploymentScaler for a Deployment ref).
   */
  async apply(service: ServiceConfig, scaler?: Scaler): Promise<ServiceActivator> {
    if (this.#closed) throw new ServiceUnavailableError('the activator is shut down');
    const fingerprint = JSON.stringify(service);
    const existing = this.#services.get(service.key);
    if (existing && existing.fingerprint === fingerprint && !scaler) return existing.svc;
    if (existing) {
      this.#log.info({ service: service.key }, 'service changed: replacing its replicas');
      this.#services.delete(service.key);
      await existing.svc.close();
    }
    const sc = scaler ?? (this.#opts.scalerFactory ?? this.#defaultFactory)(service, this.#log);
    const svc = new ServiceActivator({
      service,
      scaler: sc,
      logger: this.#log,
      ...(this.#metrics ? { metrics: this.#metrics } : {}),
      ...(this.#opts.queueSize !== undefined ? { queueSize: this.#opts.queueSize } : {}),
      ...(this.#opts.queueTimeoutMs !== undefined ? { queueTimeoutMs: this.#opts.queueTimeoutMs } : {}),
    });
    this.#services.set(service.key, { svc, fingerprint });
    await svc.start();
    return svc;
  }

  get(key: string): ServiceActivator | undefined {
    return this.#services.get(key)?.svc;
  }

  /**
   * An EndpointResolver for the dispatcher that looks the service up per call, so a
   * service replaced by `apply` is picked up and a removed one answers 503.
   */
  resolver(key: string): EndpointResolver {
    return {
      acquire: (signal: AbortSignal): Promise<Lease> => {
        const svc = this.#services.get(key)?.svc;
        if (!svc) return Promise.reject(new ServiceUnavailableError(`Service ${key} is not running`));
        return svc.acquire(signal);
      },
    };
  }

  async remove(key: string): Promise<void> {
    const entry = this.#services.get(key);
    if (!entry) return;
    this.#services.delete(key);
    await entry.svc.close();
  }

  /** Per service: replicas desired/ready, in flight, held, last cold start. */
  status(): Record<string, ServiceStatus> {
    const out: Record<string, ServiceStatus> = {};
    for (const [key, { svc }] of this.#services) out[key] = svc.status();
    return out;
  }

  /** Stops every service and its replicas (held requests get 503). */
  async close(): Promise<void> {
    this.#closed = true;
    const all = [...this.#services.values()];
    this.#services.clear();
    await Promise.all(all.map((e) => e.svc.close()));
  }

  readonly #defaultFactory: ScalerFactory = (service, logger) => new ProcessScaler({ ...this.#opts.process, service, logger });
}
