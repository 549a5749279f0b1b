import type { Logger } from '../observability/logger.js';
import { ActivatorQueueFullError, ActivatorTimeoutError, ServiceUnavailableError } from '../errors.js';
import type { ServiceConfig } from './service-spec.js';
import type { Endpoint, Scaler, ScalerStatus } from './scaler.js';
import type { ActivatorMetrics } from './activator-metrics.js';
import { HeldQueue, type Held, type Lease } from './held-queue.js';

export type { Lease };

/** What the dispatcher calls per delivery (src/dispatcher's `EndpointResolver`). */
export interface EndpointResolver {
  acquire(signal: AbortSignal): Promise<Lease>;
}

export interface ServiceStatus {
  key: string;
  scaler: 'process' | 'container' | 'kubernetes';
  replicas: ScalerStatus;
  inFlight: number;
  queued: number;
  lastColdStart?: { at: string; durationMs: number };
  /** A cold start is under way since this time. */
  wakingSince?: string;
}

export interface ServiceActivatorOptions {
  service: ServiceConfig;
  scaler: Scaler;
  logger: Logger;
  metrics?: ActivatorMetrics;
  /** Held requests per service before 503 (default 10,000; the annotation wins). */
  queueSize?: number;
  /** How long a request is held before 503 (default 300 s; the annotation wins). */
  queueTimeoutMs?: number;
}

/**
 * The activator for one service: routes each request to the least-loaded ready replica
 * that has capacity (`containerConcurrency`), holds requests in arrival order while
 * none has (bounded, with a timeout), and decides the replica count from concurrency
 * (in flight + held): up at once when it exceeds `target` × replicas, down only when
 * the peak over the whole `window` allows it, to zero once idle for the window and the
 * retention period. With warm replicas `acquire` resolves without any I/O.
 */
export class ServiceActivator implements EndpointResolver {
  readonly #svc: ServiceConfig;
  readonly #scaler: Scaler;
  readonly #log: Logger;
  readonly #metrics: ActivatorMetrics | undefined;
  readonly #labels: { namespace_name: string; resource: string };
  readonly #queueSize: number;
  readonly #queueTimeoutMs: number;
  readonly #capacityPerSlot: number;
  readonly #queue = new HeldQueue();
  readonly #inflight = new Map<string, number>();
  readonly #draining = new Map<string, Array<() => void>>();
  #total = 0;
  #desired = 0;
  #peak = 0;
  #samples: Array<{ t: number; want: number }> = [];
  #lastScaleUpAt = 0;
  #downSince: number | undefined;
  #lastActivity = Date.now();
  #wakingSince: number | undefined;
  #lastColdStart: { at: string; durationMs: number } | undefined;
  #tick: NodeJS.Timeout | undefined;
  #closed = false;
  readonly #readyWaiters = new Set<() => void>();
  readonly #idleWaiters = new Set<() => void>();

