import { resolve as resolvePath } from 'node:path';
import type { Logger } from '../observability/logger.js';
import type { SpawnSupervised, SupervisedProcess } from '../process/index.js';
import { InvalidOptionError, ServiceUnavailableError } from '../errors.js';
import { nextBackoffMs } from '../subscriptions/retry-backoff.js';
import type { ReadinessProbe, ServiceConfig } from './service-spec.js';
import type { Endpoint, Scaler, ScalerListener, ScalerStatus } from './scaler.js';
import { probeDelayMs, probeOnce } from './readiness-probe.js';
import { waitForEndpoint } from './wait-for-endpoint.js';
import { ProcessLauncher } from './process-launcher.js';
import type { ReplicaLauncher } from './replica-launcher.js';

export interface ProcessScalerOptions {
  service: ServiceConfig;
  logger: Logger;
  /** Defaults to src/process `spawnSupervised` (no orphans, even if Sluice is SIGKILLed). */
  spawn?: SpawnSupervised;
  /** Interface replicas listen on and are probed at (default 127.0.0.1). */
  host?: string;
  /**
   * Longest wait between two readiness (or startup) probes while a replica starts
   * (default 50 ms). The first probes come 1 ms apart and the wait grows with the time
   * the replica has been starting (see `probeDelayMs`), so a replica is seen ready
   * within about 3 % of its own start time after it listens, not up to a whole period.
   */
  probeIntervalMs?: number;
  /** A replica not ready after this long is stopped and replaced (default 120 s). */
  startTimeoutMs?: number;
  /** SIGTERM-to-SIGKILL grace when stopping a replica (default 10 s). */
  stopGraceMs?: number;
  /** Longest wait for in-flight requests before a scaled-down replica is stopped anyway (default 30 s). */
  drainTimeoutMs?: number;
  /** Base for a relative `workingDir` (default: Sluice's working directory). */
  baseDir?: string;
  /** Extra environment, e.g. `K_SINK` from a SinkBinding; called per replica start. */
  extraEnv?: () => Record<string, string>;
  /**
   * Values of `envFrom` and `env[].valueFrom` (Secrets, ConfigMaps), resolved at each
   * replica start; throws (NotReadyError) when a required one is missing, which fails
   * that start like a crash, with the message in the status.
   */
  resolveEnv?: () => Record<string, string>;
  /** How replicas are started: default, local processes running `command`. */
  launcher?: ReplicaLauncher;
}

type ReplicaState = 'starting' | 'ready' | 'draining' | 'stopping';

interface Replica {
  id: string;
  port: number;
  url: string;
  state: ReplicaState;
  proc?: SupervisedProcess;
  stopGraceMs?: number;
  startedAt: number;
  /** `performance.now()` at launch: the readiness probes' schedule counts from it. */
  launchedAt: number;
  probeTimer?: NodeJS.Timeout;
  livenessTimer?: NodeJS.Timeout;
  livenessFailures: number;
  /** Last stderr line, for the status when the replica exits. */
  lastStderr?: string;
  /** Why Sluice itself stopped a replica that was serving (a failed liveness probe). */
  stoppedFor?: string;
  /** The startupProbe passed (or there is none). */
  started?: boolean;
}

/**
 * Runs a Service's replicas on this host: local child processes (the default launcher)
 * or containers (ContainerLauncher), each on its own port. A replica is ready once its
 * readiness probe passes; one failing its liveness probe is restarted; one that exits
 * unexpectedly is replaced (with a growing delay while it keeps failing before ready,
 * so a broken command does not spin); one removed by a scale-down is drained of
 * in-flight requests first.
 */
export class ProcessScaler implements Scaler {
  readonly kind: 'process' | 'container';
  readonly #svc: ServiceConfig;
  readonly #log: Logger;
  readonly #launcher: ReplicaLauncher;
  readonly #host: string;
  readonly #probeMs: number;
  readonly #startTimeoutMs: number;
  readonly #graceMs: number;
  readonly #drainMs: number;
  readonly #extraEnv: (() => Record<string, string>) | undefined;
  readonly #resolveEnv: (() => Record<string, string>) | undefined;
  readonly #replicas = new Map<string, Replica>();
  #listener: ScalerListener | undefined;
  #desired = 0;
  #seq = 0;
  #restarts = 0;
  #lastError: string | undefined;
  #failStreak = 0;
  #restartTimer: NodeJS.Timeout | undefined;
  #closed = false;
  #endpoints: Endpoint[] = [];
  readonly #changeWaiters = new Set<() => void>();

