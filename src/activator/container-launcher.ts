import { randomBytes } from 'node:crypto';
import { RESOURCE_LABEL, startSupervisedContainer, type ContainerRuntime } from '../container/index.js';
import type { Logger } from '../observability/logger.js';
import type { SpawnSupervised } from '../process/index.js';
import { freePort } from './readiness-probe.js';
import type { LaunchedReplica, ReplicaLauncher } from './replica-launcher.js';
import type { ReadinessProbe, ServiceConfig } from './service-spec.js';

export interface ContainerLauncherOptions {
  service: ServiceConfig;
  runtime: ContainerRuntime;
  logger: Logger;
  /**
   * `bridge` (default): the container port is published on a free loopback port;
   * `host`: the container shares the host's network and listens on a free port itself
   * (for when Sluice's ingress listens on loopback only, which a bridged container
   * cannot reach).
   */
  network?: 'bridge' | 'host';
  /** Seconds between SIGTERM and SIGKILL when a replica is stopped (default 10). */
  stopGraceSeconds?: number;
  spawn?: SpawnSupervised;
}

/** Replicas as containers of the Service's image, through the Docker or Podman CLI. */
export class ContainerLauncher implements ReplicaLauncher {
  readonly kind = 'container' as const;
  readonly #o: ContainerLauncherOptions;
  /** Names stay unique across Sluice restarts and concurrent Sluices on one engine. */
  readonly #tag = randomBytes(3).toString('hex');

  constructor(options: ContainerLauncherOptions) {
    if (!options.service.container.image) throw new TypeError(`Service ${options.service.key}: a container replica needs an image`);
    this.#o = options;
  }

  /**
   * A probe's port is the container's; from the host it is the published one. Docker's
   * userland proxy (and rootless port forwarders) accept a TCP connection before the
   * container listens, so there a TCP probe becomes an HTTP GET where any answer counts.
   */
  hostProbe(probe: ReadinessProbe): ReadinessProbe {
    const { port: _containerPort, ...rest } = probe;
    if (rest.kind === 'tcp' && this.#o.runtime.name === 'docker') return { kind: 'http', path: '/', headers: {}, timeoutMs: rest.timeoutMs, anyStatus: true };
    return rest as ReadinessProbe;
  }

  async launch(id: string, env: Record<string, string>, onStderr: (line: string) => void): Promise<LaunchedReplica> {
    const { service: svc, runtime } = this.#o;
    const c = svc.container;
    const network = this.#o.network ?? 'bridge';
    const port = await freePort('127.0.0.1');
    // On the host network the replica must listen on the free port itself; bridged, it
    // listens on its containerPort (Knative sets PORT to it) and the runtime publishes it.
    const listenPort = network === 'host' ? port : c.containerPort;
    const proc = startSupervisedContainer({
      runtime,
      logger: this.#o.logger,
      onStderr,
      ...(this.#o.stopGraceSeconds !== undefined ? { stopGraceSeconds: this.#o.stopGraceSeconds } : {}),
      ...(this.#o.spawn ? { spawn: this.#o.spawn } : {}),
      spec: {
        name: `sluice-${svc.namespace}-${svc.name}-${this.#tag}-${id.slice(id.lastIndexOf('-') + 1)}`.replace(/[^a-zA-Z0-9_.-]/g, '-'),
        image: c.image!,
        ...(c.command.length ? { command: c.command } : {}),
        ...(c.args.length ? { args: c.args } : {}),
        env: { ...env, PORT: String(listenPort) },
        network,
        ...(network === 'bridge' ? { publish: { hostIp: '127.0.0.1', hostPort: port, containerPort: c.containerPort } } : {}),
        ...(c.workingDir ? { workingDir: c.workingDir } : {}),
        labels: { ...runtime.ownerLabels(), [RESOURCE_LABEL]: `Service.${svc.namespace}.${svc.name}` },
        limits: c.limits,
        ...(c.user ? { user: c.user } : {}),
        ...(c.readOnlyRootFilesystem ? { readOnlyRootFilesystem: true } : {}),
      },
    });
    return { port, proc, stopGraceMs: proc.stopGraceMs };
  }
}
