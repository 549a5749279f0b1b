import { execFile } from 'node:child_process';
import { hostname } from 'node:os';
import { ContainerRuntimeError, ImagePullError } from '../errors.js';
import type { Logger } from '../observability/logger.js';

export type ContainerRuntimeName = 'docker' | 'podman';
/** `imagePullPolicy` of a Kubernetes container. */
export type PullPolicy = 'Always' | 'IfNotPresent' | 'Never';

/** Every container Sluice starts carries these, so it finds its own and never touches others. */
export const MANAGED_LABEL = 'sluice.dev/managed';
export const OWNER_PID_LABEL = 'sluice.dev/owner-pid';
export const OWNER_HOST_LABEL = 'sluice.dev/owner-host';
/** The Sluice resource a container runs for (`Service/ns/name`, `ContainerSource/ns/name`). */
export const RESOURCE_LABEL = 'sluice.dev/resource';

export interface ContainerRuntimeOptions {
  name: ContainerRuntimeName;
  /** The CLI to run (a name on PATH or a path); default: `name`. */
  cli?: string;
  logger: Logger;
  /** Longest wait for one CLI call other than a pull (default 60 s). */
  commandTimeoutMs?: number;
  /** Longest wait for a pull (default 10 min). */
  pullTimeoutMs?: number;
}

interface ExecResult {
  stdout: string;
  stderr: string;
}

/**
 * The Docker or Podman CLI, as Sluice uses it: images present or pulled by policy,
 * leftovers of a dead Sluice removed, and the labels and host gateway that `run` needs.
 * Containers themselves are started by `startSupervisedContainer` (one CLI process each,
 * under the process watchdog).
 */
export class ContainerRuntime {
  readonly name: ContainerRuntimeName;
  readonly cli: string;
  readonly #log: Logger;
  readonly #timeoutMs: number;
  readonly #pullTimeoutMs: number;
  /** One pull per image at a time: replicas of several Services may ask together. */
  readonly #pulls = new Map<string, Promise<void>>();

  constructor(options: ContainerRuntimeOptions) {
    this.name = options.name;
    this.cli = options.cli ?? options.name;
    this.#log = options.logger.child({ component: 'containers', runtime: options.name });
    this.#timeoutMs = options.commandTimeoutMs ?? 60_000;
    this.#pullTimeoutMs = options.pullTimeoutMs ?? 600_000;
  }

  /** The name a container on the runtime's default network reaches the host by. */
  get hostGateway(): string {
    return this.name === 'podman' ? 'host.containers.internal' : 'host.docker.internal';
  }

  /** `run` arguments that make `hostGateway` resolve (Docker on Linux does not define it by itself). */
  gatewayArgs(): string[] {
    return this.name === 'docker' ? ['--add-host', 'host.docker.internal:host-gateway'] : [];
  }

  /** `rm` arguments that kill and remove at once (Podman's `rm -f` would first wait out its stop timeout). */
  forceRemoveArgs(names: readonly string[]): string[] {
    return this.name === 'podman' ? ['rm', '-f', '-t', '0', ...names] : ['rm', '-f', ...names];
  }

  /** Labels marking a container as this Sluice process's own. */
  ownerLabels(): Record<string, string> {
    return { [MANAGED_LABEL]: 'true', [OWNER_PID_LABEL]: String(process.pid), [OWNER_HOST_LABEL]: hostname() };
  }

  /** Runs the CLI; rejects with ContainerRuntimeError carrying the CLI's own message. */
  exec(args: string[], timeoutMs = this.#timeoutMs): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
      execFile(this.cli, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
        if (!err) return resolve({ stdout, stderr });
        const why = lastLines(stderr) || (err as Error).message;
        reject(new ContainerRuntimeError(`${this.name} ${args[0] ?? ''}: ${why}`, { cause: err }));
      });
    });
  }

  async hasImage(image: string): Promise<boolean> {
    try {
      await this.exec(['image', 'inspect', '--format', '{{.Id}}', image]);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Makes `image` present as `policy` says: `Never` only checks, `IfNotPresent` pulls when
   * missing, `Always` pulls. Sluice asks once per Service version (Knative resolves a tag
   * to a digest once per revision), and replicas then run with `--pull=never`, so a
   * cold start never waits for a registry.
   */
  async ensureImage(image: string, policy: PullPolicy): Promise<void> {
    if (policy !== 'Always' && (await this.hasImage(image))) return;
    if (policy === 'Never') {
      throw new ImagePullError(image, `image ${image} is not present and imagePullPolicy is Never (load it with \`${this.name} load\` or \`${this.name} pull\`)`);
    }
    let pull = this.#pulls.get(image);
    if (!pull) {
      this.#log.info({ image }, 'pulling image');
      pull = this.exec(['pull', image], this.#pullTimeoutMs).then(
        () => undefined,
        (err: Error) => {
          throw new ImagePullError(image, `cannot pull image ${image}: ${err.message.replace(/^\S+ pull: /, '')}`, { cause: err });
        },
      );
      this.#pulls.set(image, pull);
      void pull.finally(() => this.#pulls.delete(image)).catch(() => {});
    }
    await pull;
  }

  /**
   * Removes containers a previous Sluice on this host left behind (killed before it could
   * stop them): those labelled as Sluice's whose owner process is gone. Containers of a
   * Sluice still running, and containers without Sluice's labels, are never touched.
   */
  async removeLeftovers(): Promise<string[]> {
    const { stdout } = await this.exec(['ps', '-a', '--filter', `label=${MANAGED_LABEL}=true`, '--format', '{{.ID}}']);
    const ids = stdout.split('\n').map((s) => s.trim()).filter(Boolean);
    if (!ids.length) return [];
    const fmt = `{{.Id}} {{index .Config.Labels "${OWNER_PID_LABEL}"}} {{index .Config.Labels "${OWNER_HOST_LABEL}"}}`;
    const { stdout: info } = await this.exec(['inspect', '--format', fmt, ...ids]);
    const host = hostname();
    const stale = info
      .split('\n')
      .map((l) => l.trim().split(' '))
      .filter(([id, pid, owner]) => id && owner === host && !processAlive(Number(pid)))
      .map(([id]) => id!);
    if (!stale.length) return [];
    await this.exec(this.forceRemoveArgs(stale)).catch((err: Error) => this.#log.warn({ err: err.message }, 'could not remove leftover containers'));
    this.#log.info({ count: stale.length }, 'removed containers left by a previous Sluice');
    return stale;
  }
}

function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: alive, but another user's.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function lastLines(text: string): string {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(-3)
    .join(' ');
}
