import { randomBytes } from 'node:crypto';
import { RESOURCE_LABEL, startSupervisedContainer, type ContainerRuntime, type ContainerSupport } from '../../container/index.js';
import { ContainerRuntimeError, ImagePullError } from '../../errors.js';
import type { Logger } from '../../observability/logger.js';
import type { SpawnSupervised, SupervisedProcess } from '../../process/index.js';
import { limitsOf } from '../../resources/container-schemas.js';
import { expandVars } from './container-env.js';
import type { SourceLauncher } from './source-launcher.js';
import type { ContainerSpec } from './spec-schema.js';

export interface ImageLauncherOptions {
  label: string;
  namespace: string;
  name: string;
  container: ContainerSpec;
  /** The server's container runtime; undefined when it has none configured. */
  containers: ContainerSupport | undefined;
  logger: Logger;
  /** Seconds between the container's SIGTERM and SIGKILL on stop. */
  stopGraceSeconds: number;
  spawn?: SpawnSupervised | undefined;
}

/**
 * The container's `image` run through Docker or Podman, as Knative runs a
 * ContainerSource's pod: `command` replaces the entrypoint and `args` the CMD, the
 * environment is exactly what the ContainerSource built (K_SINK rewritten to an address
 * the container reaches Sluice at), on the network Sluice's containers use, labelled as
 * this source's so that Sluice removes it (and only it) on stop or after a crash.
 */
export class ImageLauncher implements SourceLauncher {
  readonly runner = 'container' as const;
  readonly #o: ImageLauncherOptions;
  /** Names stay unique across Sluice restarts and concurrent Sluices on one engine. */
  readonly #tag = randomBytes(3).toString('hex');
  #runtime: ContainerRuntime | undefined;

  constructor(options: ImageLauncherOptions) {
    if (!options.container.image) throw new TypeError(`${options.label}: a container needs an image`);
    this.#o = options;
  }

  get image(): string {
    return this.#o.container.image!;
  }

  /** A container gets none of Sluice's variables; the image's own ENV (PATH...) applies. */
  baseEnv(): Record<string, string> {
    return {};
  }

  async prepare(env: Record<string, string>): Promise<Record<string, string>> {
    const { containers, container: c } = this.#o;
    const detected = containers ? await containers.runtime() : { reason: 'no container runtime configured' };
    if (!detected.runtime) {
      throw new ContainerRuntimeError(
        `${this.#o.label}: image ${this.image} cannot run: no container runtime (${detected.reason}); set command (and args) to run it as a local process, or install Docker or Podman`,
      );
    }
    const runtime = detected.runtime;
    try {
      await runtime.ensureImage(this.image, c.imagePullPolicy ?? 'IfNotPresent');
    } catch (err) {
      if (err instanceof ImagePullError) throw new ImagePullError(err.image, `${this.#o.label}: ${err.message}`, { cause: err });
      throw new ImagePullError(this.image, `${this.#o.label}: image ${this.image}: ${(err as Error).message}`, { cause: err });
    }
    this.#runtime = runtime;
    // On a bridge network loopback is the container itself: Sluice is at the host gateway.
    return env.K_SINK ? { ...env, K_SINK: containers!.localize(env.K_SINK, runtime) } : env;
  }

  launch(env: Record<string, string>, attempt: number, onStderr: (line: string) => void): SupervisedProcess {
    const runtime = this.#runtime;
    if (!runtime) throw new TypeError(`${this.#o.label}: launch() before prepare()`);
    const { container: c, namespace, name } = this.#o;
    const network = this.#o.containers!.network;
    const sc = c.securityContext;
    const user = sc?.runAsUser !== undefined ? `${sc.runAsUser}${sc.runAsGroup !== undefined ? `:${sc.runAsGroup}` : ''}` : undefined;
    const { limits } = limitsOf(c.resources, 'resources');
    const command = c.command?.map((s) => expandVars(s, env));
    const args = c.args?.map((s) => expandVars(s, env));
    const containerName = `sluice-cs-${namespace}-${name}-${this.#tag}-${attempt}`.replace(/[^a-zA-Z0-9_.-]/g, '-');
    const proc = startSupervisedContainer({
      runtime,
      logger: this.#o.logger,
      onStderr,
      stopGraceSeconds: this.#o.stopGraceSeconds,
      ...(this.#o.spawn ? { spawn: this.#o.spawn } : {}),
      spec: {
        name: containerName,
        image: this.image,
        ...(command?.length ? { command } : {}),
        ...(args?.length ? { args } : {}),
        env,
        network,
        ...(c.workingDir ? { workingDir: c.workingDir } : {}),
        labels: { ...runtime.ownerLabels(), [RESOURCE_LABEL]: `ContainerSource.${namespace}.${name}` },
        ...(limits.cpus !== undefined || limits.memoryBytes !== undefined ? { limits } : {}),
        ...(user ? { user } : {}),
        ...(sc?.readOnlyRootFilesystem ? { readOnlyRootFilesystem: true } : {}),
      },
    });
    this.#o.logger.info({ pid: proc.pid, container: containerName, image: this.image, network, runtime: runtime.name, restarts: attempt }, 'container started');
    return proc;
  }

  describe(): string {
    return `the ${this.#runtime?.cli ?? 'container runtime'} CLI`;
  }
}
