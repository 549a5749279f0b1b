import { z } from 'zod';
import { RUNNER_ANNOTATION } from '../../activator/service-spec.js';
import type { ResourceIssue } from '../../errors.js';
import { envFromSchema, envVarSchema, limitsOf, POD_CLUSTER_FIELDS, resourcesSchema, securityContextSchema } from '../../resources/container-schemas.js';
import { destinationSchema } from '../../resources/common-schemas.js';
import { formatPath } from '../../resources/zod-issues.js';
import { ceOverridesSchema } from '../sinkbinding/ce-overrides.js';

// `spec` of `sources.knative.dev/v1` ContainerSource: a pod template with one container.
// The container runs either as a local process (its `command`) or, through Docker or
// Podman, as a container of its `image`; which one follows the same rule as a Service
// (see `containerSourceRunner`). Fields a single host cannot honour but Knative's YAML
// carries are accepted and listed as ignored in the status; objects stay strict, so a
// field Sluice does not know is reported by name.

/** Probes are accepted as Knative YAML writes them: a ContainerSource serves no port to probe. */
const probeSchema = z.record(z.string(), z.unknown());

const portSchema = z
  .object({
    containerPort: z.number().int().min(1).max(65535),
    name: z.string().optional(),
    protocol: z.string().optional(),
  })
  .passthrough();

const containerSchema = z.strictObject({
  name: z.string().min(1).optional(),
  /** Run through Docker/Podman (when there is no `command`, or by the `sluice.dev/runner` annotation). */
  image: z.string().min(1).optional(),
  /** As a process: the program and its first arguments. As a container: replaces the image's entrypoint. */
  command: z.array(z.string()).optional(),
  /** As a process: more arguments. As a container: replaces the image's CMD. */
  args: z.array(z.string()).optional(),
  env: z.array(envVarSchema).optional(),
  envFrom: z.array(envFromSchema).optional(),
  workingDir: z.string().min(1).optional(),
  imagePullPolicy: z.enum(['Always', 'IfNotPresent', 'Never']).optional(),
  ports: z.array(portSchema).optional(),
  resources: resourcesSchema.optional(),
  securityContext: securityContextSchema.optional(),
  livenessProbe: probeSchema.optional(),
  readinessProbe: probeSchema.optional(),
  startupProbe: probeSchema.optional(),
  terminationMessagePath: z.string().optional(),
  terminationMessagePolicy: z.string().optional(),
});

/** Pod-level fields that only mean something on a cluster: accepted, reported as ignored. */
const CLUSTER_ONLY = [...POD_CLUSTER_FIELDS, 'restartPolicy'] as const;

/** Container fields without meaning for a ContainerSource on one host. */
const CONTAINER_IGNORED = ['ports', 'livenessProbe', 'readinessProbe', 'startupProbe', 'terminationMessagePath', 'terminationMessagePolicy'] as const;

/** The securityContext fields a container runtime is given; the others are accepted and ignored. */
const SECURITY_HONOURED = new Set(['runAsUser', 'runAsGroup', 'readOnlyRootFilesystem']);

const WHERE = 'spec.template.spec.containers[0]';

/** `spec` of `sources.knative.dev/v1` ContainerSource. */
export const containerSourceSpecSchema = z.strictObject({
  template: z.strictObject({
    metadata: z
      .strictObject({
        labels: z.record(z.string(), z.string()).optional(),
        annotations: z.record(z.string(), z.string()).optional(),
      })
      .optional(),
    spec: z.strictObject({
      containers: z
        .array(containerSchema)
        .min(1, 'one container is required')
        .superRefine((containers, ctx) => {
          if (containers.length > 1) {
            ctx.addIssue({ code: 'custom', message: `has ${containers.length} containers: Sluice runs one container per ContainerSource (sidecars are not supported)` });
          }
          const c = containers[0];
          for (const [i, e] of (c?.env ?? []).entries()) {
            if (e.name === 'K_SINK' || e.name === 'K_CE_OVERRIDES') {
              ctx.addIssue({ code: 'custom', path: [0, 'env', i, 'name'], message: `${e.name} is set by Sluice from spec.sink and spec.ceOverrides` });
            }
          }
        }),
      /** Honoured: the time between SIGTERM and SIGKILL when the process or container is stopped. */
      terminationGracePeriodSeconds: z.number().int().min(0).optional(),
      ...(Object.fromEntries(CLUSTER_ONLY.map((f) => [f, z.unknown().optional()])) as Record<(typeof CLUSTER_ONLY)[number], z.ZodOptional<z.ZodUnknown>>),
    }),
  }),
  sink: destinationSchema,
  ceOverrides: ceOverridesSchema.optional(),
});

