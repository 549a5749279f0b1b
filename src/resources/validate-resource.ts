import { InvalidOptionError, ResourceValidationError, type ResourceIssue, type ResourceOrigin } from '../errors.js';
import { objectMetaSchema } from './common-schemas.js';
import { createCoreKinds, DEFAULT_CHANNEL_TEMPLATE } from './core-kinds.js';
import { dropNullFields } from './drop-null-fields.js';
import { apiGroup, type KindContext, type KindDefinition, type ResourceKindRegistry } from './kind-registry.js';
import { isSecretResource, toSecretResource } from './secret-kind.js';
import { nsKey, type ChannelTemplate, type LoadedResource, type ObjectMeta, type Resource, type SecretResource } from './types.js';
import { describeValue, formatPath, parseWith } from './zod-issues.js';

export interface ResourceLoadOptions {
  /** Kinds to accept; defaults to createCoreKinds(). */
  registry?: ResourceKindRegistry;
  /** Channel's default `spec.channelTemplate` (`--default-channel`); defaults to InMemoryChannel. */
  defaultChannelTemplate?: ChannelTemplate;
}

/** The outcome for one object: a resource, a Secret (kept apart: it is never reconciled), or an error. */
export type ValidatedObject =
  | { type: 'resource'; loaded: LoadedResource }
  | { type: 'secret'; secret: SecretResource; origin?: ResourceOrigin }
  | { type: 'invalid'; error: ResourceValidationError };

/** Top-level fields every object may carry besides its content. `status` is output only and ignored. */
const ENVELOPE = new Set(['apiVersion', 'kind', 'metadata', 'status']);

let coreKinds: ResourceKindRegistry | undefined;

