import type { FastifyInstance } from 'fastify';
import type { KubeKinds } from './kube-kinds.js';

const PROTOBUF = 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf';
/** Query parameters of every PATCH: kubectl before 1.27 asks this document whether the server takes `dryRun`. */
const PATCH_QUERY_PARAMETERS = ['dryRun', 'fieldManager', 'fieldValidation', 'force'];

/**
 * `/openapi/v2`: a Swagger 2.0 document listing, per kind, the PATCH operation of an item
 * with its query parameters and `x-kubernetes-group-version-kind`, and no definitions.
 * kubectl before 1.27 (Debian's `kubernetes-client` is 1.20) reads it for two things:
 * client-side validation of `apply`/`create` (a kind without a definition is not checked
 * there; Sluice validates every write itself, 422 naming each field) and whether a kind
 * supports `dryRun` (`kubectl diff`, `--dry-run=server`). Newer kubectl reads
 * `/openapi/v3`. Listing no definitions also keeps kubectl from building strategic merge
 * patches for Sluice's kinds.
 *
 * kubectl reads this document only as gnostic protobuf (`openapi.v2.Document`); the few
 * messages it needs are encoded here (field numbers from gnostic's OpenAPIv2.proto).
 */
export function openApiV2Routes(kinds: KubeKinds, version: string) {
  const items = kinds.all.flatMap((k) => k.versions.map((v) => ({ path: itemPath(k.group, v, k.plural), group: k.group, version: v, kind: k.kind })));
  const json = {
    swagger: '2.0',
    info: { title: 'Sluice', version },
    paths: Object.fromEntries(items.map((i) => [i.path, { patch: { parameters: PATCH_QUERY_PARAMETERS.map((name) => ({ name, in: 'query', type: 'string', uniqueItems: true })), 'x-kubernetes-group-version-kind': { group: i.group, kind: i.kind, version: i.version } } }])),
  };
  const protobuf = message([
    [1, '2.0'],
    [2, message([[1, 'Sluice'], [2, version]])],
    [8, message(items.map((i) => [2, namedPathItem(i)] as Field))],
  ]);
  return async (app: FastifyInstance): Promise<void> => {
    app.get('/openapi/v2', async (req, reply) => {
      if ((req.headers.accept ?? '').includes('protobuf')) return reply.type(PROTOBUF).send(protobuf);
      return reply.type('application/json').send(json);
    });
  };
}

function itemPath(group: string, version: string, plural: string): string {
  return `${group ? `/apis/${group}/${version}` : `/api/${version}`}/namespaces/{namespace}/${plural}/{name}`;
}

/** NamedPathItem{name, value: PathItem{patch: Operation{parameters, vendor_extension}}}. */
function namedPathItem(i: { path: string; group: string; version: string; kind: string }): Buffer {
  const parameters = PATCH_QUERY_PARAMETERS.map((name): Field => {
    // ParametersItem{parameter: Parameter{non_body_parameter: NonBodyParameter{query_parameter_sub_schema: {in, name, type}}}}
    const query = message([[2, 'query'], [4, name], [6, 'string']]);
    return [8, message([[1, message([[2, message([[3, query]])]])]])];
  });
  // NamedAny{name, value: Any{yaml}}: kubectl reads the GVK from the extension's YAML.
  const gvk = message([[1, 'x-kubernetes-group-version-kind'], [2, message([[2, `group: ${JSON.stringify(i.group)}\nkind: ${i.kind}\nversion: ${i.version}\n`]])]]);
  const operation = message([...parameters, [13, gvk]]);
  return message([[1, i.path], [2, message([[8, operation]])]]);
}

type Field = [number, string | Buffer];

/** A protobuf message of length-delimited fields (wire type 2: strings and messages). */
function message(fields: readonly Field[]): Buffer {
  return Buffer.concat(fields.map(([n, v]) => {
    const payload = typeof v === 'string' ? Buffer.from(v) : v;
    return Buffer.concat([varint((n << 3) | 2), varint(payload.length), payload]);
  }));
}

function varint(value: number): Buffer {
  const out: number[] = [];
  let v = value;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return Buffer.from(out);
}
