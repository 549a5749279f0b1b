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
  /** Rolling update: longest wait for the old version's in-flight requests before it is stopped (default 30 s). */
  drainTimeoutMs?: number;
}

interface Entry {
  svc: ServiceActivator;
  fingerprint: string;
}

interface Rollout extends Entry {
  abort: AbortController;
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
  readonly #services = new Map<string, Entry>();
  /** New versions starting in a rolling update, not yet serving. */
  readonly #rollouts = new Map<string, Rollout>();
  /** Old versions draining after a rolling update. */
  readonly #retiring = new Set<ServiceActivator>();
  #closed = false;

  constructor(options: ActivatorOptions) {
    this.#opts = options;
    this.#log = options.logger.child({ component: 'activator' });
    this.#metrics = options.registry ? new ActivatorMetrics(options.registry) : undefined;
  }

  /**
   * Starts the service, or updates it when its config changed (an unchanged config is a
   * no-op). An update rolls: while the current version has ready replicas, the new one
   * starts as many with the new template, takes over once one of them is ready (held
   * requests move to it), and the old one is drained, then stopped. `scaler` overrides
   * the factory (e.g. a KubeDeploymentScaler for a Deployment ref) and always updates.
   */
  async apply(service: ServiceConfig, scaler?: Scaler): Promise<ServiceActivator> {
    if (this.#closed) throw new ServiceUnavailableError('the activator is shut down');
    const key = service.key;
    const fingerprint = JSON.stringify(service);
    const current = this.#services.get(key);
    const pending = this.#rollouts.get(key);
    if (!scaler && pending?.fingerprint === fingerprint) return pending.svc;
    if (pending) {
      // Superseded before it took over: the newest config wins.
      this.#rollouts.delete(key);
      pending.abort.abort();
      await pending.svc.close();
    }
    if (!scaler && current?.fingerprint === fingerprint) return current.svc;
    const svc = this.#create(service, scaler);
    const warm = current?.svc.status().replicas.ready ?? 0;
    if (!current || warm === 0) {
      // Nothing warm to keep serving: switch at once.
      this.#services.set(key, { svc, fingerprint });
      await svc.start();
      if (current) this.#retire(current.svc, svc);
      return svc;
    }
    this.#log.info({ service: key, replicas: warm }, 'service changed: rolling out new replicas');
    const abort = new AbortController();
    this.#rollouts.set(key, { svc, fingerprint, abort });
    await svc.start(warm);
    svc.whenReady(abort.signal).then(
      () => {
        if (this.#rollouts.get(key)?.svc !== svc) return;
        this.#rollouts.delete(key);
        const old = this.#services.get(key);
        this.#services.set(key, { svc, fingerprint });
        this.#log.info({ service: key }, 'rolling update: new replicas serve');
        if (old) this.#retire(old.svc, svc);
      },
      () => {},
    );
    return svc;
  }

  /** A new version of `key` that is starting and does not serve yet (rolling update). */
  pending(key: string): ServiceActivator | undefined {
    return this.#rollouts.get(key)?.svc;
  }

  #create(service: ServiceConfig, scaler?: Scaler): ServiceActivator {
    const sc = scaler ?? (this.#opts.scalerFactory ?? this.#defaultFactory)(service, this.#log);
    return new ServiceActivator({
      service,
      scaler: sc,
      logger: this.#log,
      ...(this.#metrics ? { metrics: this.#metrics } : {}),
      ...(this.#opts.queueSize !== undefined ? { queueSize: this.#opts.queueSize } : {}),
      ...(this.#opts.queueTimeoutMs !== undefined ? { queueTimeoutMs: this.#opts.queueTimeoutMs } : {}),
    });
  }

  /** Hands the old version's held requests to `next`, lets its in-flight ones finish, then stops it. */
  #retire(old: ServiceActivator, next: ServiceActivator): void {
    old.handOver(next);
    this.#retiring.add(old);
    void old
      .idle(this.#opts.drainTimeoutMs ?? 30_000)
      .then(() => old.close())
      .then(() => next.refreshMetrics())
      .catch((err: unknown) => this.#log.warn({ err, service: old.key }, 'stopping the replaced version failed'))
      .finally(() => this.#retiring.delete(old));
  }

  /** Keys (`namespace/name`) of every service applied and not removed. */
  keys(): string[] {
    return [...new Set([...this.#services.keys(), ...this.#rollouts.keys()])];
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
    const pending = this.#rollouts.get(key);
    this.#services.delete(key);
    this.#rollouts.delete(key);
    pending?.abort.abort();
    await Promise.all([entry?.svc.close(), pending?.svc.close()]);
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
    const all = [...this.#services.values(), ...this.#rollouts.values()].map((e) => e.svc);
    for (const r of this.#rollouts.values()) r.abort.abort();
    all.push(...this.#retiring);
    this.#services.clear();
    this.#rollouts.clear();
    await Promise.all(all.map((svc) => svc.close()));
  }

  readonly #defaultFactory: ScalerFactory = (service, logger) => new ProcessScaler({ ...this.#opts.process, service, logger });
}