/** Resolves loader options once per load (validating the template a CLI flag produced). */
export function kindContext(options: ResourceLoadOptions = {}): KindContext {
  const t = options.defaultChannelTemplate ?? DEFAULT_CHANNEL_TEMPLATE;
  if (typeof t?.apiVersion !== 'string' || !t.apiVersion || typeof t.kind !== 'string' || !t.kind) {
    throw new InvalidOptionError('defaultChannelTemplate needs an apiVersion and a kind');
  }
  if (t.kind === 'Channel') throw new InvalidOptionError('defaultChannelTemplate cannot be a Channel; name a channel implementation');
  return { registry: options.registry ?? (coreKinds ??= createCoreKinds()), defaultChannelTemplate: t };
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkString(value: unknown, path: string, issues: ResourceIssue[]): value is string {
  if (value === undefined || value === null) issues.push({ path, message: 'required' });
  else if (typeof value !== 'string') issues.push({ path, message: `expected string, got ${describeValue(value)}` });
  else if (value === '') issues.push({ path, message: 'must not be empty' });
  else return true;
  return false;
}

function unknownKindIssue(apiVersion: string, kind: string, registry: ResourceKindRegistry): ResourceIssue {
  const elsewhere = registry.versionsOfKind(kind);
  if (elsewhere.length > 0) {
    return { path: 'apiVersion', message: `${kind} is not served as ${apiVersion}; use ${elsewhere.join(' or ')}` };
  }
  const group = apiGroup(apiVersion);
  const inGroup = registry.kindsInGroup(group);
  if (inGroup.length > 0) {
    return {
      path: 'kind',
      message: `unknown kind ${JSON.stringify(kind)} for ${apiVersion}; supported kinds in ${group || 'the core group (v1)'}: ${inGroup.join(', ')}`,
    };
  }
  return {
    path: 'apiVersion',
    message: `unknown apiVersion ${JSON.stringify(apiVersion)} (kind ${kind}); supported apiVersions: ${registry.apiVersions().join(', ')}`,
  };
}

/** The content the kind's schema validates, and issues for fields that belong nowhere. */
function contentOf(obj: Record<string, unknown>, def: KindDefinition, issues: ResourceIssue[]): unknown {
  const allowed = new Set(def.topLevelFields ?? ['spec']);
  for (const key of Object.keys(obj)) {
    if (!ENVELOPE.has(key) && !allowed.has(key)) issues.push({ path: formatPath([key]), message: `unknown field ${JSON.stringify(key)}` });
  }
  if (def.topLevelFields) {
    return Object.fromEntries(def.topLevelFields.filter((f) => obj[f] !== undefined).map((f) => [f, obj[f]]));
  }
  // `spec:` with nothing after it was null, and is absent by now.
  return obj.spec ?? {};
}

function nameOf(metadata: unknown): string | undefined {
  if (!isMapping(metadata) || typeof metadata.name !== 'string' || !metadata.name) return undefined;
  const ns = typeof metadata.namespace === 'string' && metadata.namespace ? metadata.namespace : 'default';
  return nsKey(ns, metadata.name);
}

/**
 * Validates one parsed YAML/JSON object against the registered kinds, applies defaults,
 * and reports every issue of the object at once.
 */
export function validateResourceObject(obj: unknown, origin?: ResourceOrigin, options?: ResourceLoadOptions): ValidatedObject {
  return validateWithContext(obj, origin, kindContext(options));
}

/**
 * validateResourceObject with options already resolved (the loader resolves them once per load).
 * Every way a document comes in (files, the admin API, the file watcher, the saved admin
 * state) ends here, so this is where an empty (null) field is made absent, as Kubernetes does.
 */
export function validateWithContext(raw: unknown, origin: ResourceOrigin | undefined, ctx: KindContext): ValidatedObject {
  const obj = dropNullFields(raw);
  const fail = (issues: ResourceIssue[], kind?: string, name?: string): ValidatedObject => ({
    type: 'invalid',
    error: new ResourceValidationError({ ...(origin ? { origin } : {}), ...(kind ? { kind } : {}), ...(name ? { name } : {}), issues }),
  });

  if (!isMapping(obj)) {
    return fail([{ path: '', message: `a resource must be a mapping with apiVersion, kind and metadata, got ${describeValue(obj)}` }]);
  }
  const issues: ResourceIssue[] = [];
  const apiVersionOk = checkString(obj.apiVersion, 'apiVersion', issues);
  const kindOk = checkString(obj.kind, 'kind', issues);
  const kind = kindOk ? (obj.kind as string) : undefined;
  const name = nameOf(obj.metadata);

  let def: KindDefinition | undefined;
  if (apiVersionOk && kind) {
    def = ctx.registry.get(obj.apiVersion as string, kind);
    if (!def) issues.push(unknownKindIssue(obj.apiVersion as string, kind, ctx.registry));
  }
  const meta = parseWith(objectMetaSchema, obj.metadata ?? {}, ['metadata']);
  if (!meta.ok) issues.push(...meta.issues);
  let spec: unknown;
  if (def) {
    const content = contentOf(obj, def, issues);
    const parsed = parseWith(def.spec, content, def.topLevelFields ? [] : ['spec']);
    if (parsed.ok) spec = parsed.value;
    else issues.push(...parsed.issues);
  }
  if (issues.length > 0 || !def || !meta.ok) return fail(issues, kind, name);

  let resource: Resource<unknown> = { apiVersion: obj.apiVersion as string, kind: def.kind, metadata: meta.value as ObjectMeta, spec };
  try {
    resource = def.defaults?.(resource, ctx) ?? resource;
    issues.push(...(def.validate?.(resource, ctx) ?? []));
  } catch (err) {
    // A kind's own rules throwing is a bug in Sluice, but it must not take the loader down.
    issues.push({ path: '', message: `could not validate ${def.kind}: ${(err as Error)?.message ?? String(err)}` });
  }
  if (issues.length > 0) return fail(issues, kind, name);

  if (isSecretResource(resource)) return { type: 'secret', secret: toSecretResource(resource), ...(origin ? { origin } : {}) };
  return { type: 'resource', loaded: { resource: resource as Resource, raw: obj, ...(origin ? { origin } : {}) } };
}
