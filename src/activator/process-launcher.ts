import type { Logger } from '../observability/logger.js';
import { spawnSupervised, type SpawnSupervised } from '../process/index.js';
import { freePort, freePortSync } from './readiness-probe.js';
import type { LaunchedReplica, ReplicaLauncher } from './replica-launcher.js';
import type { ServiceConfig } from './service-spec.js';

export interface ProcessLauncherOptions {
  service: ServiceConfig;
  logger: Logger;
  host: string;
  /** Resolved working directory (relative `workingDir` already joined to its base). */
  cwd?: string | undefined;
  spawn?: SpawnSupervised;
}

/** Replicas as child processes of Sluice on a free port each, given in `PORT` (as Knative does). */
export class ProcessLauncher implements ReplicaLauncher {
  readonly kind = 'process' as const;
  readonly #o: ProcessLauncherOptions;

  constructor(options: ProcessLauncherOptions) {
    this.#o = options;
  }

  async launch(id: string, env: Record<string, string>, onStderr: (line: string) => void): Promise<LaunchedReplica> {
    const { service: svc, logger } = this.#o;
    const c = svc.container;
    // Picked synchronously where it can be, so the spawn below happens in the same turn
    // as the request that woke the service.
    const port = freePortSync() ?? (await freePort(this.#o.host));
    const proc = (this.#o.spawn ?? spawnSupervised)({
      name: `${svc.key}#${id}`,
      command: c.command[0]!,
      args: [...c.command.slice(1), ...c.args],
      // A local program starts from Sluice's environment (PATH, HOME...), then the Service's.
      env: { ...(process.env as Record<string, string>), ...env, PORT: String(port) },
      ...(this.#o.cwd ? { cwd: this.#o.cwd } : {}),
      logger,
      onStderr,
    });
    return { port, proc };
  }
}
