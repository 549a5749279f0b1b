import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { InvalidOptionError, NotReadyError, ResourceValidationError } from '../../errors.js';
import { silentLogger, type Logger } from '../../observability/logger.js';
import { ceOverridesEnvValue } from '../sinkbinding/ce-overrides.js';
import { parseWith } from '../../resources/zod-issues.js';
import { nextBackoffMs } from '../../subscriptions/retry-backoff.js';
import type { EmitFn, Source } from '../source.js';
import { containerSourceSpecSchema, type ContainerSourceSpec, type ContainerSourceSpecInput, type ContainerSpec } from './spec-schema.js';
import { spawnSupervised, type ProcessExit, type SpawnSupervised, type SupervisedProcess } from '../../process/index.js';

export interface SecretKeyRef {
  namespace: string;
  name: string;
  key: string;
}

/** Looks a Secret key up (the lead backs this with the resource store); undefined = no such secret or key. */
export type ResolveSecret = (ref: SecretKeyRef) => string | Buffer | undefined | Promise<string | Buffer | undefined>;

export interface ContainerSourceOptions {
  name: string;
  namespace: string;
  /** The spec as written; validated here. */
  spec: ContainerSourceSpecInput;
  /** The resolved `spec.sink` URL, given to the process as K_SINK. */
  sinkUrl: string;
  logger?: Logger;
  resolveSecret?: ResolveSecret;
  /** The process supervisor; defaults to src/process `spawnSupervised` (no orphans even if Sluice is SIGKILLed). */
  spawn?: SpawnSupervised;
  /**
   * Host variables the process starts from (a container inherits nothing, but a local
   * program needs PATH to be found). Defaults to PATH, HOME, LANG, TZ and TMPDIR of Sluice.
   */
  baseEnv?: Record<string, string>;
  /** Restart backoff after an exit: doubling from `restartInitialMs` (1 s) up to `restartMaxMs` (60 s). */
  restartInitialMs?: number;
  restartMaxMs?: number;
  /** A run at least this long resets the backoff (default 60 s), like Kubernetes' CrashLoopBackOff. */
  resetAfterMs?: number;
  /** Time between SIGTERM and SIGKILL on stop (default 10 s). */
  stopGraceMs?: number;
}

const INHERITED = ['PATH', 'HOME', 'LANG', 'TZ', 'TMPDIR'];

/**
 * Knative's ContainerSource run locally: the container's command is started as a child
 * process with K_SINK and K_CE_OVERRIDES, and it posts its CloudEvents to the sink
 * itself (so `emit` is not used). It is restarted with a capped exponential backoff
 * whenever it exits, as a Deployment's pod would be, and stopped with SIGTERM then
 * SIGKILL.
 */
export class ContainerSource implements Source {
  readonly name: string;
  readonly namespace: string;
  readonly spec: ContainerSourceSpec;
  readonly #o: ContainerSourceOptions;
  readonly #log: Logger;
  readonly #spawn: SpawnSupervised;
  #env: Record<string, string> = {};
  #current: SupervisedProcess | undefined;
  #startedAt = 0;
  #failures = 0;
  #timer: NodeJS.Timeout | undefined;
  #started = false;
  #stopped = false;
  #restarts = 0;
  #lastExit: ProcessExit | undefined;

  constructor(options: ContainerSourceOptions) {
    this.name = options.name;
    this.namespace = options.namespace;
    const parsed = parseWith(containerSourceSpecSchema, options.spec, ['spec']);
    if (!parsed.ok) throw new ResourceValidationError({ kind: 'ContainerSource', name: `${options.namespace}/${options.name}`, issues: parsed.issues });
    this.spec = parsed.value;
    try {
      new URL(options.sinkUrl);
    } catch (err) {
      throw new InvalidOptionError(`ContainerSource ${options.namespace}/${options.name}: sink URL ${JSON.stringify(options.sinkUrl)} is not a URL`, { cause: err });
    }
    this.#o = options;
    this.#spawn = options.spawn ?? spawnSupervised;
    this.#log = (options.logger ?? silentLogger()).child({ source: this.#label });
  }

