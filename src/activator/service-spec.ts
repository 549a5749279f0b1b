import { z } from 'zod';
import type { PullPolicy } from '../container/container-runtime.js';
import { ResourceValidationError, type ResourceIssue, type ResourceOrigin } from '../errors.js';
import { envFromSchema, envSourcesOf, envVarSchema, limitsOf, POD_CLUSTER_FIELDS, resourcesSchema, securityContextSchema, type ContainerLimits, type EnvSource } from '../resources/container-schemas.js';
import { nsKey, type Resource } from '../resources/types.js';
import { parseAutoscaling, type AutoscaleConfig } from './autoscale-config.js';

// `serving.knative.dev/v1` Service, the parts Sluice runs: one container (a local
// process, or a container through Docker/Podman), its port, probes, env, limits, the
// concurrency limit, and the autoscaling annotations of the template. Objects are strict
// so that a field Sluice does not support is reported by name; fields that only mean
// something on a Kubernetes cluster (service accounts, scheduling) are accepted and
// listed as ignored in the Service's status.

/** Annotation choosing how a Service or ContainerSource runs: `container` or `process`. */
export const RUNNER_ANNOTATION = 'sluice.dev/runner';

const httpGet = z.strictObject({
  path: z.string().startsWith('/', 'must start with /').default('/'),
  port: z.number().int().min(1).max(65535).optional(),
  scheme: z.enum(['HTTP']).optional(),
  httpHeaders: z.array(z.strictObject({ name: z.string().min(1), value: z.string() })).optional(),
});

const probe = z
  .strictObject({
    httpGet: httpGet.optional(),
    tcpSocket: z.strictObject({ port: z.number().int().min(1).max(65535).optional() }).optional(),
    periodSeconds: z.number().min(0).optional(),
    timeoutSeconds: z.number().positive().optional(),
    initialDelaySeconds: z.number().min(0).optional(),
    successThreshold: z.number().int().positive().optional(),
    failureThreshold: z.number().int().positive().optional(),
  })
  .refine((p) => !(p.httpGet && p.tcpSocket), { message: 'set httpGet or tcpSocket, not both' });

const container = z.strictObject({
  name: z.string().optional(),
  image: z.string().min(1).optional(),
  // Kubernetes' entrypoint is a list; a single string is accepted as a convenience.
  command: z.union([z.string().min(1).transform((s) => [s]), z.array(z.string()).min(1)]).optional(),
  args: z.array(z.string()).optional(),
  env: z.array(envVarSchema).optional(),
  envFrom: z.array(envFromSchema).optional(),
  workingDir: z.string().min(1).optional(),
  ports: z
    .array(
      z.strictObject({
        containerPort: z.number().int().min(1).max(65535),
        // Knative's port names: h2c or http1; both are plain HTTP/1.1 to Sluice's proxy.
        name: z.string().optional(),
        protocol: z.enum(['TCP']).optional(),
      }),
    )
    .max(1, 'Knative allows one port per service')
    .optional(),
  readinessProbe: probe.optional(),
  livenessProbe: probe.optional(),
  startupProbe: probe.optional(),
  resources: resourcesSchema.optional(),
  imagePullPolicy: z.enum(['Always', 'IfNotPresent', 'Never']).optional(),
  securityContext: securityContextSchema.optional(),
  terminationMessagePath: z.string().optional(),
  terminationMessagePolicy: z.string().optional(),
});

/** Pod-level fields that only mean something on a cluster: accepted, reported as ignored. */
const CLUSTER_ONLY = [...POD_CLUSTER_FIELDS, 'responseStartTimeoutSeconds', 'idleTimeoutSeconds'] as const;

const trafficTarget = z.strictObject({
  revisionName: z.string().optional(),
  configurationName: z.string().optional(),
  latestRevision: z.boolean().optional(),
  percent: z.number().int().min(0).max(100).optional(),
  tag: z.string().optional(),
  url: z.string().optional(),
});

export const serviceSpecSchema = z.strictObject({
  template: z.strictObject({
    metadata: z
      .strictObject({
        name: z.string().optional(),
        labels: z.record(z.string(), z.string()).optional(),
        annotations: z.record(z.string(), z.string()).optional(),
      })
      .optional(),
    spec: z.strictObject({
      containerConcurrency: z.number().int().min(0).max(1000).optional(),
      timeoutSeconds: z.number().int().positive().optional(),
      containers: z.array(container).length(1, 'Sluice runs exactly one container per service'),
      ...Object.fromEntries(CLUSTER_ONLY.map((f) => [f, z.unknown().optional()])),
    }),
  }),
  traffic: z.array(trafficTarget).optional(),
});

/** The Service spec as written in YAML (after schema defaults). */
export type ServiceSpec = z.infer<typeof serviceSpecSchema>;

/** How readiness is checked; `port` defaults to the replica's own port. */
export type ReadinessProbe =
  | { kind: 'http'; path: string; port?: number; headers: Record<string, string>; timeoutMs: number; anyStatus?: boolean }
  | { kind: 'tcp'; port?: number; timeoutMs: number };

