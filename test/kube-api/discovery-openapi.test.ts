import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { z } from 'zod';
import { createSluiceKinds } from '../../src/kinds.js';
import type { KindDefinition } from '../../src/resources/index.js';
import { KubeKinds } from '../../src/kube-api/kube-kinds.js';
import { compareKubeVersions, discoveryRoutes, sluiceServerVersion, wantsAggregatedDiscovery } from '../../src/kube-api/discovery.js';
import { openApiRoutes, type JsonSchema } from '../../src/kube-api/openapi.js';

// Discovery and OpenAPI v3 as the real kubectl reads them: api-resources, api-versions,
// explain, version, and the patch type `kubectl apply` picks from the OpenAPI document.

/** kubectl from /usr/bin or PATH; the kubectl tests are skipped without it (CI installs it). */
function findKubectl(): string | undefined {
  for (const dir of ['/usr/bin', ...(process.env.PATH ?? '').split(delimiter)]) {
    if (!dir) continue;
    const file = join(dir, 'kubectl');
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}
const KUBECTL = findKubectl();
const NO_KUBECTL = KUBECTL ? false : 'kubectl is not installed';

// An extra kind to check what the zod conversion keeps: descriptions, input side of
// transforms, recursion (moved to components), placeholders.
interface Part {
  name: string;
  parts?: Part[];
}
const partSchema: z.ZodType<Part> = z.lazy(() => z.strictObject({ name: z.string().describe('Name of the part.'), parts: z.array(partSchema).optional() }));
const widgetKind: KindDefinition = {
  apiVersion: ['example.sluice.dev/v1alpha1', 'example.sluice.dev/v1'],
  kind: 'Widget',
  shortNames: ['wdg'],
  spec: z.strictObject({
    size: z.number().int().min(1).describe('How many widgets to make.'),
    color: z.enum(['red', 'blue']).default('red'),
    timeout: z.string().transform((s) => Number.parseInt(s, 10)).optional(),
    parts: z.array(partSchema).optional(),
    extra: z.custom<unknown>(() => true).optional(),
    exact: z.literal('x').optional(),
  }),
};

const kinds = new KubeKinds(createSluiceKinds([widgetKind]));

interface Started {
  app: FastifyInstance;
  url: string;
  requests: string[];
}

/** A fastify app with both plugins; `legacyOnly` strips the aggregated discovery Accept, as an older server would ignore it. */
async function start(options: { legacyOnly?: boolean; fakeObjects?: boolean } = {}): Promise<Started> {
  const app = Fastify();
  const requests: string[] = [];
  app.addHook('onRequest', async (req) => {
    requests.push(`${req.method} ${req.url.split('?')[0]}`);
    if (options.legacyOnly) req.headers.accept = 'application/json';
  });
  await app.register(discoveryRoutes(kinds, { gitVersion: 'v0.1.0-sluice' }));
  await app.register(openApiRoutes(kinds));
  if (options.fakeObjects) await app.register(fakeObjects(patches));
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  assert.ok(address && typeof address === 'object');
  return { app, url: `http://127.0.0.1:${address.port}`, requests };
}

interface RecordedPatch {
  path: string;
  query: string;
  contentType: string;
  body: string;
}
const patches: RecordedPatch[] = [];

/**
 * Just enough of a Broker and a Secret for `kubectl apply` to patch them: a GET that
 * returns the object (with its last-applied configuration) and a PATCH that records what
 * kubectl sent. The real object API lives elsewhere; this test is about the patch type.
 */
function fakeObjects(recorded: RecordedPatch[]) {
  const objects: Record<string, Record<string, unknown>> = {
    '/apis/eventing.knative.dev/v1/namespaces/default/brokers/default': {
      apiVersion: 'eventing.knative.dev/v1',
      kind: 'Broker',
      spec: { delivery: { retry: 3 } },
    },
    '/api/v1/namespaces/default/secrets/creds': { apiVersion: 'v1', kind: 'Secret', type: 'Opaque', stringData: { user: 'a' } },
  };
  return async (scope: FastifyInstance) => {
    scope.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));
    for (const [path, applied] of Object.entries(objects)) {
      const name = path.split('/').pop() ?? '';
      const current = {
        ...applied,
        metadata: {
          name,
          namespace: 'default',
          uid: `uid-${name}`,
          resourceVersion: '1',
          annotations: { 'kubectl.kubernetes.io/last-applied-configuration': JSON.stringify({ ...applied, metadata: { name, namespace: 'default' } }) },
        },
      };
      scope.get(path, async () => current);
      scope.patch(path, async (req) => {
        recorded.push({ path, query: req.url.split('?')[1] ?? '', contentType: String(req.headers['content-type']), body: String(req.body) });
        return current;
      });
    }
  };
}

interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

interface KubectlEnv {
  kubeconfig: string;
  cacheDir: string;
  home: string;
}

/** A kubeconfig for `url` (no credentials, namespace default) and a cache dir of its own, named `name`. */
async function kubectlEnv(dir: string, url: string, name: string): Promise<KubectlEnv> {
  const kubeconfig = join(dir, `kubeconfig-${name}`);
  await writeFile(
    kubeconfig,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: sluice',
      '  cluster:',
      `    server: ${url}`,
      'users:',
      '- name: anonymous',
      '  user: {}',
      'contexts:',
      '- name: sluice',
      '  context: {cluster: sluice, user: anonymous, namespace: default}',
      'current-context: sluice',
      '',
    ].join('\n'),
  );
  return { kubeconfig, cacheDir: join(dir, `cache-${name}`), home: dir };
}

/** Runs kubectl against the test server; never rejects, so failures can be asserted on. */
function kubectl(env: KubectlEnv, ...args: string[]): Promise<KubectlResult> {
  return new Promise((resolve) => {
    execFile(
      KUBECTL ?? 'kubectl',
      ['--kubeconfig', env.kubeconfig, '--cache-dir', env.cacheDir, ...args],
      // No proxy or KUBECONFIG from the environment: only what this test sets.
      { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: env.home }, timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

function assertOk(r: KubectlResult, what: string): string {
  assert.equal(r.code, 0, `${what} failed (${r.code}):\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}

async function getJson(url: string, accept = 'application/json'): Promise<{ status: number; contentType: string; body: Record<string, unknown> }> {
  const res = await fetch(url, { headers: { accept } });
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', body: (await res.json()) as Record<string, unknown> };
}

const KUBECTL_DISCOVERY_ACCEPT =
  'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json';

/** Every `$ref` anywhere in `value`. */
function refsIn(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) for (const v of value) refsIn(v, out);
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === '$ref' && typeof v === 'string') out.push(v);
      else refsIn(v, out);
    }
  }
  return out;
}

/** Keys of schema objects anywhere in `value` (property names included: only used to look for keywords). */
function keysIn(value: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(value)) for (const v of value) keysIn(v, out);
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      out.add(k);
      keysIn(v, out);
    }
  }
  return out;
}

describe('discovery over HTTP', () => {
  let s: Started;
  before(async () => {
    s = await start();
  });
  after(async () => {
    await s.app.close();
  });

  test('/version reports Sluice, not a Kubernetes release', async () => {
    const { status, body } = await getJson(`${s.url}/version`);
    assert.equal(status, 200);
    assert.deepEqual({ major: body.major, minor: body.minor, gitVersion: body.gitVersion, gitCommit: body.gitCommit }, { major: '0', minor: '1', gitVersion: 'v0.1.0-sluice', gitCommit: '' });
    assert.match(String(body.platform), /^[a-z0-9]+\/[a-z0-9]+$/);
    assert.match(sluiceServerVersion().gitVersion, /^v\d+\.\d+\.\d+/);
  });

  test('legacy discovery: /api, /api/v1, /apis, /apis/<g>, /apis/<g>/<v>', async () => {
    const api = await getJson(`${s.url}/api`);
    assert.match(api.contentType, /^application\/json/);
    assert.deepEqual(api.body, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: '' }] });

    const core = (await getJson(`${s.url}/api/v1`)).body as { groupVersion: string; resources: Array<{ name: string; kind: string }> };
    assert.equal(core.groupVersion, 'v1');
    assert.deepEqual(core.resources.map((r) => r.name).sort(), ['configmaps', 'secrets'], 'no status subresource for top-level kinds');

    const apis = (await getJson(`${s.url}/apis`)).body as { kind: string; groups: Array<{ name: string; versions: Array<{ version: string }>; preferredVersion: { groupVersion: string } }> };
    assert.equal(apis.kind, 'APIGroupList');
    const sources = apis.groups.find((g) => g.name === 'sources.knative.dev');
    assert.deepEqual(sources?.versions.map((v) => v.version), ['v1', 'v1beta2', 'v1alpha1'], 'GA first, then beta, then alpha');
    assert.equal(sources?.preferredVersion.groupVersion, 'sources.knative.dev/v1');
    assert.equal(apis.groups.find((g) => g.name === 'example.sluice.dev')?.preferredVersion.groupVersion, 'example.sluice.dev/v1');

    const group = (await getJson(`${s.url}/apis/eventing.knative.dev`)).body;
    assert.equal(group.kind, 'APIGroup');
    assert.deepEqual(group.preferredVersion, { groupVersion: 'eventing.knative.dev/v1', version: 'v1' });

    const list = (await getJson(`${s.url}/apis/eventing.knative.dev/v1`)).body as { kind: string; apiVersion: string; groupVersion: string; resources: Array<Record<string, unknown>> };
    assert.deepEqual([list.kind, list.apiVersion, list.groupVersion], ['APIResourceList', 'v1', 'eventing.knative.dev/v1']);
    assert.deepEqual(list.resources.find((r) => r.name === 'brokers'), {
      name: 'brokers',
      singularName: 'broker',
      namespaced: true,
      kind: 'Broker',
      verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
      shortNames: ['brk'],
      categories: ['all', 'knative', 'sluice'],
    });
    assert.deepEqual(list.resources.find((r) => r.name === 'brokers/status'), { name: 'brokers/status', singularName: '', namespaced: true, kind: 'Broker', verbs: ['get', 'patch', 'update'] });
  });

  test('aggregated discovery v2 when asked for, with the content type kubectl recognizes', async () => {
    const apis = await getJson(`${s.url}/apis`, KUBECTL_DISCOVERY_ACCEPT);
    assert.equal(apis.contentType, 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList');
    assert.equal(apis.body.kind, 'APIGroupDiscoveryList');
    assert.equal(apis.body.apiVersion, 'apidiscovery.k8s.io/v2');
    const items = apis.body.items as Array<{ metadata: { name: string }; versions: Array<{ version: string; resources: Array<Record<string, unknown>> }> }>;
    const eventing = items.find((i) => i.metadata.name === 'eventing.knative.dev');
    const broker = eventing?.versions.find((v) => v.version === 'v1')?.resources.find((r) => r.resource === 'brokers');
    assert.deepEqual(broker?.responseKind, { group: 'eventing.knative.dev', version: 'v1', kind: 'Broker' });
    assert.equal(broker?.scope, 'Namespaced');
    assert.deepEqual(broker?.subresources, [{ subresource: 'status', responseKind: { group: 'eventing.knative.dev', version: 'v1', kind: 'Broker' }, verbs: ['get', 'patch', 'update'] }]);

    const api = await getJson(`${s.url}/api`, KUBECTL_DISCOVERY_ACCEPT);
    assert.equal(api.contentType, 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList');
    const coreItems = api.body.items as Array<{ versions: Array<{ version: string; resources: Array<{ resource: string; subresources: unknown[] }> }> }>;
    assert.deepEqual(coreItems[0]?.versions[0]?.resources.map((r) => [r.resource, r.subresources.length]).sort(), [['configmaps', 0], ['secrets', 0]]);

    assert.equal(wantsAggregatedDiscovery('application/json'), false);
    assert.equal(wantsAggregatedDiscovery('application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json'), false, 'v2beta1 is not served: legacy');
    assert.equal(wantsAggregatedDiscovery('application/json;q=0.9,application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList'), true, 'q decides');
    assert.deepEqual(['v1alpha1', 'v2', 'v1beta1', 'v1', 'foo', 'v1beta2'].sort(compareKubeVersions), ['v2', 'v1', 'v1beta2', 'v1beta1', 'v1alpha1', 'foo']);
  });

  test('an unknown group or version is a 404 Status', async () => {
    for (const path of ['/apis/nope.dev', '/apis/nope.dev/v1', '/apis/eventing.knative.dev/v9', '/api/v2', '/openapi/v3/apis/nope.dev/v1']) {
      const { status, contentType, body } = await getJson(`${s.url}${path}`);
      assert.equal(status, 404, path);
      assert.match(contentType, /^application\/json/);
      assert.deepEqual({ ...body, message: undefined }, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: undefined, reason: 'NotFound', details: {}, code: 404 }, path);
      assert.equal(typeof body.message, 'string');
    }
  });
});

describe('OpenAPI v3 over HTTP', () => {
  let s: Started;
  let docs: Map<string, { url: string; doc: { paths: Record<string, Record<string, JsonSchema>>; components: { schemas: Record<string, JsonSchema> } } }>;
  before(async () => {
    s = await start();
    const root = (await getJson(`${s.url}/openapi/v3`)).body as { paths: Record<string, { serverRelativeURL: string }> };
    docs = new Map();
    for (const [path, { serverRelativeURL }] of Object.entries(root.paths)) {
      const res = await fetch(`${s.url}${serverRelativeURL}`);
      assert.equal(res.status, 200, serverRelativeURL);
      docs.set(path, { url: serverRelativeURL, doc: (await res.json()) as never });
    }
  });
  after(async () => {
    await s.app.close();
  });

  test('the root lists every group version with the hash of its document', async () => {
    assert.ok(docs.has('api/v1'));
    assert.ok(docs.has('apis/eventing.knative.dev/v1'));
    assert.ok(docs.has('apis/sources.knative.dev/v1beta2'));
    const { url } = docs.get('apis/eventing.knative.dev/v1') ?? assert.fail('no eventing document');
    const res = await fetch(`${s.url}${url}`);
    const body = await res.text();
    assert.equal(url, `/openapi/v3/apis/eventing.knative.dev/v1?hash=${createHash('sha512').update(body).digest('hex').toUpperCase()}`);
    assert.equal(res.headers.get('cache-control'), 'public, immutable');
    // An old hash redirects to the current one; the ETag answers conditional requests.
    const stale = await fetch(`${s.url}/openapi/v3/apis/eventing.knative.dev/v1?hash=OLD`, { redirect: 'manual' });
    assert.equal(stale.status, 301);
    assert.equal(stale.headers.get('location'), url);
    const again = await fetch(`${s.url}/openapi/v3/apis/eventing.knative.dev/v1`, { headers: { 'if-none-match': res.headers.get('etag') ?? '' } });
    assert.equal(again.status, 304);
  });

  test('every document is OpenAPI 3.0 kubectl can read: refs resolve, no JSON Schema 2020 keywords', () => {
    for (const [path, { doc }] of docs) {
      for (const r of refsIn(doc)) {
        assert.match(r, /^#\/components\/schemas\//, `${path}: ${r}`);
        assert.ok(doc.components.schemas[r.slice('#/components/schemas/'.length)], `${path}: ${r} does not resolve`);
      }
      const keys = keysIn(doc.components.schemas);
      for (const bad of ['$defs', 'definitions', '$schema', 'const', 'prefixItems']) assert.ok(!keys.has(bad), `${path} has ${bad}`);
    }
  });

  test('kind schemas: GVK, metadata, spec from zod (descriptions, input side), status', () => {
    const { doc } = docs.get('apis/eventing.knative.dev/v1') ?? assert.fail('no eventing document');
    const broker = doc.components.schemas['dev.knative.eventing.v1.Broker'] as { [k: string]: unknown; properties: Record<string, JsonSchema> };
    assert.deepEqual(broker['x-kubernetes-group-version-kind'], [{ group: 'eventing.knative.dev', version: 'v1', kind: 'Broker' }]);
    assert.equal(broker.description, 'Knative Broker, served by Sluice');
    assert.equal(broker.properties.metadata?.$ref, '#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta');
    assert.deepEqual(Object.keys((broker.properties.spec?.properties as object | undefined) ?? {}), ['config', 'delivery']);
    assert.equal(broker.properties.status?.['x-kubernetes-preserve-unknown-fields'], true);
    const trigger = doc.components.schemas['dev.knative.eventing.v1.Trigger'] as { properties: { spec: { properties: Record<string, JsonSchema> } } };
    assert.deepEqual(Object.keys((trigger.properties.spec.properties.filter?.properties as object | undefined) ?? {}), ['attributes']);
    assert.deepEqual(trigger.properties.spec.properties.filters?.items, { $ref: '#/components/schemas/dev.knative.eventing.v1.TriggerFilter' });

    const core = docs.get('api/v1')?.doc ?? assert.fail('no core document');
    const secret = core.components.schemas['io.k8s.api.core.v1.Secret'] as { [k: string]: unknown; properties: Record<string, JsonSchema> };
    assert.deepEqual(secret['x-kubernetes-group-version-kind'], [{ group: '', version: 'v1', kind: 'Secret' }]);
    assert.ok(secret.properties.stringData && secret.properties.type && !secret.properties.spec && !secret.properties.status, 'Secret content is at the top level');

    const widgets = docs.get('apis/example.sluice.dev/v1alpha1')?.doc ?? assert.fail('no example document');
    const widget = widgets.components.schemas['dev.sluice.example.v1alpha1.Widget'] as { properties: { spec: { properties: Record<string, JsonSchema>; required?: string[] } } };
    const spec = widget.properties.spec;
    assert.equal(spec.properties.size?.description, 'How many widgets to make.');
    assert.equal(spec.properties.size?.maximum, undefined, 'no safe-integer noise');
    assert.deepEqual(spec.properties.timeout, { type: 'string' }, 'the input side of a transform');
    assert.deepEqual(spec.properties.exact, { type: 'string', enum: ['x'] });
    assert.equal(spec.properties.extra?.['x-kubernetes-preserve-unknown-fields'], true);
    assert.deepEqual(spec.required, ['size'], 'defaulted fields are optional on input');
    const part = widgets.components.schemas['dev.sluice.example.v1alpha1.WidgetPart'] as { properties: Record<string, JsonSchema> };
    assert.equal(part.properties.name?.description, 'Name of the part.');
    assert.deepEqual(part.properties.parts?.items, { $ref: '#/components/schemas/dev.sluice.example.v1alpha1.WidgetPart' });
  });

  test('operations: GVK, actions, fieldValidation, and merge patch (never strategic) for Sluice kinds', () => {
    const { doc } = docs.get('apis/eventing.knative.dev/v1') ?? assert.fail('no eventing document');
    const base = '/apis/eventing.knative.dev/v1';
    const gvk = { group: 'eventing.knative.dev', version: 'v1', kind: 'Broker' };
    const ops: Array<[string, string, string]> = [
      [`${base}/namespaces/{namespace}/brokers`, 'get', 'list'],
      [`${base}/namespaces/{namespace}/brokers`, 'post', 'post'],
      [`${base}/namespaces/{namespace}/brokers/{name}`, 'get', 'get'],
      [`${base}/namespaces/{namespace}/brokers/{name}`, 'put', 'put'],
      [`${base}/namespaces/{namespace}/brokers/{name}`, 'patch', 'patch'],
      [`${base}/namespaces/{namespace}/brokers/{name}`, 'delete', 'delete'],
      [`${base}/brokers`, 'get', 'list'],
      [`${base}/namespaces/{namespace}/brokers/{name}/status`, 'get', 'get'],
      [`${base}/namespaces/{namespace}/brokers/{name}/status`, 'put', 'put'],
      [`${base}/namespaces/{namespace}/brokers/{name}/status`, 'patch', 'patch'],
    ];
    const ids = new Set<string>();
    for (const [path, method, action] of ops) {
      const op = doc.paths[path]?.[method] as { operationId: string; parameters?: Array<{ name: string }>; requestBody?: { content: Record<string, unknown> } } | undefined;
      assert.ok(op, `${method} ${path}`);
      assert.deepEqual((op as unknown as JsonSchema)['x-kubernetes-group-version-kind'], gvk);
      assert.equal((op as unknown as JsonSchema)['x-kubernetes-action'], action);
      assert.ok(!ids.has(op.operationId), op.operationId);
      ids.add(op.operationId);
      if (method === 'patch') {
        assert.deepEqual(op.parameters?.map((p) => p.name), ['dryRun', 'fieldManager', 'fieldValidation', 'force']);
        assert.deepEqual(Object.keys(op.requestBody?.content ?? {}), ['application/json-patch+json', 'application/merge-patch+json', 'application/apply-patch+yaml']);
      }
      if (method === 'post' || method === 'put') assert.ok(op.parameters?.some((p) => p.name === 'fieldValidation'));
    }
    assert.ok(ids.has('patchEventingKnativeDevV1NamespacedBroker'));
    const core = docs.get('api/v1')?.doc ?? assert.fail('no core document');
    const secretPatch = core.paths['/api/v1/namespaces/{namespace}/secrets/{name}']?.patch as { requestBody: { content: Record<string, unknown> } };
    assert.ok('application/strategic-merge-patch+json' in secretPatch.requestBody.content, 'kubectl sends strategic merge patches for Secret anyway');
    assert.equal(core.paths['/api/v1/namespaces/{namespace}/secrets/{name}/status'], undefined);
  });
});

describe('the real kubectl', { skip: NO_KUBECTL }, () => {
  let s: Started;
  let legacy: Started;
  let dir: string;
  let env: KubectlEnv;
  let legacyEnv: KubectlEnv;
  before(async () => {
    s = await start({ fakeObjects: true });
    legacy = await start({ legacyOnly: true });
    dir = await mkdtemp(join(tmpdir(), 'sluice-kubectl-'));
    env = await kubectlEnv(dir, s.url, 'aggregated');
    legacyEnv = await kubectlEnv(dir, legacy.url, 'legacy');
  });
  after(async () => {
    await s?.app.close();
    await legacy?.app.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('kubectl api-resources lists the kinds, from aggregated discovery', async () => {
    const out = assertOk(await kubectl(env, 'api-resources'), 'api-resources');
    assert.match(out, /^brokers\s+brk\s+eventing\.knative\.dev\/v1\s+true\s+Broker$/m);
    assert.match(out, /^subscriptions\s+\S+\s+messaging\.knative\.dev\/v1\s+true\s+Subscription$/m);
    assert.match(out, /^inmemorychannels\s+imc\s+messaging\.knative\.dev\/v1\s+true\s+InMemoryChannel$/m);
    assert.match(out, /^secrets\s+v1\s+true\s+Secret$/m);
    assert.match(out, /^pingsources\s+ping\s+sources\.knative\.dev\/v1\s+true\s+PingSource$/m, 'the preferred version');
    assert.match(out, /^githubsources\s+\S+\s+sources\.knative\.dev\/v1alpha1\s+true\s+GitHubSource$/m, 'a kind only in another version');
    assert.ok(!s.requests.includes('GET /apis/eventing.knative.dev/v1'), 'aggregated discovery: no request per group version');
  });

  test('kubectl falls back to legacy discovery when the server does not aggregate', async () => {
    const out = assertOk(await kubectl(legacyEnv, 'api-resources'), 'api-resources (legacy)');
    assert.match(out, /^brokers\s+brk\s+eventing\.knative\.dev\/v1\s+true\s+Broker$/m);
    assert.match(out, /^configmaps\s+v1\s+true\s+ConfigMap$/m);
    assert.ok(legacy.requests.includes('GET /apis/eventing.knative.dev/v1'), 'legacy discovery reads each group version');
    assert.ok(legacy.requests.includes('GET /api/v1'));
  });

  test('kubectl api-versions', async () => {
    const lines = assertOk(await kubectl(env, 'api-versions'), 'api-versions').trim().split('\n');
    for (const gv of ['eventing.knative.dev/v1', 'messaging.knative.dev/v1', 'sources.knative.dev/v1beta2', 'v1']) assert.ok(lines.includes(gv), `${gv} in ${lines.join(' ')}`);
  });

  test('kubectl explain reads the OpenAPI v3 schemas', async () => {
    const spec = assertOk(await kubectl(env, 'explain', 'brokers.spec'), 'explain brokers.spec');
    assert.match(spec, /^KIND:\s+Broker$/m);
    assert.match(spec, /^FIELD: spec <Object>$/m);
    assert.match(spec, /^ {2}config\t<Object>$/m);
    assert.match(spec, /^ {2}delivery\t<Object>$/m);

    const filter = assertOk(await kubectl(env, 'explain', 'triggers.spec.filter'), 'explain triggers.spec.filter');
    assert.match(filter, /^FIELD: filter <Object>$/m);
    assert.match(filter, /^ {2}attributes\t<map\[string\]string>$/m);

    const filters = assertOk(await kubectl(env, 'explain', 'trig.spec.filters'), 'explain trig.spec.filters');
    assert.match(filters, /^FIELD: filters <\[\]TriggerFilter>$/m);
    for (const f of ['all', 'any', 'cesql', 'exact', 'not', 'prefix', 'suffix']) assert.match(filters, new RegExp(`^ {2}${f}\\t`, 'm'));

    const delivery = assertOk(await kubectl(env, 'explain', 'brk.spec.delivery.backoffPolicy'), 'explain backoffPolicy');
    assert.match(delivery, /ENUM:\s+exponential\s+linear/);

    const widget = assertOk(await kubectl(env, 'explain', 'widgets.spec'), 'explain widgets.spec');
    assert.match(widget, /^VERSION:\s+v1$/m, 'the preferred version');
    assert.match(widget, /^ {2}size\t<integer> -required-\n {4}How many widgets to make\.$/m);

    const metadata = assertOk(await kubectl(env, 'explain', 'secrets.metadata'), 'explain secrets.metadata');
    assert.match(metadata, /^FIELD: metadata <ObjectMeta>$/m);
    assert.match(metadata, /^ {2}resourceVersion\t<string>$/m);

    const missing = await kubectl(env, 'explain', 'brokers.spec.nope');
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /field "nope" does not exist/);
  });

  test('kubectl version -o json shows the server version', async () => {
    const r = await kubectl(env, 'version', '-o', 'json');
    const out = JSON.parse(assertOk(r, 'version')) as { serverVersion?: Record<string, string> };
    assert.equal(out.serverVersion?.gitVersion, 'v0.1.0-sluice');
    assert.equal(out.serverVersion?.major, '0');
    // Honest about not being Kubernetes 1.x: kubectl warns about the skew, and that is all.
    assert.match(r.stderr, /WARNING: version difference between client \(1\.\d+\) and server \(0\.1\)/);
  });

  test('kubectl prints the Status of a 404', async () => {
    const r = await kubectl(env, 'get', '--raw', '/apis/nope.dev');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^Error from server \(NotFound\): the server could not find the requested resource: group nope\.dev is not served$/m);
  });

  test('kubectl apply sends a JSON merge patch for a Sluice kind, with server-side field validation', async () => {
    const file = join(dir, 'broker.yaml');
    await writeFile(file, 'apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata:\n  name: default\nspec:\n  delivery:\n    retry: 5\n');
    const out = assertOk(await kubectl(env, 'apply', '-f', file), 'apply broker');
    assert.match(out, /broker\.eventing\.knative\.dev\/default configured/);
    const patch = patches.find((p) => p.path.endsWith('/brokers/default')) ?? assert.fail('no patch recorded');
    assert.equal(patch.contentType, 'application/merge-patch+json');
    assert.deepEqual((JSON.parse(patch.body) as { spec: unknown }).spec, { delivery: { retry: 5 } });
    // kubectl left validation to the server (the PATCH lists fieldValidation): it asks for Strict.
    assert.match(patch.query, /(^|&)fieldValidation=Strict(&|$)/);
  });

  test('kubectl apply sends a strategic merge patch for a Secret, as for any cluster', async () => {
    const file = join(dir, 'secret.yaml');
    await writeFile(file, 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\ntype: Opaque\nstringData:\n  user: b\n');
    assertOk(await kubectl(env, 'apply', '-f', file), 'apply secret');
    const patch = patches.find((p) => p.path.endsWith('/secrets/creds')) ?? assert.fail('no patch recorded');
    assert.equal(patch.contentType, 'application/strategic-merge-patch+json');
  });
});
