import { NotReadyError } from '../errors.js';
import type { EnvSource } from '../resources/container-schemas.js';

/** What env resolution reads: the data of a Secret (bytes) or ConfigMap (text), undefined when absent. */
export interface EnvLookup {
  secret(namespace: string, name: string): Readonly<Record<string, Buffer>> | undefined;
  configMap(namespace: string, name: string): Readonly<Record<string, string>> | undefined;
}

/**
 * Resolves `envFrom` and `env[].valueFrom` against the Secrets and ConfigMaps Sluice
 * holds, in order (later wins, as in Kubernetes). A missing required one throws
 * NotReadyError naming the variable and the object, so the replica or source is not
 * started with a half-built environment; `optional: true` ones are skipped.
 */
export function resolveEnvSources(sources: readonly EnvSource[], namespace: string, lookup: EnvLookup): Record<string, string> {
  const env: Record<string, string> = {};
  for (const s of sources) {
    if (s.kind === 'value') {
      env[s.name] = s.value;
      continue;
    }
    const isSecret = s.kind === 'secret' || s.kind === 'secretKey';
    const what = isSecret ? 'Secret' : 'ConfigMap';
    const data: Readonly<Record<string, Buffer | string>> | undefined = isSecret ? lookup.secret(namespace, s.from) : lookup.configMap(namespace, s.from);
    if ('prefix' in s) {
      if (!data) {
        if (s.optional) continue;
        throw new NotReadyError(`envFrom: ${what} ${namespace}/${s.from} does not exist`);
      }
      for (const [k, v] of Object.entries(data)) env[s.prefix + k] = text(v);
      continue;
    }
    const v = data?.[s.key];
    if (v === undefined) {
      if (s.optional) continue;
      throw new NotReadyError(`env ${s.name}: ${what} ${namespace}/${s.from} ${data ? `has no key ${JSON.stringify(s.key)}` : 'does not exist'}`);
    }
    env[s.name] = text(v);
  }
  return env;
}

function text(v: Buffer | string): string {
  return typeof v === 'string' ? v : v.toString('utf8');
}

/** Secrets and ConfigMaps as the runtime holds them (a ConfigMap's content is its resource's `spec`). */
export function runtimeEnvLookup(ctx: {
  getSecret(namespace: string, name: string): { data: Record<string, Buffer> } | undefined;
  list<S>(kind: string): Array<{ resource: { metadata: { namespace: string; name: string }; spec: S } }>;
}): EnvLookup {
  return {
    secret: (namespace, name) => ctx.getSecret(namespace, name)?.data,
    configMap: (namespace, name) =>
      ctx.list<{ data?: Record<string, string> }>('ConfigMap').find((r) => r.resource.metadata.namespace === namespace && r.resource.metadata.name === name)?.resource.spec.data ?? undefined,
  };
}
