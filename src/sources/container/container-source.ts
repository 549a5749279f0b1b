import type { ContainerSupport } from '../../container/container-support.js';
import { ContainerRuntimeError, ImagePullError, InvalidOptionError, NotReadyError, ResourceValidationError } from '../../errors.js';
import { silentLogger, type Logger } from '../../observability/logger.js';
import { spawnSupervised, type ProcessExit, type SpawnSupervised, type SupervisedProcess } from '../../process/index.js';
import { parseWith } from '../../resources/zod-issues.js';
import type { EnvLookup } from '../../runtime/env-resolver.js';
import { nextBackoffMs } from '../../subscriptions/retry-backoff.js';
import { ceOverridesEnvValue } from '../sinkbinding/ce-overrides.js';
import type { EmitFn, Source } from '../source.js';
import { missingEnvObject, resolveContainerEnv, type ResolveSecret } from './container-env.js';
import { ImageLauncher } from './image-launcher.js';
import { ProcessLauncher } from './process-launcher.js';
import type { SourceLauncher } from './source-launcher.js';
import {
  containerSourceIssues,
  containerSourceRunner,
  containerSourceSpecSchema,
  ignoredFields,
  type ContainerSourceRunner,
  type ContainerSourceSpec,
  type ContainerSourceSpecInput,
  type ContainerSpec,
} from './spec-schema.js';

export interface ContainerSourceOptions {
  name: string;
  namespace: string;
  /** The spec as written; validated here. */
  spec: ContainerSourceSpecInput;
  /** The resource's `metadata.annotations`: `sluice.dev/runner` there chooses process or container. */
  annotations?: Readonly<Record<string, string>> | undefined;
  /** The resolved `spec.sink` URL, given to the program as K_SINK (rewritten for a bridged container). */
  sinkUrl: string;
  logger?: Logger;
  /** Secrets and ConfigMaps for `envFrom` and `env[].valueFrom`. */
  envLookup?: EnvLookup | undefined;
  /** Per-key access to Secrets, used when there is no `envLookup` (no ConfigMaps then). */
  resolveSecret?: ResolveSecret | undefined;
  /** The container runtime, for a source run from its image. */
  containers?: ContainerSupport | undefined;
  /** The process supervisor; defaults to src/process `spawnSupervised` (no orphans even if Sluice is SIGKILLed). */
  spawn?: SpawnSupervised;
  /**
   * Host variables a process starts from (a container inherits nothing, but a local
   * program needs PATH to be found). Defaults to PATH, HOME, LANG, TZ and TMPDIR of Sluice.
   */
  baseEnv?: Record<string, string>;
  /** Restart backoff after an exit: doubling from `restartInitialMs` (1 s) up to `restartMaxMs` (60 s). */
  restartInitialMs?: number;
  restartMaxMs?: number;
  /** A run at least this long resets the backoff (default 60 s), like Kubernetes' CrashLoopBackOff. */
  resetAfterMs?: number;
  /** Time between SIGTERM and SIGKILL on stop (default 10 s; the template's `terminationGracePeriodSeconds` wins). */
  stopGraceMs?: number;
}

/**
 * Knative's ContainerSource run locally: its container's command as a child process, or
 * its image as a container through Docker or Podman (`spec-schema.ts` says which), with
 * K_SINK and K_CE_OVERRIDES. The program posts its CloudEvents to the sink itself (so
 * `emit` is not used). It is restarted with a capped exponential backoff whenever it
 * exits, as a Deployment's pod would be, and stopped with SIGTERM then SIGKILL (a
 * container is then removed).
 */
export class ContainerSource implements Source {
  readonly name: string;
  readonly namespace: string;
  readonly spec: ContainerSourceSpec;
  /** `process`: the command runs on the host; `container`: the image runs through Docker/Podman. */
  readonly runner: ContainerSourceRunner;
  /** Fields accepted without effect here, as full paths (for the status). */
  readonly ignored: readonly string[];
  readonly #o: ContainerSourceOptions;
  readonly #log: Logger;
  readonly #launcher: SourceLauncher;
  readonly #graceMs: number;
  #env: Record<string, string> = {};
  #current: SupervisedProcess | undefined;
  #startedAt = 0;
  #failures = 0;
  #timer: NodeJS.Timeout | undefined;
  #started = false;
  #stopped = false;
  #restarts = 0;
  #lastExit: ProcessExit | undefined;
  #lastStderr: string | undefined;