  constructor(options: ProcessScalerOptions) {
    const c = options.service.container;
    if (!options.launcher && !c.command.length) {
      throw new InvalidOptionError(`Service ${options.service.key}: a command is required to run it as a local process`);
    }
    this.#svc = options.service;
    this.#log = options.logger.child({ service: options.service.key });
    this.#host = options.host ?? '127.0.0.1';
    this.#launcher =
      options.launcher ??
      new ProcessLauncher({
        service: options.service,
        logger: this.#log,
        host: this.#host,
        cwd: c.workingDir ? resolvePath(options.baseDir ?? process.cwd(), c.workingDir) : options.baseDir,
        ...(options.spawn ? { spawn: options.spawn } : {}),
      });
    this.kind = this.#launcher.kind;
    this.#probeMs = options.probeIntervalMs ?? 50;
    this.#startTimeoutMs = options.startTimeoutMs ?? 120_000;
    this.#graceMs = options.stopGraceMs ?? 10_000;
    this.#drainMs = options.drainTimeoutMs ?? 30_000;
    this.#extraEnv = options.extraEnv;
    this.#resolveEnv = options.resolveEnv;
  }

  attach(listener: ScalerListener): void {
    this.#listener = listener;
  }

  async setScale(replicas: number): Promise<void> {
    if (this.#closed) throw new ServiceUnavailableError(`Service ${this.#svc.key} is shut down`);
    if (!Number.isInteger(replicas) || replicas < 0) throw new InvalidOptionError(`setScale: ${replicas} is not a replica count`);
    const from = this.#desired;
    this.#desired = replicas;
    // Replicas are started (spawned) first, the log line after.
    this.#reconcile();
    if (replicas !== from) this.#log.info({ from, to: replicas }, 'scaling');
  }

  ensureReady(signal?: AbortSignal): Promise<Endpoint> {
    if (this.#endpoints.length === 0 && this.#desired === 0) void this.setScale(1);
    return waitForEndpoint(this, this.#changeWaiters, signal);
  }

  endpoints(): readonly Endpoint[] {
    return this.#endpoints;
  }

  status(): ScalerStatus {
    let ready = 0;
    let starting = 0;
    for (const r of this.#replicas.values()) {
      if (r.state === 'ready') ready++;
      else if (r.state === 'starting') starting++;
    }
    return { desired: this.#desired, ready, starting, restarts: this.#restarts, ...(this.#lastError ? { lastError: this.#lastError } : {}) };
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#desired = 0;
    clearTimeout(this.#restartTimer);
    const all = [...this.#replicas.values()];
    for (const r of all) r.state = 'stopping';
    this.#publish();
    await Promise.all(all.map((r) => this.#stop(r)));
  }

  // ---- internals ----

  #active(): Replica[] {
    return [...this.#replicas.values()].filter((r) => r.state === 'starting' || r.state === 'ready');
  }

  #reconcile(): void {
    if (this.#closed) return;
    const active = this.#active();
    if (active.length < this.#desired) {
      if (this.#restartTimer) return; // a crash-loop delay is running; it reconciles when done
      for (let i = active.length; i < this.#desired; i++) void this.#startReplica();
    } else if (active.length > this.#desired) {
      // Not-yet-ready replicas go first (nothing to drain), then the newest ready ones.
      const victims = active.sort((a, b) => (a.state === b.state ? b.startedAt - a.startedAt : a.state === 'starting' ? -1 : 1)).slice(0, active.length - this.#desired);
      for (const r of victims) void this.#retire(r);
    }
  }

  async #startReplica(): Promise<void> {
    const id = `${this.#svc.name}-${++this.#seq}`;
    const replica: Replica = { id, port: 0, url: '', state: 'starting', startedAt: Date.now(), launchedAt: performance.now(), livenessFailures: 0 };
    this.#replicas.set(id, replica);
    let launched;
    try {
      const env: Record<string, string> = {
        ...this.#svc.container.env,
        ...this.#resolveEnv?.(),
        ...this.#extraEnv?.(),
        K_SERVICE: this.#svc.name,
        K_CONFIGURATION: this.#svc.name,
        K_REVISION: `${this.#svc.name}-local`,
      };
      launched = await this.#launcher.launch(id, env, (line) => (replica.lastStderr = line));
    } catch (err) {
      this.#replicas.delete(id);
      this.#failed(`replica ${id} could not start: ${(err as Error).message}`, false);
      return;
    }
    const { proc, port } = launched;
    replica.proc = proc;
    replica.port = port;
    if (launched.stopGraceMs !== undefined) replica.stopGraceMs = launched.stopGraceMs;
    replica.url = `http://${this.#host.includes(':') ? `[${this.#host}]` : this.#host}:${port}/`;
    this.#log.debug({ replica: id, port, pid: proc.pid, launcher: this.kind }, 'replica starting');
    void proc.exited.then((exit) => {
      const why = exit.error ?? (exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.code}`);
      this.#onExit(replica, replica.stoppedFor ?? (replica.lastStderr ? `${why}: ${replica.lastStderr}` : why));
    });
    if (replica.state !== 'starting') {
      // Scaled down or closed while it was being launched.
      void this.#stop(replica);
      return;
    }
    this.#probe(replica);
  }

  /** The probe as run from this host (a container's port is its published one). */
  #hostProbe(probe: ReadinessProbe): ReadinessProbe {
    return this.#launcher.hostProbe?.(probe) ?? probe;
  }

  #watchLiveness(replica: Replica): void {
    const lp = this.#svc.container.livenessProbe;
    if (!lp) return;
    const probe = this.#hostProbe(lp.probe);
    const tick = async (): Promise<void> => {
      replica.livenessTimer = undefined;
      if (replica.state !== 'ready') return;
      const ok = await probeOnce(probe, this.#host, replica.port);
      if (replica.state !== 'ready') return;
      replica.livenessFailures = ok ? 0 : replica.livenessFailures + 1;
      if (replica.livenessFailures >= lp.failureThreshold) {
        replica.stoppedFor = `liveness probe failed ${replica.livenessFailures} times`;
        this.#log.warn({ replica: replica.id }, 'replica failed its liveness probe; restarting it');
        void replica.proc?.stop(replica.stopGraceMs ?? this.#graceMs);
        return;
      }
      replica.livenessTimer = setTimeout(() => void tick(), lp.periodMs);
      replica.livenessTimer.unref();
    };
    replica.livenessTimer = setTimeout(() => void tick(), Math.max(lp.initialDelayMs, lp.periodMs));
    replica.livenessTimer.unref();
  }

  /**
   * Probes a starting replica until it is ready: startup probe first (when there is one),
   * then readiness, on the `probeDelayMs` schedule (1 ms apart at first, backing off), so
   * the first probe that connects makes it ready and releases the held requests at once.
   */
  #probe(replica: Replica): void {
    replica.probeTimer = setTimeout(async () => {
      replica.probeTimer = undefined;
      if (replica.state !== 'starting') return;
      if (Date.now() - replica.startedAt > this.#startTimeoutMs) {
        this.#lastError = `replica ${replica.id} not ready after ${this.#startTimeoutMs} ms`;
        this.#log.warn({ replica: replica.id }, 'replica did not become ready in time; replacing it');
        void replica.proc?.stop(replica.stopGraceMs ?? this.#graceMs);
        return;
      }
      const startup = this.#svc.container.startupProbe;
      if (startup && !replica.started) {
        replica.started = await probeOnce(this.#hostProbe(startup), this.#host, replica.port);
        if (replica.state !== 'starting') return;
        if (!replica.started) return this.#probe(replica);
      }
      const ok = await probeOnce(this.#hostProbe(this.#svc.container.readinessProbe), this.#host, replica.port);
      if (replica.state !== 'starting') return;
      if (!ok) return this.#probe(replica);
      replica.state = 'ready';
      this.#failStreak = 0;
      this.#log.info({ replica: replica.id, port: replica.port, startMs: Date.now() - replica.startedAt }, 'replica ready');
      this.#watchLiveness(replica);
      this.#publish();
    }, probeDelayMs(performance.now() - replica.launchedAt, this.#probeMs));
  }

  #onExit(replica: Replica, why: string): void {
    clearTimeout(replica.probeTimer);
    clearTimeout(replica.livenessTimer);
    this.#replicas.delete(replica.id);
    const expected = replica.state === 'draining' || replica.state === 'stopping';
    if (replica.state === 'ready') this.#publish();
    if (expected || this.#closed) return;
    this.#restarts++;
    this.#failed(`replica ${replica.id} exited unexpectedly (${why})`, replica.state === 'ready');
  }

  /** Records a failure and replaces the replica, later each time it fails before becoming ready. */
  #failed(message: string, wasReady: boolean): void {
    this.#lastError = message;
    this.#failStreak = wasReady ? 0 : this.#failStreak + 1;
    const delay = this.#failStreak === 0 ? 0 : nextBackoffMs(this.#failStreak - 1, { initialMs: 100, maxMs: 10_000 });
    this.#log.warn({ restartInMs: delay }, message);
    if (delay === 0) return this.#reconcile();
    clearTimeout(this.#restartTimer);
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      this.#reconcile();
    }, delay);
    this.#restartTimer.unref();
  }

  async #retire(replica: Replica): Promise<void> {
    const wasReady = replica.state === 'ready';
    replica.state = 'draining';
    clearTimeout(replica.probeTimer);
    clearTimeout(replica.livenessTimer);
    if (wasReady) {
      const drained = this.#listener?.drain(replica.id) ?? Promise.resolve();
      this.#publish();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([drained, new Promise<void>((r) => (timer = setTimeout(r, this.#drainMs)))]);
      clearTimeout(timer);
    }
    this.#log.info({ replica: replica.id }, 'replica stopping (scale down)');
    await this.#stop(replica);
  }

  async #stop(replica: Replica): Promise<void> {
    clearTimeout(replica.probeTimer);
    clearTimeout(replica.livenessTimer);
    if (!replica.proc) {
      this.#replicas.delete(replica.id);
      return;
    }
    await replica.proc.stop(Math.max(replica.stopGraceMs ?? 0, this.#graceMs));
    this.#replicas.delete(replica.id);
  }

  #publish(): void {
    this.#endpoints = [...this.#replicas.values()].filter((r) => r.state === 'ready').map((r) => ({ id: r.id, url: r.url, slots: 1 }));
    this.#listener?.endpointsChanged();
    for (const w of [...this.#changeWaiters]) w();
  }
}