export type ContainerSourceSpec = z.infer<typeof containerSourceSpecSchema>;
export type ContainerSourceSpecInput = z.input<typeof containerSourceSpecSchema>;
export type ContainerSpec = z.infer<typeof containerSchema>;

/** How a ContainerSource runs: its command as a local process, or its image as a container. */
export type ContainerSourceRunner = 'process' | 'container';

type Annotations = Readonly<Record<string, string>> | undefined;

/**
 * The rule Services follow too: the `sluice.dev/runner` annotation decides when set (the
 * template's wins over the resource's); otherwise a container with a `command` runs as a
 * local process (as Sluice always ran it), and one with an `image` and no `command` runs
 * as a container (`args` alone then override the image's CMD).
 */
export function containerSourceRunner(spec: ContainerSourceSpec, annotations: Annotations): ContainerSourceRunner {
  const value = runnerAnnotation(spec, annotations)?.value;
  if (value === 'container' || value === 'process') return value;
  const c = spec.template.spec.containers[0];
  return c?.command?.length || !c?.image ? 'process' : 'container';
}

function runnerAnnotation(spec: ContainerSourceSpec, annotations: Annotations): { path: string; value: string } | undefined {
  const key = formatPath([RUNNER_ANNOTATION]);
  const t = spec.template.metadata?.annotations?.[RUNNER_ANNOTATION];
  if (t !== undefined) return { path: `spec.template.metadata.annotations${key}`, value: t };
  const m = annotations?.[RUNNER_ANNOTATION];
  if (m !== undefined) return { path: `metadata.annotations${key}`, value: m };
  return undefined;
}

/**
 * What the schema cannot check alone, because the resource's annotations take part:
 * the runner annotation's value, a `command` to run as a process, an `image` to run as
 * a container, and `resources.limits` a container runtime can take.
 */
export function containerSourceIssues(spec: ContainerSourceSpec, annotations: Annotations): ResourceIssue[] {
  const issues: ResourceIssue[] = [];
  const a = runnerAnnotation(spec, annotations);
  if (a && a.value !== 'container' && a.value !== 'process') issues.push({ path: a.path, message: `${JSON.stringify(a.value)} is not container or process` });
  const c = spec.template.spec.containers[0];
  if (!c) return issues;
  const runner = containerSourceRunner(spec, annotations);
  if (runner === 'process' && !c.command?.length) {
    issues.push({
      path: `${WHERE}.command`,
      message: c.image
        ? `is required: ${RUNNER_ANNOTATION}: process runs the command as a local process, not image ${JSON.stringify(c.image)}`
        : 'is required: the program to run (with args), or give an image to run as a container',
    });
  }
  if (runner === 'container') {
    if (!c.image) issues.push({ path: `${WHERE}.image`, message: `is required to run the ContainerSource as a container (${RUNNER_ANNOTATION}: container)` });
    issues.push(...limitsOf(c.resources, `${WHERE}.resources`).issues);
  }
  return issues;
}

/** Fields accepted without effect where the source runs (for `status.ignored`), as full paths. */
export function ignoredFields(spec: ContainerSourceSpec, runner: ContainerSourceRunner): string[] {
  const pod = spec.template.spec as Record<string, unknown>;
  const c = spec.template.spec.containers[0] as ContainerSpec;
  const out = CLUSTER_ONLY.filter((f) => pod[f] !== undefined).map((f) => `spec.template.spec.${f}`);
  for (const f of CONTAINER_IGNORED) if (c[f] !== undefined) out.push(`${WHERE}.${f}`);
  if (runner === 'process') {
    // A local process runs as Sluice's user, with no image and no limits.
    for (const f of ['image', 'imagePullPolicy', 'resources', 'securityContext'] as const) if (c[f] !== undefined) out.push(`${WHERE}.${f}`);
  } else {
    if (c.resources?.requests !== undefined) out.push(`${WHERE}.resources.requests`);
    if (c.resources?.claims !== undefined) out.push(`${WHERE}.resources.claims`);
    for (const k of Object.keys(c.securityContext ?? {})) if (!SECURITY_HONOURED.has(k)) out.push(`${WHERE}.securityContext.${k}`);
  }
  return out;
}
