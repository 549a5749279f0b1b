import { isAbsolute, resolve as resolvePath } from 'node:path';
import { RESOURCE_LABEL, startSupervisedContainer, type ContainerRuntime, type ContainerSupport } from '../container/index.js';
import { ContainerRuntimeError, ImagePullError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { spawnSupervised, type SpawnSupervised, type SupervisedProcess } from '../process/index.js';
import { limitsOf } from '../resources/container-schemas.js';
import type { EnvLookup } from '../runtime/env-resolver.js';
import { expandVars, resolveContainerEnv } from '../sources/container/container-env.js';
import { EVENT_MOUNT_DIR, EVENT_MOUNT_PATH, type JobContainer, type JobRunner } from './jobsink-kind.js';

const INHERITED = ['PATH', 'HOME', 'LANG', 'TZ', 'TMPDIR'];

export interface LaunchContext {
  namespace: string;
  name: string;
  /** `JobSink ns/name job <id>`, for messages. */
  label: string;
  container: JobContainer;
  runner: JobRunner;
  /** Folder holding the event file `event` (mounted read-only in a container). */
  eventDir: string;
  /** The file itself, on the host. */
  eventFile: string;
  /** Unique per attempt: the container's name. */
  attemptName: string;
  stopGraceSeconds: number;
  logger: Logger;
  envLookup: EnvLookup;
  containers: ContainerSupport | undefined;
  /** The YAML file's folder: a relative workingDir of a local process resolves from it. */
  baseDir: string | undefined;
  onStderr(line: string): void;
  spawn?: SpawnSupervised;
}

/**
 * Starts one attempt of a job: `command` (then `args`) as a supervised local process with
 * K_EVENT_PATH naming the event file, or the `image` as a container with the event's
 * folder mounted read-only at /etc/jobsink-event (K_EVENT_PATH set to the mounted file).
 */
export async function launchAttempt(o: LaunchContext, ensureImage: (runtime: ContainerRuntime, image: string, policy: 'Always' | 'IfNotPresent' | 'Never') => Promise<void>): Promise<SupervisedProcess> {
  const c = o.container;
  const base = o.runner === 'process' ? pickEnv(INHERITED) : {};
  const env = await resolveContainerEnv({ label: o.label, namespace: o.namespace, base, env: c.env, envFrom: c.envFrom, envLookup: o.envLookup });
  env.K_EVENT_PATH = o.runner === 'process' ? o.eventFile : EVENT_MOUNT_PATH;
  const command = c.command?.map((s) => expandVars(s, env));
  const args = c.args?.map((s) => expandVars(s, env));
  if (o.runner === 'process') {
    const [cmd, ...rest] = command ?? [];
    const cwd = c.workingDir ? (isAbsolute(c.workingDir) || !o.baseDir ? c.workingDir : resolvePath(o.baseDir, c.workingDir)) : undefined;
    return (o.spawn ?? spawnSupervised)({
      name: o.label,
      command: cmd as string,
      args: [...rest, ...(args ?? [])],
      env,
      ...(cwd ? { cwd } : {}),
      logger: o.logger,
      onStderr: o.onStderr,
    });
  }
  const detected = o.containers ? await o.containers.runtime() : { reason: 'no container runtime configured' };
  if (!detected.runtime) {
    throw new ContainerRuntimeError(`${o.label}: image ${c.image} cannot run: no container runtime (${detected.reason}); set command to run the job as a local process, or install Docker or Podman`);
  }
  const runtime = detected.runtime;
  try {
    await ensureImage(runtime, c.image!, c.imagePullPolicy ?? 'IfNotPresent');
  } catch (err) {
    if (err instanceof ImagePullError) throw err;
    throw new ImagePullError(c.image!, `${o.label}: image ${c.image}: ${(err as Error).message}`, { cause: err });
  }
  const sc = c.securityContext;
  const user = sc?.runAsUser !== undefined ? `${sc.runAsUser}${sc.runAsGroup !== undefined ? `:${sc.runAsGroup}` : ''}` : undefined;
  const { limits } = limitsOf(c.resources, 'resources');
  return startSupervisedContainer({
    runtime,
    logger: o.logger,
    onStderr: o.onStderr,
    stopGraceSeconds: o.stopGraceSeconds,
    ...(o.spawn ? { spawn: o.spawn } : {}),
    spec: {
      name: o.attemptName,
      image: c.image!,
      ...(command?.length ? { command } : {}),
      ...(args?.length ? { args } : {}),
      env,
      network: o.containers!.network,
      ...(c.workingDir ? { workingDir: c.workingDir } : {}),
      labels: { ...runtime.ownerLabels(), [RESOURCE_LABEL]: `JobSink.${o.namespace}.${o.name}` },
      ...(limits.cpus !== undefined || limits.memoryBytes !== undefined ? { limits } : {}),
      ...(user ? { user } : {}),
      ...(sc?.readOnlyRootFilesystem ? { readOnlyRootFilesystem: true } : {}),
      mounts: [{ hostPath: o.eventDir, containerPath: EVENT_MOUNT_DIR, readOnly: true }],
    },
  });
}

function pickEnv(keys: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of keys) {
    const v = process.env[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}