  constructor(options: ContainerSourceOptions) {
    this.name = options.name;
    this.namespace = options.namespace;
    const fail = (issues: Array<{ path: string; message: string }>) => new ResourceValidationError({ kind: 'ContainerSource', name: `${options.namespace}/${options.name}`, issues });
    const parsed = parseWith(containerSourceSpecSchema, options.spec, ['spec']);
    if (!parsed.ok) throw fail(parsed.issues);
    const issues = containerSourceIssues(parsed.value, options.annotations);
    if (issues.length) throw fail(issues);
    this.spec = parsed.value;
    try {
      new URL(options.sinkUrl);
    } catch (err) {
      throw new InvalidOptionError(`ContainerSource ${options.namespace}/${options.name}: sink URL ${JSON.stringify(options.sinkUrl)} is not a URL`, { cause: err });
    }
    this.#o = options;
    this.runner = containerSourceRunner(this.spec, options.annotations);
    this.ignored = ignoredFields(this.spec, this.runner);
    this.#log = (options.logger ?? silentLogger()).child({ source: this.#label });
    const grace = this.spec.template.spec.terminationGracePeriodSeconds;
    this.#graceMs = grace !== undefined ? grace * 1000 : (options.stopGraceMs ?? 10_000);
    const container = this.spec.template.spec.containers[0] as ContainerSpec;
    this.#launcher =
      this.runner === 'container'
        ? new ImageLauncher({
            label: this.#label,
            namespace: this.namespace,
            name: this.name,
            container,
            containers: options.containers,
            logger: this.#log,
            stopGraceSeconds: Math.ceil(this.#graceMs / 1000),
            spawn: options.spawn,
          })
        : new ProcessLauncher({ label: this.#label, container, spawn: options.spawn ?? spawnSupervised, logger: this.#log, baseEnv: options.baseEnv });
  }

  get #label(): string {
    return `ContainerSource ${this.namespace}/${this.name}`;
  }

  /** The image run as a container (undefined for a process). */
  get image(): string | undefined {
    return this.runner === 'container' ? this.spec.template.spec.containers[0]?.image : undefined;
  }

  /** The process group of the running process (for a container, of its runtime CLI), if any. */
  get pid(): number | undefined {
    return this.#current?.pid;
  }

  /** How many times the process or container was restarted after exiting. */
  get restarts(): number {
    return this.#restarts;
  }

  get lastExit(): ProcessExit | undefined {
    return this.#lastExit;
  }

  /** The last line the run that ended last wrote to stderr (its error, often). */
  get lastStderr(): string | undefined {
    return this.#lastExit ? this.#lastStderr : undefined;
  }

  /**
   * The Ready condition's reason for a failed `start`: a missing Secret or ConfigMap, no
   * container runtime, an image that is absent or could not be pulled, a command that
   * cannot run.
   */
  failureReason(err: unknown): string {
    const missing = missingEnvObject(err);
    if (missing) return `${missing}NotFound`;
    if (err instanceof NotReadyError) return 'SecretNotFound';
    if (err instanceof ContainerRuntimeError) return 'ContainerRuntimeUnavailable';
    if (err instanceof ImagePullError) return 'ImagePullFailed';
    if (err instanceof InvalidOptionError) return 'CannotRun';
    return 'StartFailed';
  }

  /**
   * Resolves once the process or container was started; rejects when a Secret or
   * ConfigMap, the command, the workingDir, the container runtime or the image is missing.
   */
  async start(_emit: EmitFn): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    const c = this.spec.template.spec.containers[0] as ContainerSpec;
    const env = await resolveContainerEnv({
      label: this.#label,
      namespace: this.namespace,
      base: this.#launcher.baseEnv(),
      env: c.env,
      envFrom: c.envFrom,
      envLookup: this.#o.envLookup,
      resolveSecret: this.#o.resolveSecret,
    });
    env.K_SINK = this.#o.sinkUrl;
    const overrides = ceOverridesEnvValue(this.spec.ceOverrides);
    if (overrides !== undefined) env.K_CE_OVERRIDES = overrides;
    this.#env = await this.#launcher.prepare(env);
    if (this.#stopped) return;
    const p = this.#launch();
    if (p.pid < 0) {
      this.#stopped = true;
      const exit = await p.exited;
      throw new InvalidOptionError(`${this.#label}: ${this.#launcher.describe(this.#env)} could not be started (exit ${JSON.stringify(exit)})`);
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const p = this.#current;
    this.#current = undefined;
    if (p) await p.stop(this.#graceMs);
  }

  #launch(): SupervisedProcess {
    // Each run keeps its own last stderr line; the one of the run that ended is reported.
    const run = { stderr: undefined as string | undefined };
    const p = this.#launcher.launch(this.#env, this.#restarts, (line) => {
      if (line.trim()) run.stderr = line.trim();
    });
    this.#current = p;
    this.#startedAt = Date.now();
    void p.exited.then((exit) => this.#onExit(p, exit, run.stderr));
    return p;
  }

  #onExit(p: SupervisedProcess, exit: ProcessExit, stderr: string | undefined): void {
    if (this.#current !== p) return;
    this.#current = undefined;
    this.#lastExit = exit;
    this.#lastStderr = stderr;
    if (this.#stopped) return;
    if (Date.now() - this.#startedAt >= (this.#o.resetAfterMs ?? 60_000)) this.#failures = 0;
    const delay = nextBackoffMs(this.#failures++, { initialMs: this.#o.restartInitialMs ?? 1000, maxMs: this.#o.restartMaxMs ?? 60_000 });
    this.#log.warn({ pid: p.pid, code: exit.code, signal: exit.signal, error: exit.error, stderr, restartInMs: delay }, `${this.runner} exited; restarting`);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#stopped) return;
      this.#restarts++;
      this.#launch();
    }, delay);
  }
}