  get #label(): string {
    return `ContainerSource ${this.namespace}/${this.name}`;
  }

  get #container(): ContainerSpec {
    return this.spec.template.spec.containers[0] as ContainerSpec;
  }

  /** The process group of the running process (the supervisor's watchdog pid), if any. */
  get pid(): number | undefined {
    return this.#current?.pid;
  }

  /** How many times the process was restarted after exiting. */
  get restarts(): number {
    return this.#restarts;
  }

  get lastExit(): ProcessExit | undefined {
    return this.#lastExit;
  }

  /** Resolves once the process was started; rejects when a secret, the command or workingDir is missing. */
  async start(_emit: EmitFn): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    this.#env = await this.#buildEnv();
    this.#checkRunnable();
    if (this.#stopped) return;
    const p = this.#launch();
    if (p.pid < 0) {
      this.#stopped = true;
      const exit = await p.exited;
      throw new InvalidOptionError(`${this.#label}: ${JSON.stringify(this.#container.command?.[0])} could not be started (exit ${JSON.stringify(exit)})`);
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const p = this.#current;
    this.#current = undefined;
    if (p) await p.stop(this.#o.stopGraceMs ?? 10_000);
  }

  #launch(): SupervisedProcess {
    const c = this.#container;
    const [cmd, ...rest] = (c.command ?? []).map((s) => expandVars(s, this.#env));
    const args = [...rest, ...(c.args ?? []).map((s) => expandVars(s, this.#env))];
    const p = this.#spawn({
      name: this.#label,
      command: cmd as string,
      args,
      env: this.#env,
      ...(c.workingDir ? { cwd: c.workingDir } : {}),
      logger: this.#log,
    });
    this.#current = p;
    this.#startedAt = Date.now();
    this.#log.info({ pid: p.pid, command: cmd, args, restarts: this.#restarts }, 'process started');
    void p.exited.then((exit) => this.#onExit(p, exit));
    return p;
  }

  #onExit(p: SupervisedProcess, exit: ProcessExit): void {
    if (this.#current !== p) return;
    this.#current = undefined;
    this.#lastExit = exit;
    if (this.#stopped) return;
    if (Date.now() - this.#startedAt >= (this.#o.resetAfterMs ?? 60_000)) this.#failures = 0;
    const delay = nextBackoffMs(this.#failures++, { initialMs: this.#o.restartInitialMs ?? 1000, maxMs: this.#o.restartMaxMs ?? 60_000 });
    this.#log.warn({ pid: p.pid, code: exit.code, signal: exit.signal, error: exit.error, restartInMs: delay }, 'process exited; restarting');
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#stopped) return;
      this.#restarts++;
      this.#launch();
    }, delay);
  }

  /** Base variables, then `env` in order (later ones may use earlier ones as $(VAR)), then K_SINK/K_CE_OVERRIDES. */
  async #buildEnv(): Promise<Record<string, string>> {
    const env: Record<string, string> = { ...(this.#o.baseEnv ?? pickEnv(INHERITED)) };
    for (const e of this.#container.env ?? []) {
      if (e.valueFrom) {
        const ref = e.valueFrom.secretKeyRef;
        if (!this.#o.resolveSecret) {
          throw new NotReadyError(`${this.#label}: env ${e.name} needs secret ${this.namespace}/${ref.name}, but no secrets are available`);
        }
        const v = await this.#o.resolveSecret({ namespace: this.namespace, name: ref.name, key: ref.key });
        if (v === undefined) {
          if (ref.optional) continue;
          throw new NotReadyError(`${this.#label}: env ${e.name}: secret ${this.namespace}/${ref.name} has no key ${JSON.stringify(ref.key)} (or does not exist)`);
        }
        env[e.name] = typeof v === 'string' ? v : v.toString('utf8');
      } else {
        env[e.name] = expandVars(e.value ?? '', env);
      }
    }
    env.K_SINK = this.#o.sinkUrl;
    const overrides = ceOverridesEnvValue(this.spec.ceOverrides);
    if (overrides !== undefined) env.K_CE_OVERRIDES = overrides;
    return env;
  }

  #checkRunnable(): void {
    const c = this.#container;
    const cwd = c.workingDir ?? process.cwd();
    if (c.workingDir) {
      let isDir = false;
      try {
        isDir = statSync(c.workingDir).isDirectory();
      } catch {
        // reported below
      }
      if (!isDir) throw new InvalidOptionError(`${this.#label}: workingDir ${JSON.stringify(c.workingDir)} is not a directory`);
    }
    const cmd = expandVars(c.command?.[0] ?? '', this.#env);
    const candidates = cmd.includes('/') ? [isAbsolute(cmd) ? cmd : resolve(cwd, cmd)] : (this.#env.PATH ?? '').split(delimiter).filter(Boolean).map((d) => join(d, cmd));
    const found = candidates.some((f) => {
      try {
        accessSync(f, constants.X_OK);
        return statSync(f).isFile();
      } catch {
        return false;
      }
    });
    if (!found) {
      throw new InvalidOptionError(
        cmd.includes('/')
          ? `${this.#label}: command ${JSON.stringify(cmd)} is not an executable file`
          : `${this.#label}: command ${JSON.stringify(cmd)} was not found on PATH (${this.#env.PATH ?? 'PATH is not set'})`,
      );
    }
  }
}

/** Kubernetes' $(VAR) expansion in command, args and env values: unknown names stay as written, `$$(VAR)` escapes. */
export function expandVars(text: string, env: Readonly<Record<string, string>>): string {
  return text.replace(/\$(\$)?\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (whole, escaped: string | undefined, name: string) => {
    if (escaped) return `$(${name})`;
    return Object.prototype.hasOwnProperty.call(env, name) ? (env[name] as string) : whole;
  });
}

function pickEnv(keys: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of keys) {
    const v = process.env[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}
