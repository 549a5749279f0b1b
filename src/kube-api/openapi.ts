import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { triggerAttributesFilterSchema, triggerFiltersSchema } from '../broker/filters/index.js';
import type { KubeKind, KubeKinds } from './kube-kinds.js';
import { kubeStatus } from './kube-status.js';

// OpenAPI v3 for Sluice's kinds, as the Kubernetes API server publishes it
// (/openapi/v3 and one document per group version). kubectl reads it for three things:
// - `kubectl explain`: it finds the kind's schema through the GVK of the operations on
//   `.../<plural>/{name}` and follows `properties` and `$ref`s (not anyOf/oneOf);
// - whether the server validates fields itself: the `fieldValidation` parameter of the
//   kind's PATCH operation; if it is listed kubectl leaves validation to the server;
// - which patch `kubectl apply` sends: strategic merge only if the PATCH operation
//   accepts `application/strategic-merge-patch+json`, else a JSON merge patch (as for CRDs).
// Specs come from the kinds' zod schemas (their input side: what users write).

/** A JSON Schema / OpenAPI object as plain JSON. */
export type JsonSchema = Record<string, unknown>;

export interface OpenApiDocument {
  openapi: '3.0.0';
  info: { title: string; version: string };
  paths: Record<string, JsonSchema>;
  components: { schemas: Record<string, JsonSchema> };
}

const META = 'io.k8s.apimachinery.pkg.apis.meta.v1';
const OBJECT_META = `${META}.ObjectMeta`;
const LIST_META = `${META}.ListMeta`;
const MANAGED_FIELDS_ENTRY = `${META}.ManagedFieldsEntry`;
const STATUS = `${META}.Status`;
const PATCH = `${META}.Patch`;

const ref = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });
const isObject = (v: unknown): v is JsonSchema => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The component name Kubernetes gives a kind: `dev.knative.eventing.v1.Broker`, core `io.k8s.api.core.v1.Secret`. */
export function schemaName(group: string, version: string, kind: string): string {
  return `${schemaNamespace(group, version)}.${kind}`;
}

/** `dev.knative.eventing.v1`, `io.k8s.api.core.v1`: where a group version's schemas are named. */
function schemaNamespace(group: string, version: string): string {
  return `${group === '' ? 'io.k8s.api.core' : group.split('.').reverse().join('.')}.${version}`;
}

/** `openapi/v3` path key of a group version: `api/v1`, `apis/eventing.knative.dev/v1`. */
export function groupVersionPath(group: string, version: string): string {
  return group === '' ? `api/${version}` : `apis/${group}/${version}`;
}

// ---------------------------------------------------------------------------------------
// Spec schemas from zod

/**
 * Structure of fields a kind's schema leaves to its `validate()` with a `z.custom`
 * placeholder (so every problem there is reported with its path), for `kubectl explain`
 * to show what users write. Keyed by `<group>/<Kind>`; only replaces placeholders.
 */
const DOCUMENTED_FIELDS: Record<string, Record<string, z.ZodType>> = {
  'eventing.knative.dev/Trigger': { filter: triggerAttributesFilterSchema.optional(), filters: triggerFiltersSchema.optional() },
};

function isPlaceholder(schema: unknown): boolean {
  const inner = schema instanceof z.ZodOptional ? schema.unwrap() : schema;
  return inner instanceof z.ZodCustom;
}

function documentedSpec(k: KubeKind): z.ZodType {
  const spec = k.definition.spec;
  const fields = DOCUMENTED_FIELDS[`${k.group}/${k.kind}`];
  if (!fields || !(spec instanceof z.ZodObject)) return spec;
  const shape = spec.shape as Record<string, unknown>;
  const replace = Object.fromEntries(Object.entries(fields).filter(([key]) => isPlaceholder(shape[key])));
  return Object.keys(replace).length > 0 ? spec.extend(replace) : spec;
}

/** A value Sluice takes as it is (no JSON Schema equivalent in zod: `z.custom`, functions...). */
const ANY_VALUE: JsonSchema = { 'x-kubernetes-preserve-unknown-fields': true };