/** A liveness probe: a replica failing it `failureThreshold` times in a row is restarted. */
export interface LivenessProbe {
  probe: ReadinessProbe;
  periodMs: number;
  initialDelayMs: number;
  failureThreshold: number;
}

export interface ContainerConfig {
  /** Entrypoint plus its arguments: `command[0]` is run with `command[1..]` then `args`. Empty when only `image` is set. */
  command: string[];
  args: string[];
  /** Literal `env` values; values from Secrets and ConfigMaps are in `envSources`. */
  env: Record<string, string>;
  /** `envFrom` and `env[].valueFrom`, in order, resolved at each replica start (empty when there are none). */
  envSources: EnvSource[];
  workingDir?: string;
  image?: string;
  /** Default IfNotPresent. */
  imagePullPolicy: PullPolicy;
  /** `ports[0].containerPort` (Knative's default 8080); a process replica gets its own free port in `PORT` instead. */
  containerPort: number;
  readinessProbe: ReadinessProbe;
  /** Must pass once before readiness (and liveness) probes count. */
  startupProbe?: ReadinessProbe;
  livenessProbe?: LivenessProbe;
  /** `resources.limits`, passed to a container runtime. */
  limits: ContainerLimits;
  /** `securityContext.runAsUser[:runAsGroup]`, for a container runtime. */
  user?: string;
  readOnlyRootFilesystem?: boolean;
}

/** Everything the activator and the scalers need to run one Service. */
export interface ServiceConfig {
  namespace: string;
  name: string;
  /** `namespace/name`. */
  key: string;
  /** Requests one replica takes at a time; 0 = no limit. */
  containerConcurrency: number;
  /** Per-request timeout from `timeoutSeconds` (Knative's default 300 s). */
  requestTimeoutMs: number;
  container: ContainerConfig;
  autoscale: AutoscaleConfig;
  /**
   * `container`: run the image through Docker/Podman; `process`: run `command` on the host.
   * From the `sluice.dev/runner` annotation; by default a command means a process (as
   * Sluice has always run it) and an image without a command means a container.
   */
  runner: 'process' | 'container';
  /** Fields accepted but without effect here (cluster-only), for the status. */
  ignored: string[];
}

export type ServiceMode = 'local' | 'kubernetes';

/** Entry for the resource registry (src/resources): apiVersion/kind and the spec schema. */
export const serviceKind = {
  apiVersion: 'serving.knative.dev/v1',
  kind: 'Service', shortNames: ['ksvc', 'kservice'],
  spec: serviceSpecSchema,
  /** Parses a validated Service into the activator's config (throws ResourceValidationError). */
  toConfig: (resource: Resource, mode: ServiceMode = 'local', origin?: ResourceOrigin) => serviceConfigFrom(resource, mode, origin),
  /**
   * Load-time rules beyond the schema (annotations, env), so `sluice validate` and
   * `start` name the file and document. Whether `command` or `image` is needed depends
   * on where the Service runs: that is left to the runtime, which reports it as status.
   */
  validate: (resource: Resource): ResourceIssue[] => {
    try {
      serviceConfigFrom(resource, 'local');
      return [];
    } catch (err) {
      if (!(err instanceof ResourceValidationError)) throw err;
      return err.issues.filter((i) => !i.path.endsWith('.command'));
    }
  },
} as const;

/**
 * Validates a Service resource and turns it into a ServiceConfig. Locally `command` is
 * required (there is no container runtime to run an image); on Kubernetes the image is.
 * Every problem is reported with its field path in one ResourceValidationError.
 */
