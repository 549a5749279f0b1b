import { spawnSync } from 'node:child_process';
import type { Logger } from '../observability/logger.js';
import { spawnSupervised, type SpawnSupervised, type SupervisedProcess } from '../process/index.js';
import type { ContainerRuntime } from './container-runtime.js';
import { buildRunArgs, type ContainerRunSpec } from './run-spec.js';

// A container runs as one foreground `<cli> run --rm` under the process watchdog, so it
// gets what a local process gets: its output logged line by line, its exit seen at once,
// and no orphan if Sluice is SIGKILLed. Killing the CLI alone would not be enough (the
// container lives in the engine, not under the CLI), so the CLI runs inside this wrapper,
// which on SIGTERM (from `stop()`, or from the watchdog once Sluice is gone) stops and
// removes the container by name before exiting. PID 1 in a container often ignores
// SIGTERM, so `stop -t` ends with SIGKILL after the grace.
const WRAPPER = `
cli="$1"; name="$2"; grace="$3"; shift 3
cleanup() {
  "$cli" stop -t "$grace" "$name" >/dev/null 2>&1
  "$cli" rm -f "$name" >/dev/null 2>&1
}
trap 'cleanup; exit 143' TERM INT HUP
"$cli" run "$@" &
child=$!
wait "$child"
exit $?
`;

export interface StartContainerOptions {
  runtime: ContainerRuntime;
  spec: ContainerRunSpec;
  logger: Logger;
  /** Seconds between the container's SIGTERM and SIGKILL on stop (default 10). */
  stopGraceSeconds?: number;
  spawn?: SpawnSupervised;
  /** Each line the container (or the CLI) writes to stderr; e.g. to keep the last error. */
  onStderr?: (line: string) => void;
}

export interface SupervisedContainer extends SupervisedProcess {
  readonly name: string;
  /** Grace to give `stop()`: the container's own grace plus time for the CLI to stop and remove it. */
  readonly stopGraceMs: number;
}

// Containers started here and not yet gone, by CLI. When Sluice exits while one is
// still stopping (a shutdown whose drain ran out), the supervisor's exit hook SIGKILLs
// the wrapper mid-cleanup; this hook removes the containers themselves, synchronously,
// as the last thing the process does.
const live = new Map<string, { cli: string; removeArgs: string[] }>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    const byCli = new Map<string, string[]>();
    for (const [name, { cli }] of live) byCli.set(cli, [...(byCli.get(cli) ?? []), name]);
    for (const [cli, names] of byCli) {
      const args = live.get(names[0]!)!.removeArgs;
      spawnSync(cli, [...args, ...names], { stdio: 'ignore', timeout: 15_000 });
    }
  });
}

/** Starts `spec` as a supervised container; `stop()` stops and removes it. */
export function startSupervisedContainer(options: StartContainerOptions): SupervisedContainer {
  const { runtime, spec } = options;
  const grace = Math.max(0, Math.round(options.stopGraceSeconds ?? 10));
  const { args, cliEnv } = buildRunArgs(runtime, spec);
  // The CLI needs PATH and its own settings (DOCKER_HOST, CONTAINERS_CONF, XDG_RUNTIME_DIR...);
  // the container gets only the `-e` names, whose values come from cliEnv.
  const env = { ...(process.env as Record<string, string>), ...cliEnv };
  const stopGraceMs = (grace + 15) * 1000;
  const proc = (options.spawn ?? spawnSupervised)({
    name: spec.name,
    command: '/bin/sh',
    args: ['-c', WRAPPER, 'sluice-container', runtime.cli, spec.name, String(grace), ...args],
    env,
    logger: options.logger,
    // If Sluice dies, the wrapper needs the container's grace plus the CLI calls before
    // the watchdog's SIGKILL ends it.
    orphanGraceMs: stopGraceMs,
    ...(options.onStderr ? { onStderr: options.onStderr } : {}),
  });
  live.set(spec.name, { cli: runtime.cli, removeArgs: runtime.forceRemoveArgs([]) });
  installExitHook();
  void proc.exited.then(() => live.delete(spec.name));
  return {
    name: spec.name,
    pid: proc.pid,
    exited: proc.exited,
    stopGraceMs,
    stop: (graceMs?: number) => proc.stop(Math.max(graceMs ?? 0, stopGraceMs)),
  };
}