const SUBSCHEMA_MAPS = ['properties', 'patternProperties'];
const SUBSCHEMA_LISTS = ['allOf', 'anyOf', 'oneOf'];
const SUBSCHEMA_ONE = ['not', 'additionalProperties', 'items'];

/** Where a subschema sits: the nearest property above it, and whether it describes that property's array items. */
interface SubschemaPlace {
  property?: string;
  item?: boolean;
}

/** Calls `visit` on every subschema below `s`, depth first in key order, with its place. */
function forEachSubschema(s: JsonSchema, place: SubschemaPlace, visit: (sub: JsonSchema, place: SubschemaPlace) => void): void {
  const walk = (sub: unknown, at: SubschemaPlace) => {
    if (!isObject(sub)) return;
    visit(sub, at);
    forEachSubschema(sub, at, visit);
  };
  for (const key of SUBSCHEMA_MAPS) if (isObject(s[key])) for (const [name, sub] of Object.entries(s[key])) walk(sub, { property: name });
  for (const key of SUBSCHEMA_LISTS) if (Array.isArray(s[key])) for (const sub of s[key]) walk(sub, place);
  for (const key of SUBSCHEMA_ONE) {
    const v = s[key];
    const at = key === 'items' ? { ...place, item: true } : place;
    if (Array.isArray(v)) for (const sub of v) walk(sub, at);
    else walk(v, at);
  }
}

/** A copy of `s` with `fix` applied to it and every subschema, bottom up. */
function mapSchema(s: JsonSchema, fix: (s: JsonSchema) => JsonSchema): JsonSchema {
  const out: JsonSchema = { ...s };
  for (const key of SUBSCHEMA_MAPS) {
    const m = out[key];
    if (isObject(m)) out[key] = Object.fromEntries(Object.entries(m).map(([k, v]) => [k, isObject(v) ? mapSchema(v, fix) : v]));
  }
  for (const key of [...SUBSCHEMA_LISTS, ...SUBSCHEMA_ONE]) {
    const v = out[key];
    if (Array.isArray(v)) out[key] = v.map((x) => (isObject(x) ? mapSchema(x, fix) : x));
    else if (isObject(v)) out[key] = mapSchema(v, fix);
  }
  return fix(out);
}

/** The definition a local `$ref` points to: its key for `#/definitions/K` or `#/$defs/K`, '#' for the root. */
function localRefTarget(ref: string): string | undefined {
  if (ref === '#') return '#';
  const m = /^#\/(?:definitions|\$defs)\/(.+)$/.exec(ref);
  return m?.[1] === undefined ? undefined : decodeURIComponent(m[1]).replace(/~1/g, '/').replace(/~0/g, '~');
}

const pascal = (s: string) => s.replace(/(^|[^A-Za-z0-9]+)([A-Za-z0-9])/g, (_m, _sep: string, c: string) => c.toUpperCase());

/**
 * Component names for a kind's definitions: a zod `id` keeps its name (in the group
 * version's namespace); anonymous ones (`__schema0`, from recursive schemas) are named
 * after the field that first uses them (`<Kind>Filters`), so `kubectl explain` shows a type.
 */
function nameDefinitions(root: JsonSchema, defs: Record<string, JsonSchema>, kindName: string, prefix: string): Map<string, string> {
  const names = new Map<string, string>();
  const taken = new Set<string>();
  const anonymousName = ({ property, item }: SubschemaPlace) => {
    const word = pascal(property ?? 'Item');
    // The items of `filters` are each a Filter.
    return `${kindName}${item && word.length > 1 && word.endsWith('s') ? word.slice(0, -1) : word}`;
  };
  const assign = (key: string, place: SubschemaPlace) => {
    if (names.has(key)) return;
    const base = key === '#' ? `${kindName}Spec` : key.startsWith('__schema') ? anonymousName(place) : `${prefix}.${key}`;
    let name = base;
    for (let n = 2; taken.has(name); n++) name = `${base}${n}`;
    names.set(key, name);
    taken.add(name);
  };
  const visit = (s: JsonSchema, place: SubschemaPlace) => {
    const target = typeof s.$ref === 'string' ? localRefTarget(s.$ref) : undefined;
    if (target !== undefined) assign(target, place);
  };
  visit(root, {});
  forEachSubschema(root, {}, visit);
  for (const [key, def] of Object.entries(defs)) {
    assign(key, {});
    forEachSubschema(def, {}, visit);
  }
  return names;
}

