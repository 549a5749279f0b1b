import type { SupervisedProcess } from '../../process/index.js';
import type { ContainerSourceRunner } from './spec-schema.js';

/**
 * How a ContainerSource's one container is run: as a local process or as a container of
 * its image. The ContainerSource builds the environment and restarts what exits; a
 * launcher knows what its kind of run starts from, needs and starts.
 */
export interface SourceLauncher {
  readonly runner: ContainerSourceRunner;
  /** Variables the program starts from, before `envFrom` and `env`. */
  baseEnv(): Record<string, string>;
  /**
   * Checks that the program can run (and, for an image, that a runtime and the image
   * are there); returns the environment as the program gets it. Throws what stops the start.
   */
  prepare(env: Record<string, string>): Promise<Record<string, string>>;
  /** Starts one run; `attempt` counts the runs of this source (0 first). */
  launch(env: Record<string, string>, attempt: number, onStderr: (line: string) => void): SupervisedProcess;
  /** What could not be started, for a message (`"node"`, `the podman CLI`). */
  describe(env: Record<string, string>): string;
}
