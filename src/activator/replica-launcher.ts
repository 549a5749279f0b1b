import type { SupervisedProcess } from '../process/index.js';
import type { ReadinessProbe } from './service-spec.js';

/** One started replica: where it answers on this host, and its supervised process. */
export interface LaunchedReplica {
  /** Port on the scaler's host the replica answers on (probed and routed to). */
  port: number;
  proc: SupervisedProcess;
  /** Grace `stop()` needs at least (a container's CLI needs time to stop and remove it). */
  stopGraceMs?: number;
}

/**
 * How a local scaler starts one replica: a process on the host, or a container through
 * Docker/Podman. The scaler owns the rest (readiness, liveness, restarts, draining).
 */
export interface ReplicaLauncher {
  readonly kind: 'process' | 'container';
  /**
   * Starts replica `id`. `env` is what every replica gets (the Service's env, K_SERVICE,
   * K_REVISION, K_CONFIGURATION, bindings); the launcher adds PORT. Rejects when the
   * replica cannot be started at all (no free port).
   */
  launch(id: string, env: Record<string, string>, onStderr: (line: string) => void): Promise<LaunchedReplica>;
  /** The probe as run from the host against `LaunchedReplica.port` (default: as written). */
  hostProbe?(probe: ReadinessProbe): ReadinessProbe;
}