/**
 * Makes one zod-generated schema node valid OpenAPI 3.0 for kube-openapi (which kubectl
 * parses with Go's encoding/json: a number where a bool is expected fails the whole document).
 */
function toOpenApi30(s: JsonSchema, refName: (ref: string) => string | undefined): JsonSchema {
  const out = { ...s };
  for (const k of ['$schema', '$id', '$comment', 'definitions', '$defs', 'prefixItems']) delete out[k];
  if (typeof out.$ref === 'string') {
    const name = refName(out.$ref);
    if (name) out.$ref = `#/components/schemas/${name}`;
  }
  if ('const' in out) {
    out.enum = [out.const];
    delete out.const;
  }
  for (const [key, bound] of [['exclusiveMinimum', 'minimum'], ['exclusiveMaximum', 'maximum']] as const) {
    if (typeof out[key] === 'number') {
      out[bound] = out[key];
      out[key] = true;
    }
  }
  if (Array.isArray(out.type)) {
    const types = out.type.filter((t) => t !== 'null');
    if (types.length < out.type.length) out.nullable = true;
    if (types.length === 1) out.type = types[0];
    else {
      delete out.type;
      if (types.length > 1) out.anyOf = types.map((t) => ({ type: t }));
    }
  }
  if (Array.isArray(out.examples)) {
    if (out.examples.length > 0 && !('example' in out)) out.example = out.examples[0];
    delete out.examples;
  }
  if (Array.isArray(out.items)) out.items = { anyOf: out.items };
  // zod bounds every int by the safe-integer range: noise in `kubectl explain`.
  if (out.maximum === Number.MAX_SAFE_INTEGER) delete out.maximum;
  if (out.minimum === Number.MIN_SAFE_INTEGER) delete out.minimum;
  return out;
}

interface ConvertedSpec {
  spec: JsonSchema;
  /** Extra components the spec refers to (recursive parts, zod ids). */
  components: Record<string, JsonSchema>;
}

/** The kind's spec schema (input side: what users write) and the components it needs. */
export function specSchema(k: KubeKind, version: string): ConvertedSpec {
  const kindName = schemaName(k.group, version, k.kind);
  const raw = z.toJSONSchema(documentedSpec(k), {
    io: 'input',
    target: 'openapi-3.0',
    // `z.custom` and the like: the value is taken as it is (and checked by the kind's validate()).
    unrepresentable: () => ({ ...ANY_VALUE }),
  }) as JsonSchema;
  const defs: Record<string, JsonSchema> = { ...(raw.definitions as Record<string, JsonSchema> | undefined), ...(raw.$defs as Record<string, JsonSchema> | undefined) };
  const names = nameDefinitions(raw, defs, kindName, schemaNamespace(k.group, version));
  const refName = (r: string) => {
    const target = localRefTarget(r);
    return target === undefined ? undefined : names.get(target);
  };
  const fix = (s: JsonSchema) => toOpenApi30(s, refName);
  const spec = mapSchema(raw, fix);
  const components: Record<string, JsonSchema> = {};
  for (const [key, def] of Object.entries(defs)) components[names.get(key) ?? key] = mapSchema(def, fix);
  const rootName = names.get('#');
  if (rootName) components[rootName] = spec;
  return { spec, components };
}

// ---------------------------------------------------------------------------------------
// Component schemas

const API_VERSION_FIELD = {
  type: 'string',
  description: 'APIVersion defines the versioned schema of this representation of an object (group/version).',
};
const KIND_FIELD = { type: 'string', description: 'Kind is a string value representing the REST resource this object represents.' };
const stringMap = (description: string) => ({ type: 'object', additionalProperties: { type: 'string', default: '' }, description });