export function serviceConfigFrom(resource: Resource<unknown>, mode: ServiceMode = 'local', origin?: ResourceOrigin): ServiceConfig {
  const meta = resource.metadata;
  const fail = (issues: ResourceIssue[]): never => {
    throw new ResourceValidationError({ ...(origin ? { origin } : {}), kind: 'Service', name: `${meta.namespace}/${meta.name}`, issues });
  };
  const parsed = serviceSpecSchema.safeParse(resource.spec);
  if (!parsed.success) {
    fail(parsed.error.issues.map((i) => ({ path: ['spec', ...i.path.map(String)].join('.'), message: i.message })));
  }
  const spec = (parsed as { data: ServiceSpec }).data;
  const c = spec.template.spec.containers[0]!;
  const where = 'spec.template.spec.containers[0]';
  const issues: ResourceIssue[] = [];
  const annotations = { ...meta.annotations, ...spec.template.metadata?.annotations };
  const runnerValue = annotations[RUNNER_ANNOTATION];
  if (runnerValue !== undefined && runnerValue !== 'container' && runnerValue !== 'process') {
    issues.push({ path: `metadata.annotations[${RUNNER_ANNOTATION}]`, message: `${JSON.stringify(runnerValue)} is not container or process` });
  }
  const runner: 'process' | 'container' = runnerValue === 'container' || runnerValue === 'process' ? runnerValue : c.command || !c.image ? 'process' : 'container';
  if (mode === 'local' && runner === 'process' && !c.command) {
    issues.push({ path: `${where}.command`, message: 'command is required to run the service as a local process' });
  }
  if (runner === 'container' && !c.image) issues.push({ path: `${where}.image`, message: `image is required to run the service as a container (${RUNNER_ANNOTATION}: container)` });
  if (mode === 'kubernetes' && !c.image) issues.push({ path: `${where}.image`, message: 'image is required on Kubernetes' });
  const env: Record<string, string> = {};
  for (const e of c.env ?? []) if (e.valueFrom === undefined) env[e.name] = e.value ?? '';
  const { limits, issues: limitIssues } = limitsOf(c.resources, `${where}.resources`);
  issues.push(...limitIssues);
  const { config: autoscale, issues: asIssues } = parseAutoscaling(spec.template.metadata?.annotations ?? {}, 'spec.template.metadata.annotations');
  issues.push(...asIssues);
  issues.push(...trafficIssues(spec.traffic));
  if (issues.length) fail(issues);
  const ignored = [
    ...CLUSTER_ONLY.filter((f) => (spec.template.spec as Record<string, unknown>)[f] !== undefined).map((f) => `spec.template.spec.${f}`),
    ...(spec.traffic ? ['spec.traffic'] : []),
    ...(c.resources?.requests ? [`${where}.resources.requests`] : []),
  ];
  const sc = c.securityContext;
  const user = sc?.runAsUser !== undefined ? `${sc.runAsUser}${sc.runAsGroup !== undefined ? `:${sc.runAsGroup}` : ''}` : undefined;

  const readinessProbe = probeOf(c.readinessProbe);
  const lp = c.livenessProbe;
  const livenessProbe: LivenessProbe | undefined = lp
    ? {
        probe: probeOf(lp),
        // Kubernetes' defaults.
        periodMs: Math.max(1, lp.periodSeconds ?? 10) * 1000,
        initialDelayMs: (lp.initialDelaySeconds ?? 0) * 1000,
        failureThreshold: lp.failureThreshold ?? 3,
      }
    : undefined;
  return {
    namespace: meta.namespace,
    name: meta.name,
    key: nsKey(meta.namespace, meta.name),
    containerConcurrency: spec.template.spec.containerConcurrency ?? 0,
    requestTimeoutMs: (spec.template.spec.timeoutSeconds ?? 300) * 1000,
    container: {
      command: c.command ?? [],
      args: c.args ?? [],
      env,
      envSources: (c.env ?? []).some((e) => e.valueFrom) || c.envFrom?.length ? envSourcesOf(c.env, c.envFrom) : [],
      ...(c.workingDir ? { workingDir: c.workingDir } : {}),
      ...(c.image ? { image: c.image } : {}),
      imagePullPolicy: c.imagePullPolicy ?? 'IfNotPresent',
      containerPort: c.ports?.[0]?.containerPort ?? 8080,
      readinessProbe,
      ...(c.startupProbe ? { startupProbe: probeOf(c.startupProbe) } : {}),
      ...(livenessProbe ? { livenessProbe } : {}),
      limits,
      ...(user ? { user } : {}),
      ...(sc?.readOnlyRootFilesystem ? { readOnlyRootFilesystem: true } : {}),
    },
    autoscale,
    runner,
    ignored,
  };
}

function probeOf(p: z.infer<typeof probe> | undefined): ReadinessProbe {
  const timeoutMs = Math.round((p?.timeoutSeconds ?? 1) * 1000);
  return p?.httpGet
    ? {
        kind: 'http',
        path: p.httpGet.path,
        ...(p.httpGet.port !== undefined ? { port: p.httpGet.port } : {}),
        headers: Object.fromEntries((p.httpGet.httpHeaders ?? []).map((h) => [h.name, h.value])),
        timeoutMs,
      }
    : // Knative's default probe is a TCP connect to the serving port.
      { kind: 'tcp', ...(p?.tcpSocket?.port !== undefined ? { port: p.tcpSocket.port } : {}), timeoutMs };
}

/**
 * Sluice runs one revision, the latest template: a `traffic` block that sends everything
 * to it (Knative's default, often written out) is accepted; a split across revisions is not.
 */
function trafficIssues(traffic: ServiceSpec['traffic']): ResourceIssue[] {
  if (!traffic?.length) return [];
  const weighted = traffic.filter((t) => (t.percent ?? 0) > 0);
  const total = weighted.reduce((n, t) => n + (t.percent ?? 0), 0);
  if (weighted.length <= 1 && (weighted[0]?.latestRevision !== false || total === 0)) return [];
  return [{ path: 'spec.traffic', message: 'splitting traffic between revisions needs several revisions; Sluice runs the latest template only (send 100 percent to latestRevision, or remove traffic)' }];
}
