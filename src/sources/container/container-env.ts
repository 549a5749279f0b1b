import { NotReadyError } from '../../errors.js';
import { envSourcesOf, type EnvFromInput, type EnvSource, type EnvVarInput } from '../../resources/container-schemas.js';
import { resolveEnvSources, type EnvLookup } from '../../runtime/env-resolver.js';

export interface SecretKeyRef {
  namespace: string;
  name: string;
  key: string;
}

/** Looks a Secret key up (the lead backs this with the resource store); undefined = no such secret or key. */
export type ResolveSecret = (ref: SecretKeyRef) => string | Buffer | undefined | Promise<string | Buffer | undefined>;

export interface ContainerEnvOptions {
  /** `ContainerSource ns/name`, at the start of every message. */
  label: string;
  namespace: string;
  /** Variables the program starts from (a process: PATH and a few more of Sluice's; a container: none). */
  base: Readonly<Record<string, string>>;
  env: readonly EnvVarInput[] | undefined;
  envFrom: readonly EnvFromInput[] | undefined;
  /** Secrets and ConfigMaps Sluice holds, for `envFrom` and `valueFrom`. */
  envLookup?: EnvLookup | undefined;
  /** Older, per-key access to Secrets only; used when there is no `envLookup`. */
  resolveSecret?: ResolveSecret | undefined;
}

/** Which kind of object a NotReadyError from `resolveContainerEnv` found missing. */
const missingKind = new WeakMap<Error, 'Secret' | 'ConfigMap'>();

/** `Secret` or `ConfigMap` when `err` is `resolveContainerEnv` saying one is missing. */
export function missingEnvObject(err: unknown): 'Secret' | 'ConfigMap' | undefined {
  return err instanceof Error ? missingKind.get(err) : undefined;
}

/**
 * A container's environment as Kubernetes builds it: `base`, then `envFrom`, then `env`
 * in order (later wins; a literal value may use earlier variables as `$(VAR)`). Values
 * from Secrets and ConfigMaps are read now; a missing required one is a NotReadyError
 * naming the variable and the object, and nothing is started with half an environment.
 */
export async function resolveContainerEnv(o: ContainerEnvOptions): Promise<Record<string, string>> {
  const env: Record<string, string> = { ...o.base };
  for (const s of envSourcesOf(o.env, o.envFrom)) {
    if (s.kind === 'value') env[s.name] = expandVars(s.value, env);
    else Object.assign(env, await resolveOne(o, s));
  }
  return env;
}

async function resolveOne(o: ContainerEnvOptions, s: Exclude<EnvSource, { kind: 'value' }>): Promise<Record<string, string>> {
  const what = s.kind === 'secret' || s.kind === 'secretKey' ? 'Secret' : 'ConfigMap';
  const fail = (message: string): never => {
    const err = new NotReadyError(`${o.label}: ${message}`);
    missingKind.set(err, what);
    throw err;
  };
  if (o.envLookup) {
    try {
      return resolveEnvSources([s], o.namespace, o.envLookup);
    } catch (err) {
      if (err instanceof NotReadyError) fail(err.message);
      throw err;
    }
  }
  if (s.kind === 'secretKey' && o.resolveSecret) {
    const v = await o.resolveSecret({ namespace: o.namespace, name: s.from, key: s.key });
    if (v === undefined) {
      if (s.optional) return {};
      fail(`env ${s.name}: secret ${o.namespace}/${s.from} has no key ${JSON.stringify(s.key)} (or does not exist)`);
    }
    return { [s.name]: typeof v === 'string' ? v : v!.toString('utf8') };
  }
  const who = 'name' in s ? `env ${s.name}` : 'envFrom';
  return fail(`${who} needs ${what} ${o.namespace}/${s.from}, but no ${what}s are available`);
}

/** Kubernetes' $(VAR) expansion in command, args and env values: unknown names stay as written, `$$(VAR)` escapes. */
export function expandVars(text: string, env: Readonly<Record<string, string>>): string {
  return text.replace(/\$(\$)?\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (whole, escaped: string | undefined, name: string) => {
    if (escaped) return `$(${name})`;
    return Object.prototype.hasOwnProperty.call(env, name) ? (env[name] as string) : whole;
  });
}