/** The meta/v1 schemas every group version document refers to. */
function metaSchemas(): Record<string, JsonSchema> {
  return {
    [OBJECT_META]: {
      type: 'object',
      description: 'Standard object metadata. Sluice keeps name, namespace, labels and annotations; the other fields are set by the server.',
      properties: {
        name: { type: 'string', description: 'Name of the object, unique in its namespace (a DNS-1123 subdomain).' },
        namespace: { type: 'string', description: 'Namespace of the object; `default` when not given.' },
        labels: stringMap('Map of string keys and values to organize and select objects.'),
        annotations: stringMap('Unstructured key value map set by users and tools (e.g. eventing.knative.dev/broker.class).'),
        uid: { type: 'string', description: 'Unique id of the object, set by the server.' },
        resourceVersion: { type: 'string', description: 'Opaque version of the object, set by the server; used for optimistic concurrency and watches.' },
        generation: { type: 'integer', format: 'int64', description: 'Sequence number of the desired state (spec), set by the server.' },
        creationTimestamp: { type: 'string', format: 'date-time', description: 'When the object was created (RFC 3339), set by the server.' },
        managedFields: { type: 'array', items: ref(MANAGED_FIELDS_ENTRY), description: 'Which manager set which fields (server-side apply).' },
      },
    },
    [MANAGED_FIELDS_ENTRY]: {
      type: 'object',
      description: 'A workflow (manager) and the fields it manages.',
      properties: {
        apiVersion: { type: 'string' },
        fieldsType: { type: 'string' },
        fieldsV1: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
        manager: { type: 'string' },
        operation: { type: 'string' },
        subresource: { type: 'string' },
        time: { type: 'string', format: 'date-time' },
      },
    },
    [LIST_META]: {
      type: 'object',
      description: 'Metadata of a list.',
      properties: { resourceVersion: { type: 'string' }, continue: { type: 'string' }, remainingItemCount: { type: 'integer', format: 'int64' } },
    },
    [STATUS]: {
      type: 'object',
      description: 'Status is the return value of calls that do not return other objects (errors, deletes).',
      properties: {
        apiVersion: API_VERSION_FIELD,
        kind: KIND_FIELD,
        metadata: ref(LIST_META),
        status: { type: 'string' },
        message: { type: 'string' },
        reason: { type: 'string' },
        details: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
        code: { type: 'integer', format: 'int32' },
      },
      'x-kubernetes-group-version-kind': [{ group: '', version: 'v1', kind: 'Status' }],
    },
    [PATCH]: { type: 'object', description: 'A patch: JSON patch, JSON merge patch or an apply configuration (YAML).' },
  };
}

function kindDescription(k: KubeKind): string {
  const owner = k.group === '' ? 'Kubernetes ' : k.group.endsWith('knative.dev') ? 'Knative ' : '';
  return `${owner}${k.kind}, served by Sluice`;
}

/** The kind's schema: apiVersion, kind, metadata, and spec + status (or, for Secret/ConfigMap, the top-level fields). */
function kindSchema(k: KubeKind, version: string, spec: JsonSchema): JsonSchema {
  const gvk = [{ group: k.group, version, kind: k.kind }];
  const common = { apiVersion: API_VERSION_FIELD, kind: KIND_FIELD, metadata: { ...ref(OBJECT_META), description: 'Standard object metadata.' } };
  if (k.topLevel) {
    const fields = isObject(spec.properties) ? spec.properties : {};
    const required = Array.isArray(spec.required) ? { required: spec.required } : {};
    return { type: 'object', description: kindDescription(k), properties: { ...common, ...fields }, ...required, 'x-kubernetes-group-version-kind': gvk };
  }
  return {
    type: 'object',
    description: kindDescription(k),
    properties: {
      ...common,
      spec: { description: `Desired state of the ${k.kind}.`, ...spec },
      status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true, description: `Observed state of the ${k.kind}, written by Sluice.` },
    },
    'x-kubernetes-group-version-kind': gvk,
  };
}

