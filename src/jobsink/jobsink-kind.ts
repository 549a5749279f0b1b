import { z } from 'zod';
import { RUNNER_ANNOTATION } from '../activator/service-spec.js';
import type { ResourceIssue } from '../errors.js';
import type { KindDefinition } from '../resources/index.js';
import { envFromSchema, envVarSchema, limitsOf, POD_CLUSTER_FIELDS, resourcesSchema, securityContextSchema } from '../resources/container-schemas.js';

// `sinks.knative.dev/v1alpha1` JobSink: `spec.job` is a batch/v1 Job whose pod template
// runs once per event received. Sluice runs `containers[0]` of the template to
// completion, as a local process (its `command`) or a container of its `image`, with
// the event as a structured-mode JSON file. Objects are strict where Sluice acts on the
// fields; Job and pod fields that only mean something on a cluster are accepted and
// listed as ignored in the status.

export const JOBSINK_API_VERSION = 'sinks.knative.dev/v1alpha1';
/** Where the event file is mounted in a container, as Knative mounts it. */
export const EVENT_MOUNT_DIR = '/etc/jobsink-event';
export const EVENT_MOUNT_PATH = `${EVENT_MOUNT_DIR}/event`;

/** Annotations (Sluice's, so the spec stays Knative's): jobs running at once, jobs waiting, initial retry delay. */
export const MAX_CONCURRENT_ANNOTATION = 'sluice.dev/max-concurrent-jobs';
export const MAX_QUEUED_ANNOTATION = 'sluice.dev/max-queued-jobs';
export const BACKOFF_ANNOTATION = 'sluice.dev/job-backoff-seconds';
export const DEFAULT_MAX_CONCURRENT = 4;
export const DEFAULT_MAX_QUEUED = 100;
/** Kubernetes' default backoffLimit. */
export const DEFAULT_BACKOFF_LIMIT = 6;
/** Kubernetes waits 10 s, 20 s, 40 s... (cap 6 min); Sluice starts at 1 s, doubling, capped at 60 s. */
export const DEFAULT_BACKOFF_SECONDS = 1;

const containerSchema = z.strictObject({
  name: z.string().min(1).optional(),
  image: z.string().min(1).optional(),
  command: z.array(z.string()).optional(),
  args: z.array(z.string()).optional(),
  env: z.array(envVarSchema).optional(),
  envFrom: z.array(envFromSchema).optional(),
  workingDir: z.string().min(1).optional(),
  imagePullPolicy: z.enum(['Always', 'IfNotPresent', 'Never']).optional(),
  resources: resourcesSchema.optional(),
  securityContext: securityContextSchema.optional(),
  // Accepted as Knative YAML writes them; without meaning for a run-to-completion job here.
  ports: z.array(z.unknown()).optional(),
  volumeMounts: z.array(z.unknown()).optional(),
  terminationMessagePath: z.string().optional(),
  terminationMessagePolicy: z.string().optional(),
});

const CONTAINER_IGNORED = ['ports', 'volumeMounts', 'terminationMessagePath', 'terminationMessagePolicy'] as const;

const POD_IGNORED = [...POD_CLUSTER_FIELDS, 'volumes', 'initContainers'] as const;

const JOB_IGNORED = ['ttlSecondsAfterFinished', 'suspend', 'selector', 'manualSelector', 'podFailurePolicy', 'podReplacementPolicy', 'backoffLimitPerIndex', 'maxFailedIndexes', 'completionMode', 'successPolicy'] as const;

const meta = z
  .object({ labels: z.record(z.string(), z.string()).optional(), annotations: z.record(z.string(), z.string()).optional() })
  .passthrough();

const one = (what: string) => z.number().int().refine((n) => n === 1, { message: `Sluice runs one ${what} per event: only 1 is supported` });

export const jobSinkSpecSchema = z.strictObject({
  job: z.strictObject({
    apiVersion: z.string().optional(),
    kind: z.string().optional(),
    metadata: meta.optional(),
    spec: z.strictObject({
      template: z.strictObject({
        metadata: meta.optional(),
        spec: z.strictObject({
          containers: z
            .array(containerSchema)
            .min(1, 'one container is required')
            .refine((c) => c.length === 1, { message: 'Sluice runs one container per job (sidecars are not supported)' }),
          restartPolicy: z.enum(['Never', 'OnFailure']).optional(),
          /** Honoured: the time between SIGTERM and SIGKILL when a job is stopped. */
          terminationGracePeriodSeconds: z.number().int().min(0).optional(),
          /** Honoured: a job attempt running longer fails (DeadlineExceeded). */
          activeDeadlineSeconds: z.number().int().positive().optional(),
          ...(Object.fromEntries(POD_IGNORED.map((f) => [f, z.unknown().optional()])) as Record<(typeof POD_IGNORED)[number], z.ZodOptional<z.ZodUnknown>>),
        }),
      }),
      /** Honoured: retries of a failed job (Kubernetes' default 6). */
      backoffLimit: z.number().int().min(0).max(100).optional(),
      /** Honoured: the whole job, retries included, fails once running longer. */
      activeDeadlineSeconds: z.number().int().positive().optional(),
      completions: one('completion').optional(),
      parallelism: one('pod at a time').optional(),
      ...(Object.fromEntries(JOB_IGNORED.map((f) => [f, z.unknown().optional()])) as Record<(typeof JOB_IGNORED)[number], z.ZodOptional<z.ZodUnknown>>),
    }),
  }),
});

export type JobSinkSpec = z.infer<typeof jobSinkSpecSchema>;
export type JobContainer = z.infer<typeof containerSchema>;
export type JobRunner = 'process' | 'container';

