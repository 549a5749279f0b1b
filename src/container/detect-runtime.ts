import { execFile } from 'node:child_process';
import { ContainerRuntimeError, InvalidOptionError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { ContainerRuntime, type ContainerRuntimeName } from './container-runtime.js';

/** `--container-runtime`: a CLI by name, the first that works, or none (images do not run). */
export type ContainerRuntimeChoice = ContainerRuntimeName | 'auto' | 'none';

export const CONTAINER_RUNTIME_CHOICES: readonly ContainerRuntimeChoice[] = ['auto', 'docker', 'podman', 'none'];

export function parseContainerRuntimeChoice(text: string, flag = '--container-runtime'): ContainerRuntimeChoice {
  if ((CONTAINER_RUNTIME_CHOICES as readonly string[]).includes(text)) return text as ContainerRuntimeChoice;
  throw new InvalidOptionError(`${flag}: ${JSON.stringify(text)} is not one of ${CONTAINER_RUNTIME_CHOICES.join(', ')}`);
}

/** What detection found: the runtime, or why images cannot run (shown in a Service's status). */
export type DetectedRuntime = { runtime: ContainerRuntime } | { runtime?: undefined; reason: string };

/**
 * Finds a working runtime: `auto` tries Docker then Podman, each only if its CLI is on
 * PATH and reaches its engine (a Docker CLI without a daemon does not count). A runtime
 * named explicitly that does not work is an error, so a typo or a stopped daemon is
 * said at start rather than at the first Service.
 */
export async function detectContainerRuntime(choice: ContainerRuntimeChoice, logger: Logger): Promise<DetectedRuntime> {
  if (choice === 'none') return { reason: 'container runtime disabled (--container-runtime none)' };
  const candidates: ContainerRuntimeName[] = choice === 'auto' ? ['docker', 'podman'] : [choice];
  const failures: string[] = [];
  for (const name of candidates) {
    const why = await probe(name);
    if (why === undefined) {
      logger.info({ runtime: name }, 'container runtime found: Services and ContainerSources with an image run as containers');
      return { runtime: new ContainerRuntime({ name, logger }) };
    }
    failures.push(`${name}: ${why}`);
  }
  if (choice !== 'auto') throw new ContainerRuntimeError(`--container-runtime ${choice} does not work here (${failures.join('; ')})`);
  return { reason: `no container runtime works here (${failures.join('; ')})` };
}

/** undefined when `<cli> version` reaches the engine; else why not. */
function probe(name: ContainerRuntimeName): Promise<string | undefined> {
  return new Promise((resolve) => {
    // `version` fails (exit 1) when the Docker CLI cannot reach its daemon.
    execFile(name, ['version', '--format', '{{.Server.Version}}'], { timeout: 15_000 }, (err, _stdout, stderr) => {
      if (!err) return resolve(undefined);
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return resolve('not found on PATH');
      resolve((stderr.trim().split('\n').pop() ?? '') || err.message);
    });
  });
}