function listSchema(k: KubeKind, version: string, name: string): JsonSchema {
  return {
    type: 'object',
    description: `A list of ${k.kind} objects.`,
    required: ['items'],
    properties: { apiVersion: API_VERSION_FIELD, kind: KIND_FIELD, metadata: ref(LIST_META), items: { type: 'array', items: ref(name) } },
    'x-kubernetes-group-version-kind': [{ group: k.group, version, kind: `${k.kind}List` }],
  };
}

// ---------------------------------------------------------------------------------------
// Paths

const param = (name: string, where: 'path' | 'query', description: string, type = 'string', required = false): JsonSchema => ({
  name,
  in: where,
  description,
  ...(required ? { required: true } : {}),
  schema: { type, uniqueItems: true },
});

// Parameters are inlined, never `$ref`s: kubectl's check for `fieldValidation` reads the names as written.
const NAMESPACE = param('namespace', 'path', 'object name and auth scope, such as for teams and projects', 'string', true);
const NAME = (kind: string) => param('name', 'path', `name of the ${kind}`, 'string', true);
const DRY_RUN = param('dryRun', 'query', 'When present, modifications are not persisted. The only valid value is All.');
const FIELD_MANAGER = param('fieldManager', 'query', 'A name associated with the actor or entity that is making these changes.');
const FIELD_VALIDATION = param(
  'fieldValidation',
  'query',
  'How the server handles unknown or duplicate fields: Ignore, Warn or Strict.',
);
const FORCE = param('force', 'query', 'Force apply requests to take ownership of conflicting fields (apply patches only).', 'boolean');
const LIST_PARAMS = [
  param('labelSelector', 'query', 'A selector to restrict the list of returned objects by their labels.'),
  param('fieldSelector', 'query', 'A selector to restrict the list of returned objects by their fields.'),
  param('limit', 'query', 'Maximum number of objects to return in one page.', 'integer'),
  param('continue', 'query', 'The continue token of the previous page.'),
  param('resourceVersion', 'query', 'Which version of the objects to list or watch from.'),
  param('watch', 'query', 'Watch for changes to the described resources.', 'boolean'),
];
const WRITE_PARAMS = [DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION];

/**
 * Patch types each kind accepts. Sluice's own kinds take no strategic merge patch (so
 * `kubectl apply` sends a JSON merge patch for them, as for CRDs); core kinds list it
 * because kubectl sends one for Secret and ConfigMap whatever this says (they are in its
 * built-in scheme), so the server must take it.
 */
function patchContentTypes(k: KubeKind): string[] {
  const types = ['application/json-patch+json', 'application/merge-patch+json', 'application/apply-patch+yaml'];
  return k.group === '' ? [...types, 'application/strategic-merge-patch+json'] : types;
}

const jsonContent = (schema: JsonSchema, types = ['application/json', 'application/yaml']) => Object.fromEntries(types.map((t) => [t, { schema }]));

/** `EventingKnativeDevV1`, `CoreV1`: Kubernetes' operationId infix for a group version. */
function operationInfix(group: string, version: string): string {
  return pascal(group === '' ? 'core' : group) + pascal(version);
}