  constructor(options: ServiceActivatorOptions) {
    this.#svc = options.service;
    this.#scaler = options.scaler;
    this.#log = options.logger.child({ service: options.service.key });
    this.#metrics = options.metrics;
    this.#labels = { namespace_name: options.service.namespace, resource: options.service.name };
    this.#queueSize = options.service.autoscale.queueSize ?? options.queueSize ?? 10_000;
    this.#queueTimeoutMs = options.service.autoscale.queueTimeoutMs ?? options.queueTimeoutMs ?? 300_000;
    this.#capacityPerSlot = options.service.containerConcurrency > 0 ? options.service.containerConcurrency : Infinity;
    this.#scaler.attach({
      endpointsChanged: () => this.#onEndpointsChanged(),
      drain: (id) => this.#drain(id),
    });
  }

  get key(): string {
    return this.#svc.key;
  }

  /**
   * Starts `max(initial-scale, min-scale, atLeast)` replicas and the autoscaling loop.
   * `atLeast` is the replica count of the version being replaced in a rolling update; a
   * scale-up already asked for by requests that arrived before `start` is kept too.
   */
  async start(atLeast = 0): Promise<void> {
    const a = this.#svc.autoscale;
    const initial = this.#clamp(Math.max(a.initialScale, a.minScale, atLeast, this.#desired));
    this.#lastScaleUpAt = Date.now();
    this.#desired = initial;
    this.#gauges();
    // Always told, even 0: a Kubernetes scaler adopts the count (its Deployment may be running).
    await this.#scaler.setScale(initial).catch((err: unknown) => this.#log.error({ err }, 'scaler refused the initial scale'));
    const tickMs = Math.min(1000, Math.max(10, Math.floor(a.windowMs / 10)));
    this.#tick = setInterval(() => this.#autoscale(), tickMs);
    this.#tick.unref();
  }

  acquire(signal?: AbortSignal): Promise<Lease> {
    if (this.#closed) return Promise.reject(new ServiceUnavailableError(`Service ${this.#svc.key} is not running`));
    if (signal?.aborted) return Promise.reject(signal.reason);
    this.#lastActivity = Date.now();
    if (this.#queue.length === 0) {
      const ep = this.#pick();
      if (ep) {
        const lease = this.#lease(ep);
        this.#scaleUpIfNeeded();
        return Promise.resolve(lease);
      }
    }
    if (this.#queue.length >= this.#queueSize) {
      this.#metrics?.rejected.inc({ ...this.#labels, reason: 'queue_full' });
      return Promise.reject(new ActivatorQueueFullError(`Service ${this.#svc.key}: ${this.#queue.length} requests already held waiting for a replica (limit ${this.#queueSize})`));
    }
    return new Promise<Lease>((resolve, reject) => {
      const held: Held = { resolve, reject, since: Date.now(), ...(signal ? { signal } : {}) };
      held.timer = setTimeout(() => {
        if (!this.#queue.remove(held)) return;
        held.cleanup?.();
        this.#metrics?.rejected.inc({ ...this.#labels, reason: 'timeout' });
        this.#gauges();
        reject(new ActivatorTimeoutError(`Service ${this.#svc.key}: no ready replica within ${this.#queueTimeoutMs} ms`));
      }, this.#queueTimeoutMs);
      if (signal) {
        const onAbort = () => {
          if (!this.#queue.remove(held)) return;
          clearTimeout(held.timer);
          this.#gauges();
          reject(signal.reason);
        };
        signal.addEventListener('abort', onAbort, { once: true });
        held.cleanup = () => signal.removeEventListener('abort', onAbort);
      }
      this.#queue.push(held);
      this.#gauges();
      this.#scaleUpIfNeeded();
    });
  }

  status(): ServiceStatus {
    return {
      key: this.#svc.key,
      scaler: this.#scaler.kind,
      replicas: { ...this.#scaler.status(), desired: this.#desired },
      inFlight: this.#total,
      queued: this.#queue.length,
      ...(this.#lastColdStart ? { lastColdStart: this.#lastColdStart } : {}),
      ...(this.#wakingSince ? { wakingSince: new Date(this.#wakingSince).toISOString() } : {}),
    };
  }

  /** Resolves once a replica is ready (at once if one is); rejects when `signal` aborts or the service closes. */
  whenReady(signal?: AbortSignal): Promise<void> {
    if (this.#scaler.endpoints().length > 0) return Promise.resolve();
    if (this.#closed) return Promise.reject(new ServiceUnavailableError(`Service ${this.#svc.key} is not running`));
    return new Promise<void>((resolve, reject) => {
      const done = () => {
        this.#readyWaiters.delete(done);
        signal?.removeEventListener('abort', onAbort);
        if (this.#closed) reject(new ServiceUnavailableError(`Service ${this.#svc.key} was stopped before a replica was ready`));
        else resolve();
      };
      const onAbort = () => {
        this.#readyWaiters.delete(done);
        reject(signal?.reason ?? new Error('aborted'));
      };
      if (signal?.aborted) return onAbort();
      this.#readyWaiters.add(done);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * Rolling update: moves every held request, oldest first, to `next` (the new version
   * of this service), so nothing waiting is answered 503 because the template changed.
   */
  handOver(next: ServiceActivator): void {
    for (let h = this.#queue.shift(); h; h = this.#queue.shift()) {
      clearTimeout(h.timer);
      h.cleanup?.();
      next.acquire(h.signal).then(h.resolve, h.reject);
    }
    this.#gauges();
  }

  /** Sets the gauges again (the version it replaced removed the shared series when it closed). */
  refreshMetrics(): void {
    if (!this.#closed) this.#gauges();
  }

  /** Resolves once no request is in flight, or after `timeoutMs`, whichever comes first. */
  idle(timeoutMs: number): Promise<void> {
    if (this.#total === 0 || this.#closed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#idleWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      timer.unref();
      this.#idleWaiters.add(done);
    });
  }

  /** Rejects held requests (503), stops the autoscaling loop and the replicas. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#tick);
    for (const w of [...this.#readyWaiters]) w();
    for (const w of [...this.#idleWaiters]) w();
    for (let h = this.#queue.shift(); h; h = this.#queue.shift()) {
      clearTimeout(h.timer);
      h.cleanup?.();
      h.reject(new ServiceUnavailableError(`Service ${this.#svc.key} was stopped while the request was held`));
    }
    for (const waiters of this.#draining.values()) for (const w of waiters) w();
    this.#draining.clear();
    this.#gauges();
    this.#metrics?.replicas.remove({ ...this.#labels, state: 'desired' });
    this.#metrics?.replicas.remove({ ...this.#labels, state: 'ready' });
    await this.#scaler.close();
  }

  // ---- routing ----

  /** Least-loaded ready endpoint with a free slot, or undefined. */
  #pick(): Endpoint | undefined {
    let best: Endpoint | undefined;
    let bestLoad = Infinity;
    for (const ep of this.#scaler.endpoints()) {
      if (this.#draining.has(ep.id)) continue;
      const n = this.#inflight.get(ep.id) ?? 0;
      if (n >= this.#capacityPerSlot * ep.slots) continue;
      const load = n / ep.slots;
      if (load < bestLoad) {
        best = ep;
        bestLoad = load;
      }
    }
    return best;
  }

  #lease(ep: Endpoint): Lease {
    const id = ep.id;
    this.#inflight.set(id, (this.#inflight.get(id) ?? 0) + 1);
    this.#total++;
    if (this.#total + this.#queue.length > this.#peak) this.#peak = this.#total + this.#queue.length;
    this.#metrics?.inFlight.set(this.#labels, this.#total);
    let released = false;
    return {
      url: ep.url,
      release: () => {
        if (released) return;
        released = true;
        this.#total--;
        const left = (this.#inflight.get(id) ?? 1) - 1;
        if (left > 0) this.#inflight.set(id, left);
        else {
          this.#inflight.delete(id);
          const drained = this.#draining.get(id);
          if (drained) {
            this.#draining.delete(id);
            for (const w of drained) w();
          }
        }
        this.#lastActivity = Date.now();
        this.#metrics?.inFlight.set(this.#labels, this.#total);
        if (this.#queue.length) this.#release();
        if (this.#total === 0) for (const w of [...this.#idleWaiters]) w();
      },
    };
  }

  /** Hands held requests, oldest first, to replicas with a free slot. */
  #release(): void {
    let moved = false;
    while (this.#queue.length) {
      const ep = this.#pick();
      if (!ep) break;
      const h = this.#queue.shift()!;
      clearTimeout(h.timer);
      h.cleanup?.();
      h.resolve(this.#lease(ep));
      moved = true;
    }
    if (moved) this.#gauges();
  }

  #drain(id: string): Promise<void> {
    if (!this.#inflight.get(id)) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const list = this.#draining.get(id) ?? [];
      list.push(resolve);
      this.#draining.set(id, list);
    });
  }

  #onEndpointsChanged(): void {
    const ready = this.#scaler.endpoints();
    // Endpoints that vanished without a drain (a crash) keep no routing state.
    for (const id of this.#inflight.keys()) if (!this.#draining.has(id) && !ready.some((e) => e.id === id)) this.#inflight.delete(id);
    if (this.#wakingSince !== undefined && ready.length > 0) {
      const durationMs = Date.now() - this.#wakingSince;
      this.#lastColdStart = { at: new Date(this.#wakingSince).toISOString(), durationMs };
      this.#wakingSince = undefined;
      this.#metrics?.coldStarts.inc(this.#labels);
      this.#metrics?.coldStartDuration.observe(this.#labels, durationMs / 1000);
      this.#log.info({ durationMs, held: this.#queue.length }, 'cold start: service ready');
    }
    this.#release();
    this.#gauges();
    if (ready.length > 0) for (const w of [...this.#readyWaiters]) w();
    // A replica lost while requests wait: make sure the scaler is still asked for enough.
    this.#scaleUpIfNeeded();
  }

  // ---- autoscaling ----

  #clamp(n: number): number {
    const { minScale, maxScale } = this.#svc.autoscale;
    const low = Math.max(n, minScale);
    return maxScale > 0 ? Math.min(low, maxScale) : low;
  }

  #wanted(concurrency: number): number {
    return concurrency > 0 ? Math.max(1, Math.ceil(concurrency / this.#svc.autoscale.target)) : 0;
  }

  #scaleUpIfNeeded(): void {
    if (this.#closed) return;
    const concurrency = this.#total + this.#queue.length;
    if (concurrency > this.#peak) this.#peak = concurrency;
    const want = this.#clamp(this.#wanted(concurrency));
    if (want <= this.#desired && !(this.#queue.length && this.#desired === 0)) return;
    const waking = this.#desired === 0 && this.#scaler.endpoints().length === 0 && this.#wakingSince === undefined;
    if (waking) this.#wakingSince = Date.now();
    // The scaler first (a local replica is spawned right there), the log line after.
    this.#setDesired(Math.max(want, this.#desired));
    if (waking) this.#log.info({ held: this.#queue.length }, 'cold start: waking service');
    this.#lastScaleUpAt = Date.now();
    this.#downSince = undefined;
  }

  #autoscale(): void {
    if (this.#closed) return;
    const now = Date.now();
    const a = this.#svc.autoscale;
    const concurrency = this.#total + this.#queue.length;
    this.#samples.push({ t: now, want: this.#wanted(Math.max(this.#peak, concurrency)) });
    this.#peak = concurrency;
    while (this.#samples.length && this.#samples[0]!.t < now - a.windowMs) this.#samples.shift();
    let windowWant = 0;
    for (const s of this.#samples) if (s.want > windowWant) windowWant = s.want;
    const target = this.#clamp(windowWant);
    if (target >= this.#desired) {
      this.#downSince = undefined;
      return;
    }
    // Down only once a full window has passed since the last scale-up.
    if (now - this.#lastScaleUpAt < a.windowMs) return;
    if (target === 0 && (concurrency > 0 || now - this.#lastActivity < Math.max(a.windowMs, a.retentionMs))) {
      if (this.#desired > 1) this.#stepDown(now, 1);
      return;
    }
    this.#stepDown(now, target);
  }

  #stepDown(now: number, target: number): void {
    if (target >= this.#desired) return;
    this.#downSince ??= now;
    if (now - this.#downSince < this.#svc.autoscale.scaleDownDelayMs) return;
    this.#downSince = undefined;
    if (target === 0) this.#log.info({ idleMs: now - this.#lastActivity }, 'idle: scaling to zero');
    this.#setDesired(target);
  }

  #setDesired(n: number): void {
    if (n === this.#desired) return;
    this.#desired = n;
    this.#scaler.setScale(n).catch((err: unknown) => this.#log.error({ err }, 'scaler refused a scale change'));
    this.#gauges();
  }

  #gauges(): void {
    const m = this.#metrics;
    if (!m) return;
    m.queued.set(this.#labels, this.#queue.length);
    m.replicas.set({ ...this.#labels, state: 'desired' }, this.#desired);
    m.replicas.set({ ...this.#labels, state: 'ready' }, this.#scaler.status().ready);
  }
}