type Annotations = Readonly<Record<string, string>> | undefined;

const WHERE = 'spec.job.spec.template.spec.containers[0]';

function runnerAnnotation(spec: JobSinkSpec, annotations: Annotations): { path: string; value: string } | undefined {
  const t = spec.job.spec.template.metadata?.annotations?.[RUNNER_ANNOTATION];
  if (t !== undefined) return { path: `spec.job.spec.template.metadata.annotations["${RUNNER_ANNOTATION}"]`, value: t };
  const m = annotations?.[RUNNER_ANNOTATION];
  if (m !== undefined) return { path: `metadata.annotations["${RUNNER_ANNOTATION}"]`, value: m };
  return undefined;
}

/**
 * The runner annotation when set, else an `image` runs as a container (its `command`
 * overriding the entrypoint, as Knative's own JobSink samples are written) and a
 * container without one as a local process. Services and ContainerSources keep running
 * a `command` as a process, as they always did; JobSink is new, so it follows Knative.
 */
export function jobRunner(spec: JobSinkSpec, annotations: Annotations): JobRunner {
  const v = runnerAnnotation(spec, annotations)?.value;
  if (v === 'container' || v === 'process') return v;
  const c = spec.job.spec.template.spec.containers[0];
  return c?.image ? 'container' : 'process';
}

export interface JobSinkLimits {
  maxConcurrent: number;
  maxQueued: number;
  backoffSeconds: number;
}

/** The Sluice annotations' values, or the issue with each. */
export function jobSinkLimits(annotations: Annotations): { limits: JobSinkLimits; issues: ResourceIssue[] } {
  const issues: ResourceIssue[] = [];
  const num = (key: string, dflt: number, ok: (n: number) => boolean, what: string): number => {
    const raw = annotations?.[key];
    if (raw === undefined) return dflt;
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n) || !ok(n)) {
      issues.push({ path: `metadata.annotations["${key}"]`, message: `${JSON.stringify(raw)} is not ${what}` });
      return dflt;
    }
    return n;
  };
  const limits = {
    maxConcurrent: num(MAX_CONCURRENT_ANNOTATION, DEFAULT_MAX_CONCURRENT, (n) => Number.isInteger(n) && n >= 1 && n <= 1000, 'an integer from 1 to 1000'),
    maxQueued: num(MAX_QUEUED_ANNOTATION, DEFAULT_MAX_QUEUED, (n) => Number.isInteger(n) && n >= 0 && n <= 100_000, 'an integer from 0 to 100000'),
    backoffSeconds: num(BACKOFF_ANNOTATION, DEFAULT_BACKOFF_SECONDS, (n) => n >= 0 && n <= 3600, 'a number of seconds from 0 to 3600'),
  };
  return { limits, issues };
}

/** Cross-field rules: the runner annotation's value, a command for a process, an image for a container, limits a runtime takes. */
export function jobSinkIssues(spec: JobSinkSpec, annotations: Annotations): ResourceIssue[] {
  const issues: ResourceIssue[] = [...jobSinkLimits(annotations).issues];
  const a = runnerAnnotation(spec, annotations);
  if (a && a.value !== 'container' && a.value !== 'process') issues.push({ path: a.path, message: `${JSON.stringify(a.value)} is not container or process` });
  const c = spec.job.spec.template.spec.containers[0];
  if (!c) return issues;
  const runner = jobRunner(spec, annotations);
  if (runner === 'process' && !c.command?.length) {
    issues.push({
      path: `${WHERE}.command`,
      message: c.image
        ? `is required: ${RUNNER_ANNOTATION}: process runs the command as a local process, not image ${JSON.stringify(c.image)}`
        : 'is required: the program to run (with args), or give an image to run as a container',
    });
  }
  if (runner === 'container') {
    if (!c.image) issues.push({ path: `${WHERE}.image`, message: `is required to run the job as a container (${RUNNER_ANNOTATION}: container)` });
    issues.push(...limitsOf(c.resources, `${WHERE}.resources`).issues);
  }
  for (const [i, e] of (c.env ?? []).entries()) {
    if (e.name === 'K_EVENT_PATH') issues.push({ path: `${WHERE}.env[${i}].name`, message: 'K_EVENT_PATH is set by Sluice to the event file' });
  }
  return issues;
}

/** Fields accepted without effect where the job runs, as full paths (for `status.ignored`). */
export function ignoredFields(spec: JobSinkSpec, runner: JobRunner): string[] {
  const job = spec.job.spec as Record<string, unknown>;
  const pod = spec.job.spec.template.spec as Record<string, unknown>;
  const c = spec.job.spec.template.spec.containers[0] as JobContainer;
  const out = JOB_IGNORED.filter((f) => job[f] !== undefined).map((f) => `spec.job.spec.${f}`);
  out.push(...POD_IGNORED.filter((f) => pod[f] !== undefined).map((f) => `spec.job.spec.template.spec.${f}`));
  for (const f of CONTAINER_IGNORED) if (c[f] !== undefined) out.push(`${WHERE}.${f}`);
  if (runner === 'process') for (const f of ['image', 'imagePullPolicy', 'resources', 'securityContext'] as const) if (c[f] !== undefined) out.push(`${WHERE}.${f}`);
  return out;
}

export const jobSinkKind: KindDefinition<JobSinkSpec> = {
  apiVersion: JOBSINK_API_VERSION,
  kind: 'JobSink',
  spec: jobSinkSpecSchema,
  validate: (r) => jobSinkIssues(r.spec, r.metadata.annotations),
};