function kindPaths(k: KubeKind, version: string): Record<string, JsonSchema> {
  const name = schemaName(k.group, version, k.kind);
  const base = `/${groupVersionPath(k.group, version)}`;
  const gvk = { group: k.group, version, kind: k.kind };
  const infix = operationInfix(k.group, version);
  const groupWord = pascal(k.group === '' ? 'core' : k.group);
  const tag = `${groupWord.charAt(0).toLowerCase()}${groupWord.slice(1)}_${version}`;
  const ok = (schema: JsonSchema, code = '200') => ({ [code]: { description: 'OK', content: jsonContent(schema) }, '401': { description: 'Unauthorized' } });
  const op = (action: string, operationId: string, description: string, extra: JsonSchema): JsonSchema => ({
    tags: [tag],
    description,
    operationId,
    ...extra,
    'x-kubernetes-action': action,
    'x-kubernetes-group-version-kind': gvk,
  });
  const body = (required = true) => ({ requestBody: { required, content: jsonContent(ref(name), ['application/json', 'application/yaml']) } });
  const patch = (operationId: string, what: string) =>
    op('patch', operationId, `partially update ${what}`, {
      parameters: [DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION, FORCE],
      requestBody: { required: true, content: Object.fromEntries(patchContentTypes(k).map((t) => [t, { schema: ref(PATCH) }])) },
      responses: ok(ref(name)),
    });
  const listResponses = { '200': { description: 'OK', content: jsonContent(ref(`${name}List`), ['application/json', 'application/yaml', 'application/json;stream=watch']) } };

  const paths: Record<string, JsonSchema> = {
    [`${base}/namespaces/{namespace}/${k.plural}`]: {
      parameters: [NAMESPACE],
      get: op('list', `list${infix}Namespaced${k.kind}`, `list or watch objects of kind ${k.kind}`, { parameters: LIST_PARAMS, responses: listResponses }),
      post: op('post', `create${infix}Namespaced${k.kind}`, `create a ${k.kind}`, { parameters: WRITE_PARAMS, ...body(), responses: { ...ok(ref(name)), ...ok(ref(name), '201') } }),
    },
    [`${base}/namespaces/{namespace}/${k.plural}/{name}`]: {
      parameters: [NAME(k.kind), NAMESPACE],
      get: op('get', `read${infix}Namespaced${k.kind}`, `read the specified ${k.kind}`, { responses: ok(ref(name)) }),
      put: op('put', `replace${infix}Namespaced${k.kind}`, `replace the specified ${k.kind}`, { parameters: WRITE_PARAMS, ...body(), responses: ok(ref(name)) }),
      patch: patch(`patch${infix}Namespaced${k.kind}`, `the specified ${k.kind}`),
      delete: op('delete', `delete${infix}Namespaced${k.kind}`, `delete a ${k.kind}`, { parameters: [DRY_RUN], responses: ok(ref(STATUS)) }),
    },
    [`${base}/${k.plural}`]: {
      get: op('list', `list${infix}${k.kind}ForAllNamespaces`, `list or watch objects of kind ${k.kind} in every namespace`, { parameters: LIST_PARAMS, responses: listResponses }),
    },
  };
  if (!k.topLevel) {
    paths[`${base}/namespaces/{namespace}/${k.plural}/{name}/status`] = {
      parameters: [NAME(k.kind), NAMESPACE],
      get: op('get', `read${infix}Namespaced${k.kind}Status`, `read status of the specified ${k.kind}`, { responses: ok(ref(name)) }),
      put: op('put', `replace${infix}Namespaced${k.kind}Status`, `replace status of the specified ${k.kind}`, { parameters: WRITE_PARAMS, ...body(), responses: ok(ref(name)) }),
      patch: patch(`patch${infix}Namespaced${k.kind}Status`, `status of the specified ${k.kind}`),
    };
  }
  return paths;
}

// ---------------------------------------------------------------------------------------
// Documents

/** The OpenAPI v3 document of one group version: its kinds' paths and schemas. */
export function groupVersionDocument(kinds: KubeKind[], group: string, version: string): OpenApiDocument {
  const doc: OpenApiDocument = { openapi: '3.0.0', info: { title: 'Sluice', version: 'unversioned' }, paths: {}, components: { schemas: metaSchemas() } };
  for (const k of kinds) {
    const name = schemaName(group, version, k.kind);
    const { spec, components } = specSchema(k, version);
    Object.assign(doc.paths, kindPaths(k, version));
    Object.assign(doc.components.schemas, components, { [name]: kindSchema(k, version, spec), [`${name}List`]: listSchema(k, version, name) });
  }
  return doc;
}

interface ServedDocument {
  body: string;
  /** What clients cache it by (`?hash=`, ETag): SHA-512 of the body, as kube-openapi computes it. */
  hash: string;
}

