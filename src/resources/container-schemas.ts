import { z } from 'zod';
import { parseCpuCores, parseMemoryBytes } from './quantity.js';

// The parts of a Kubernetes container that Service and ContainerSource share: env with
// values from Secrets and ConfigMaps, envFrom, resource limits and the security context.
// Only what a single host can honour becomes part of the config; the rest is accepted
// so that Knative's YAML validates unchanged.

const keyRef = z.strictObject({
  name: z.string().min(1),
  key: z.string().min(1),
  optional: z.boolean().optional(),
});

export const envVarSchema = z
  .strictObject({
    name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, 'must be a valid environment variable name'),
    value: z.string().optional(),
    valueFrom: z
      .strictObject({
        secretKeyRef: keyRef.optional(),
        configMapKeyRef: keyRef.optional(),
      })
      .refine((v) => (v.secretKeyRef ? 1 : 0) + (v.configMapKeyRef ? 1 : 0) === 1, {
        message: 'set exactly one of secretKeyRef or configMapKeyRef (fieldRef and resourceFieldRef need Kubernetes)',
      })
      .optional(),
  })
  .refine((e) => !(e.value !== undefined && e.valueFrom !== undefined), { message: 'value and valueFrom are exclusive' });

const objectRef = z.strictObject({ name: z.string().min(1), optional: z.boolean().optional() });

export const envFromSchema = z
  .strictObject({
    prefix: z.string().optional(),
    secretRef: objectRef.optional(),
    configMapRef: objectRef.optional(),
  })
  .refine((e) => (e.secretRef ? 1 : 0) + (e.configMapRef ? 1 : 0) === 1, { message: 'set exactly one of secretRef or configMapRef' });

const quantity = z.union([z.string(), z.number()]);

export const resourcesSchema = z.strictObject({
  limits: z.record(z.string(), quantity).optional(),
  requests: z.record(z.string(), quantity).optional(),
  claims: z.array(z.unknown()).optional(),
});

/** Kubernetes' container securityContext: user and read-only root are passed to a container runtime; the rest is accepted. */
export const securityContextSchema = z
  .object({
    runAsUser: z.number().int().min(0).optional(),
    runAsGroup: z.number().int().min(0).optional(),
    runAsNonRoot: z.boolean().optional(),
    readOnlyRootFilesystem: z.boolean().optional(),
    allowPrivilegeEscalation: z.boolean().optional(),
    capabilities: z.unknown().optional(),
    seccompProfile: z.unknown().optional(),
    privileged: z.boolean().optional(),
  })
  .passthrough();

export type EnvVarInput = z.infer<typeof envVarSchema>;
export type EnvFromInput = z.infer<typeof envFromSchema>;

/** Where one environment variable (or a set of them) comes from, resolved at each start. */
export type EnvSource =
  | { kind: 'value'; name: string; value: string }
  | { kind: 'secretKey' | 'configMapKey'; name: string; from: string; key: string; optional: boolean }
  | { kind: 'secret' | 'configMap'; from: string; prefix: string; optional: boolean };

/** `envFrom` then `env`, in Kubernetes' order of precedence (later wins). */
export function envSourcesOf(env: readonly EnvVarInput[] | undefined, envFrom: readonly EnvFromInput[] | undefined): EnvSource[] {
  const out: EnvSource[] = [];
  for (const f of envFrom ?? []) {
    const ref = (f.secretRef ?? f.configMapRef)!;
    out.push({ kind: f.secretRef ? 'secret' : 'configMap', from: ref.name, prefix: f.prefix ?? '', optional: ref.optional ?? false });
  }
  for (const e of env ?? []) {
    const s = e.valueFrom?.secretKeyRef;
    const c = e.valueFrom?.configMapKeyRef;
    if (s) out.push({ kind: 'secretKey', name: e.name, from: s.name, key: s.key, optional: s.optional ?? false });
    else if (c) out.push({ kind: 'configMapKey', name: e.name, from: c.name, key: c.key, optional: c.optional ?? false });
    else out.push({ kind: 'value', name: e.name, value: e.value ?? '' });
  }
  return out;
}

export interface ContainerLimits {
  cpus?: number;
  memoryBytes?: number;
}

/** `resources.limits` as a container runtime takes them; issues name the field. */
export function limitsOf(resources: z.infer<typeof resourcesSchema> | undefined, path: string): { limits: ContainerLimits; issues: Array<{ path: string; message: string }> } {
  const limits: ContainerLimits = {};
  const issues: Array<{ path: string; message: string }> = [];
  const l = resources?.limits ?? {};
  if (l.cpu !== undefined) {
    const v = parseCpuCores(l.cpu);
    if (v === undefined || v <= 0) issues.push({ path: `${path}.limits.cpu`, message: `${JSON.stringify(l.cpu)} is not a CPU quantity (e.g. 500m, 1, 0.25)` });
    else limits.cpus = v;
  }
  if (l.memory !== undefined) {
    const v = parseMemoryBytes(l.memory);
    if (v === undefined || v <= 0) issues.push({ path: `${path}.limits.memory`, message: `${JSON.stringify(l.memory)} is not a memory quantity (e.g. 128Mi, 1Gi)` });
    else limits.memoryBytes = v;
  }
  return { limits, issues };
}

/**
 * Pod-level fields that only mean something on a Kubernetes cluster (identity,
 * scheduling, DNS, pod security): every kind that runs a pod template on one host
 * accepts them and lists them as ignored. Each kind adds its own (a Service's request
 * timeouts, a Job's volumes...).
 */
export const POD_CLUSTER_FIELDS = [
  'serviceAccountName',
  'serviceAccount',
  'imagePullSecrets',
  'enableServiceLinks',
  'automountServiceAccountToken',
  'nodeSelector',
  'nodeName',
  'tolerations',
  'affinity',
  'runtimeClassName',
  'priorityClassName',
  'priority',
  'schedulerName',
  'topologySpreadConstraints',
  'dnsPolicy',
  'dnsConfig',
  'hostAliases',
  'securityContext',
] as const;
