import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { RUNNER_ANNOTATION } from '../../activator/service-spec.js';
import { InvalidOptionError } from '../../errors.js';
import type { Logger } from '../../observability/logger.js';
import type { SpawnSupervised, SupervisedProcess } from '../../process/index.js';
import { expandVars } from './container-env.js';
import type { SourceLauncher } from './source-launcher.js';
import type { ContainerSpec } from './spec-schema.js';

const INHERITED = ['PATH', 'HOME', 'LANG', 'TZ', 'TMPDIR'];

export interface ProcessLauncherOptions {
  label: string;
  container: ContainerSpec;
  spawn: SpawnSupervised;
  logger: Logger;
  /** Host variables the process starts from; default PATH, HOME, LANG, TZ and TMPDIR of Sluice. */
  baseEnv?: Record<string, string> | undefined;
}

/** The container's `command` (then `args`) run on the host as a supervised process group. */
export class ProcessLauncher implements SourceLauncher {
  readonly runner = 'process' as const;
  readonly #o: ProcessLauncherOptions;

  constructor(options: ProcessLauncherOptions) {
    this.#o = options;
  }

  baseEnv(): Record<string, string> {
    // A container inherits nothing, but a local program needs PATH to be found.
    return { ...(this.#o.baseEnv ?? pickEnv(INHERITED)) };
  }

  async prepare(env: Record<string, string>): Promise<Record<string, string>> {
    const { label, container: c } = this.#o;
    const cwd = c.workingDir ?? process.cwd();
    if (c.workingDir) {
      let isDir = false;
      try {
        isDir = statSync(c.workingDir).isDirectory();
      } catch {
        // reported below
      }
      if (!isDir) throw new InvalidOptionError(`${label}: workingDir ${JSON.stringify(c.workingDir)} is not a directory`);
    }
    const cmd = expandVars(c.command?.[0] ?? '', env);
    const candidates = cmd.includes('/') ? [isAbsolute(cmd) ? cmd : resolve(cwd, cmd)] : (env.PATH ?? '').split(delimiter).filter(Boolean).map((d) => join(d, cmd));
    const found = candidates.some((f) => {
      try {
        accessSync(f, constants.X_OK);
        return statSync(f).isFile();
      } catch {
        return false;
      }
    });
    if (!found) {
      // A command given with an image runs on the host unless the annotation says otherwise.
      const hint = c.image ? ` (a command with an image runs as a local process; annotate ${RUNNER_ANNOTATION}: container to run it in image ${c.image})` : '';
      throw new InvalidOptionError(
        cmd.includes('/')
          ? `${label}: command ${JSON.stringify(cmd)} is not an executable file${hint}`
          : `${label}: command ${JSON.stringify(cmd)} was not found on PATH (${env.PATH ?? 'PATH is not set'})${hint}`,
      );
    }
    return env;
  }

  launch(env: Record<string, string>, attempt: number, onStderr: (line: string) => void): SupervisedProcess {
    const c = this.#o.container;
    const [cmd, ...rest] = (c.command ?? []).map((s) => expandVars(s, env));
    const args = [...rest, ...(c.args ?? []).map((s) => expandVars(s, env))];
    const p = this.#o.spawn({
      name: this.#o.label,
      command: cmd as string,
      args,
      env,
      ...(c.workingDir ? { cwd: c.workingDir } : {}),
      logger: this.#o.logger,
      onStderr,
    });
    this.#o.logger.info({ pid: p.pid, command: cmd, args, restarts: attempt }, 'process started');
    return p;
  }

  describe(env: Record<string, string>): string {
    return JSON.stringify(expandVars(this.#o.container.command?.[0] ?? '', env));
  }
}

function pickEnv(keys: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of keys) {
    const v = process.env[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}