interface ServedDocuments {
  root: string;
  byPath: Map<string, ServedDocument>;
}

function buildDocuments(kinds: KubeKinds): ServedDocuments {
  const groupVersions = new Map<string, { group: string; version: string }>();
  for (const k of kinds.all) for (const version of k.versions) groupVersions.set(groupVersionPath(k.group, version), { group: k.group, version });
  const byPath = new Map<string, ServedDocument>();
  const paths: Record<string, { serverRelativeURL: string }> = {};
  for (const [path, { group, version }] of [...groupVersions].sort(([a], [b]) => a.localeCompare(b))) {
    const body = JSON.stringify(groupVersionDocument(kinds.inGroupVersion(group, version), group, version));
    const hash = createHash('sha512').update(body).digest('hex').toUpperCase();
    byPath.set(path, { body, hash });
    paths[path] = { serverRelativeURL: `/openapi/v3/${path}?hash=${hash}` };
  }
  return { root: JSON.stringify({ paths }), byPath };
}

/** True if Accept allows JSON (absent, `application/json`, `application/*`, `*` `/*`). */
function acceptsJson(accept: string | undefined): boolean {
  if (!accept) return true;
  return accept.split(',').some((range) => {
    const [type = '', ...params] = range.split(';').map((s) => s.trim().toLowerCase());
    const q = params.find((p) => p.startsWith('q='));
    return (type === 'application/json' || type === 'application/*' || type === '*/*') && (q === undefined || Number(q.slice(2)) > 0);
  });
}

function sendStatus(reply: FastifyReply, code: number, reason: string, message: string): FastifyReply {
  return reply.code(code).type('application/json').send(JSON.stringify(kubeStatus(code, reason, message)));
}

/**
 * Serves one document as kube-openapi does: with the current `?hash=` it may be cached for
 * ever; with an old hash, a redirect to the current one; ETag for conditional requests.
 */
function serveDocument(req: FastifyRequest<{ Querystring: { hash?: string } }>, reply: FastifyReply, doc: ServedDocument): FastifyReply {
  const path = req.url.split('?')[0] ?? req.url;
  const hash = req.query.hash;
  if (hash !== undefined && hash !== doc.hash) return reply.code(301).header('location', `${path}?hash=${doc.hash}`).send();
  if (!acceptsJson(req.headers.accept)) return sendStatus(reply, 406, 'NotAcceptable', 'only application/json is served');
  const etag = `"${doc.hash}"`;
  reply.header('etag', etag).header('vary', 'Accept');
  if (hash !== undefined) {
    reply.header('cache-control', 'public, immutable');
    reply.header('expires', new Date(Date.now() + 365 * 24 * 3600 * 1000).toUTCString());
  }
  if (req.headers['if-none-match'] === etag) return reply.code(304).send();
  return reply.type('application/json').send(doc.body);
}

/** Fastify plugin: `/openapi/v3` and one OpenAPI v3 document per group version of `kinds`. */
export function openApiRoutes(kinds: KubeKinds): (app: FastifyInstance) => Promise<void> {
  return async (app: FastifyInstance): Promise<void> => {
    // Built on first use, once: converting every kind's schema is not free and most admin
    // servers never see kubectl.
    let built: ServedDocuments | undefined;
    const documents = () => (built ??= buildDocuments(kinds));

    app.get('/openapi/v3', async (_req, reply) => reply.type('application/json').send(documents().root));

    type DocRequest = FastifyRequest<{ Params: { group?: string; version: string }; Querystring: { hash?: string } }>;
    const handler = async (req: DocRequest, reply: FastifyReply) => {
      const path = groupVersionPath(req.params.group ?? '', req.params.version);
      const doc = documents().byPath.get(path);
      if (!doc) return sendStatus(reply, 404, 'NotFound', `the server could not find the requested resource: no OpenAPI document for ${path}`);
      return serveDocument(req, reply, doc);
    };
    app.get('/openapi/v3/api/:version', handler);
    app.get('/openapi/v3/apis/:group/:version', handler);
  };
}
