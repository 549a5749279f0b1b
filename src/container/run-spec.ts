import type { ContainerRuntime } from './container-runtime.js';

/** One container as Sluice runs it (a Service replica or a ContainerSource). */
export interface ContainerRunSpec {
  /** Container name; unique on the host. */
  name: string;
  image: string;
  /** Kubernetes `command`: replaces the image's entrypoint (and drops its CMD). */
  command?: readonly string[];
  /** Kubernetes `args`: replaces the image's CMD. */
  args?: readonly string[];
  /** The container's environment: exactly these variables (a container inherits none of Sluice's). */
  env: Readonly<Record<string, string>>;
  /** `host`: the host's network (loopback reaches Sluice); `bridge`: the runtime's default network. */
  network: 'host' | 'bridge';
  /** With `bridge`: the container port published on `hostIp:hostPort`. */
  publish?: { hostIp: string; hostPort: number; containerPort: number };
  workingDir?: string;
  labels: Readonly<Record<string, string>>;
  /** From `resources.limits`. */
  limits?: { cpus?: number; memoryBytes?: number };
  /** From `securityContext`: `runAsUser[:runAsGroup]`. */
  user?: string;
  readOnlyRootFilesystem?: boolean;
  /** Host files or folders bind-mounted into the container (`-v host:container[:ro]`). */
  mounts?: ReadonlyArray<{ hostPath: string; containerPath: string; readOnly: boolean }>;
}

/**
 * The `run` arguments (after `run`) for a spec. Environment values are not on the
 * command line, where `ps` would show a Secret's value: each is passed as `-e NAME` and
 * the CLI takes the value from its own environment (`cliEnv`).
 */
export function buildRunArgs(runtime: ContainerRuntime, spec: ContainerRunSpec): { args: string[]; cliEnv: Record<string, string> } {
  const args = ['--rm', '--name', spec.name, '--pull=never'];
  for (const [k, v] of Object.entries(spec.labels)) args.push('--label', `${k}=${v}`);
  if (spec.network === 'host') {
    args.push('--network', 'host');
  } else {
    args.push(...runtime.gatewayArgs());
    if (spec.publish) args.push('-p', `${bracket(spec.publish.hostIp)}:${spec.publish.hostPort}:${spec.publish.containerPort}`);
  }
  for (const name of Object.keys(spec.env)) args.push('-e', name);
  if (spec.workingDir) args.push('--workdir', spec.workingDir);
  if (spec.limits?.cpus !== undefined) args.push('--cpus', String(spec.limits.cpus));
  if (spec.limits?.memoryBytes !== undefined) args.push('--memory', `${spec.limits.memoryBytes}b`);
  if (spec.user) args.push('--user', spec.user);
  if (spec.readOnlyRootFilesystem) args.push('--read-only');
  for (const m of spec.mounts ?? []) args.push('-v', `${m.hostPath}:${m.containerPath}${m.readOnly ? ':ro' : ''}`);
  const [entrypoint, ...entryArgs] = spec.command ?? [];
  if (entrypoint !== undefined) args.push('--entrypoint', entrypoint);
  args.push(spec.image);
  // With an entrypoint override the image's CMD is dropped (Kubernetes semantics), so the
  // rest of `command` and then `args` follow the image name.
  args.push(...entryArgs, ...(spec.args ?? []));
  return { args, cliEnv: { ...spec.env } };
}

function bracket(ip: string): string {
  return ip.includes(':') ? `[${ip}]` : ip;
}
