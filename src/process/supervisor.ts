import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { Logger } from '../observability/logger.js';
import { InvalidOptionError } from '../errors.js';
import { WATCHDOG_SCRIPT } from './watchdog-source.js';

export interface SpawnSupervisedOptions {
  /** Shown on every log line of the process (`process: <name>`). */
  name: string;
  /** Executable, looked up on the PATH of `env` (or of Sluice when `env` is not given). */
  command: string;
  args?: string[];
  /** The child's whole environment; defaults to Sluice's own. */
  env?: Record<string, string>;
  cwd?: string;
  logger: Logger;
  /**
   * How long the watchdog waits between SIGTERM and SIGKILL when Sluice itself is gone
   * (default 2000 ms); `stop(graceMs)` has its own grace.
   */
  orphanGraceMs?: number;
  /** Called with each stderr line besides logging it (e.g. to keep the last error for status). */
  onStderr?: (line: string) => void;
}

export interface ProcessExit {
  code: number | null;
  signal: string | null;
  /** Set when the command could not be started at all (e.g. ENOENT). */
  error?: string;
}

export interface SupervisedProcess {
  /** The process group id (the watchdog's pid); the command runs inside this group. */
  pid: number;
  /** Resolves once the command and everything in its group is gone. */
  exited: Promise<ProcessExit>;
  /** SIGTERM to the group, then SIGKILL after `graceMs` (default 10 s); resolves when gone. */
  stop(graceMs?: number): Promise<void>;
}

export type SpawnSupervised = (options: SpawnSupervisedOptions) => SupervisedProcess;

// Every group still alive, so a normal exit of Sluice takes them down synchronously
// (the watchdogs would do it anyway once the pipes close; this is faster and surer).
const live = new Set<number>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const pgid of live) signalGroup(pgid, 'SIGKILL');
  });
}

function signalGroup(pgid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pgid, sig);
  } catch {
    // the group is already gone
  }
}

/** Process groups started by this module that are still running (for status and tests). */
export function supervisedGroups(): number[] {
  return [...live];
}

/**
 * Starts `command` under a watchdog in its own process group: stdout and stderr are
 * logged line by line under `name`; `stop()` ends the whole group; and if Sluice dies,
 * even by SIGKILL, the watchdog ends the group within `orphanGraceMs`.
 */
export const spawnSupervised: SpawnSupervised = (options) => {
  if (!options.name) throw new InvalidOptionError('spawnSupervised: name is required');
  if (typeof options.command !== 'string' || options.command === '') {
    throw new InvalidOptionError(`spawnSupervised ${options.name}: command must be a non-empty string`);
  }
  const log = options.logger.child({ process: options.name });
  const graceSeconds = ((options.orphanGraceMs ?? 2000) / 1000).toFixed(3);
  const argv = ['-c', WATCHDOG_SCRIPT, 'sluice-watchdog', graceSeconds, options.command, ...(options.args ?? [])];
  const watchdog: ChildProcess = spawn('/bin/sh', argv, {
    env: options.env ?? (process.env as Record<string, string>),
    cwd: options.cwd,
    // stdin: the lifeline (never written); fd 3: the child's exit status.
    stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
    detached: true,
  });
  let status: ProcessExit | undefined;
  const exited = new Promise<ProcessExit>((resolve) => {
    watchdog.once('error', (err) => {
      // Only when the shell itself cannot be started (the command's own errors come on fd 3).
      status ??= { code: null, signal: null, error: err.message };
      if (watchdog.pid === undefined) resolve(status);
    });
    // 'close' waits for the stdio pipes too, so output logged before exit is not lost.
    watchdog.once('close', (code, signal) => {
      if (watchdog.pid !== undefined) live.delete(watchdog.pid);
      resolve(status ?? { code, signal });
    });
  });
  const statusPipe = watchdog.stdio[3] as Readable | null;
  if (statusPipe) {
    createInterface({ input: statusPipe, crlfDelay: Infinity }).on('line', (line) => {
      try {
        status = JSON.parse(line) as ProcessExit;
      } catch {
        // not ours; ignore
      }
    });
    statusPipe.on('error', () => {});
  }
  followLines(watchdog.stdout, (line) => log.info({ stream: 'stdout' }, line));
  followLines(watchdog.stderr, (line) => {
    log.warn({ stream: 'stderr' }, line);
    options.onStderr?.(line);
  });
  watchdog.stdin?.on('error', () => {});

  void exited.then((s) => {
    if (s.error) log.error({ command: options.command, err: s.error }, 'process could not be started');
    else log.debug({ code: s.code, signal: s.signal }, 'process exited');
  });

  const pid = watchdog.pid ?? -1;
  if (pid > 0) {
    live.add(pid);
    installExitHook();
  }
  let done = false;
  void exited.then(() => (done = true));
  return {
    pid,
    exited,
    async stop(graceMs = 10_000) {
      if (done || pid < 0) return void (await exited);
      signalGroup(pid, 'SIGTERM');
      const timer = setTimeout(() => signalGroup(pid, 'SIGKILL'), graceMs);
      try {
        await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
};

function followLines(stream: Readable | null, onLine: (line: string) => void): void {
  if (!stream) return;
  stream.on('error', () => {});
  createInterface({ input: stream, crlfDelay: Infinity }).on('line', onLine);
}
