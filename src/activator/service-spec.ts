import { z } from 'zod';
import { ResourceValidationError, type ResourceIssue, type ResourceOrigin } from '../errors.js';
import { nsKey, type Resource } from '../resources/types.js';
import { parseAutoscaling, type AutoscaleConfig } from './autoscale-config.js';

// `serving.knative.dev/v1` Service, the parts Sluice runs: one container, its command,
// port and readiness probe, the concurrency limit, and the autoscaling annotations of
// the template. Objects are strict so that a field Sluice does not support is reported
// by name instead of being silently ignored. `resources`, `imagePullPolicy` and
// `securityContext` only matter on Kubernetes; they are accepted and left to it.

const envVar = z.strictObject({
  name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, 'must be a valid environment variable name'),
  value: z.string().optional(),
});

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
  env: z.array(envVar).optional(),
  workingDir: z.string().min(1).optional(),
  ports: z
    .array(
      z.strictObject({
        containerPort: z.number().int().min(1).max(65535),
        name: z.string().optional(),
        protocol: z.enum(['TCP']).optional(),
      }),
    )
    .max(1, 'Knative allows one port per service')
    .optional(),
  readinessProbe: probe.optional(),
  resources: z.record(z.string(), z.unknown()).optional(),
  imagePullPolicy: z.enum(['Always', 'IfNotPresent', 'Never']).optional(),
  securityContext: z.record(z.string(), z.unknown()).optional(),
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
    }),
  }),
});

/** The Service spec as written in YAML (after schema defaults). */
export type ServiceSpec = z.infer<typeof serviceSpecSchema>;

/** How readiness is checked; `port` defaults to the replica's own port. */
export type ReadinessProbe =
  | { kind: 'http'; path: string; port?: number; headers: Record<string, string>; timeoutMs: number }
  | { kind: 'tcp'; port?: number; timeoutMs: number };

export interface ContainerConfig {
  /** Entrypoint plus its arguments: `command[0]` is run with `command[1..]` then `args`. Empty on Kubernetes when only `image` is set. */
  command: string[];
  args: string[];
  env: Record<string, string>;
  workingDir?: string;
  image?: string;
  /** `ports[0].containerPort` (Knative's default 8080); locally each replica gets its own free port in `PORT` instead. */
  containerPort: number;
  readinessProbe: ReadinessProbe;
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
  if (mode === 'local' && !c.command) {
    issues.push({
      path: `${where}.command`,
      message: c.image
        ? `image ${c.image} cannot run locally (Sluice has no container runtime): set command (and args) to start the service as a process, or run Sluice on Kubernetes`
        : 'command is required locally (Sluice starts the service as a process)',
    });
  }
  if (mode === 'kubernetes' && !c.image) issues.push({ path: `${where}.image`, message: 'image is required on Kubernetes' });
  const env: Record<string, string> = {};
  for (const [i, e] of (c.env ?? []).entries()) {
    if (e.value === undefined) issues.push({ path: `${where}.env[${i}].value`, message: `env ${e.name}: value is required (valueFrom is not supported)` });
    else env[e.name] = e.value;
  }
  const { config: autoscale, issues: asIssues } = parseAutoscaling(spec.template.metadata?.annotations ?? {}, 'spec.template.metadata.annotations');
  issues.push(...asIssues);
  if (issues.length) fail(issues);

  const p = c.readinessProbe;
  const timeoutMs = Math.round((p?.timeoutSeconds ?? 1) * 1000);
  const readinessProbe: ReadinessProbe = p?.httpGet
    ? {
        kind: 'http',
        path: p.httpGet.path,
        ...(p.httpGet.port !== undefined ? { port: p.httpGet.port } : {}),
        headers: Object.fromEntries((p.httpGet.httpHeaders ?? []).map((h) => [h.name, h.value])),
        timeoutMs,
      }
    : // Knative's default probe is a TCP connect to the serving port.
      { kind: 'tcp', ...(p?.tcpSocket?.port !== undefined ? { port: p.tcpSocket.port } : {}), timeoutMs };
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
      ...(c.workingDir ? { workingDir: c.workingDir } : {}),
      ...(c.image ? { image: c.image } : {}),
      containerPort: c.ports?.[0]?.containerPort ?? 8080,
      readinessProbe,
    },
    autoscale,
  };
}
