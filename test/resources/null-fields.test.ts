import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { validateOffline } from '../../src/cli/validate.js';
import { createSluiceKinds } from '../../src/kinds.js';
import { dropNullFields, loadResources, parseResourcesText } from '../../src/resources/index.js';
import { runCli } from '../cli/run-cli.js';
import { startSluice, waitUntil } from '../helpers/sluice.js';

// An empty field (`labels:`, `spec.delivery:`: YAML null) means the field is absent, as
// in Kubernetes, wherever a document comes in: files (`sluice start -f`, `sluice
// validate`), the admin API (YAML and JSON) and the -f file watcher.

const SINK = 'http://127.0.0.1:9/sink';

/** One document per kind, each with every optional field it commonly carries left empty. */
const DOCS: Record<string, string> = {
  Broker: `apiVersion: eventing.knative.dev/v1
kind: Broker
metadata:
  name: null-broker
  labels:
  annotations:
spec:
  config:
  delivery:
`,
  Trigger: `apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: null-trigger
  labels:
  annotations:
spec:
  broker: null-broker
  filter:
  filters:
  delivery:
  subscriber:
    ref:
    uri: ${SINK}
`,
  InMemoryChannel: `apiVersion: messaging.knative.dev/v1
kind: InMemoryChannel
metadata:
  name: null-imc
  namespace:
  labels:
spec:
  delivery:
`,
  Channel: `apiVersion: messaging.knative.dev/v1
kind: Channel
metadata:
  name: null-channel
  annotations:
spec:
  channelTemplate:
  delivery:
`,
  Subscription: `apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata:
  name: null-sub
  labels:
spec:
  channel:
    apiVersion: messaging.knative.dev/v1
    kind: InMemoryChannel
    name: null-imc
  subscriber:
    uri: ${SINK}
  reply:
  delivery:
    deadLetterSink:
    retry: 2
`,
  PingSource: `apiVersion: sources.knative.dev/v1
kind: PingSource
metadata:
  name: null-ping
  annotations:
spec:
  schedule: "0 0 1 1 *"
  timezone:
  data:
  ceOverrides:
  sink:
    uri: ${SINK}
`,
  Service: `apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: null-svc
  labels:
  annotations:
spec:
  template:
    metadata:
      labels:
      annotations:
    spec:
      containers:
        - command: [node, -e, "require('http').createServer((q, s) => s.end()).listen(process.env.PORT)"]
          args:
          env:
          ports:
          readinessProbe:
`,
};

const KINDS = Object.keys(DOCS);
const ALL = Object.values(DOCS).join('---\n');
const registry = () => createSluiceKinds();
const messages = (errors: ReadonlyArray<{ message: string }>) => errors.map((e) => e.message).join('\n');

describe('dropNullFields', () => {
  test('drops null entries of mappings at any depth, keeps null list items, leaves its input alone', () => {
    const input = { a: null, b: { c: null, d: 1, e: [null, { f: null, g: 'x' }] }, h: [] as unknown[] };
    const out = dropNullFields(input);
    assert.deepEqual(out, { b: { d: 1, e: [null, { g: 'x' }] }, h: [] });
    assert.equal(input.a, null, 'the input is not changed');
    assert.equal(input.b.c, null);
  });

  test('YAML aliases stay shared, and a cycle does not loop', () => {
    const shared: Record<string, unknown> = { x: null, y: 1 };
    const cyclic: Record<string, unknown> = { z: null };
    cyclic.self = cyclic;
    const out = dropNullFields({ p: shared, q: shared, c: cyclic });
    assert.equal(out.p, out.q);
    assert.deepEqual(out.p, { y: 1 });
    assert.equal((out.c as Record<string, unknown>).self, out.c);
  });

  test('a Date (a YAML timestamp) is a value, not a mapping', () => {
    const d = new Date(0);
    assert.equal(dropNullFields({ d }).d, d);
  });
});

describe('empty fields in files', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-null-'));
    await writeFile(join(dir, 'all.yaml'), ALL);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  for (const kind of KINDS) {
    test(`${kind}: validates as if the empty fields were absent`, () => {
      const r = parseResourcesText(DOCS[kind]!, `${kind}.yaml`, { registry: registry() });
      assert.equal(messages(r.errors), '');
      const [res] = r.resources;
      assert.equal(res?.resource.kind, kind);
      const meta = res!.resource.metadata;
      assert.equal('labels' in meta || 'annotations' in meta, false, 'no empty labels or annotations are kept');
      assert.doesNotMatch(JSON.stringify(res!.resource.spec), /:null\b/);
    });
  }

  test('the spec is the one without the empty fields (defaults applied as when absent)', () => {
    const r = parseResourcesText(ALL, 'all.yaml', { registry: registry() });
    const spec = (kind: string) => r.resources.find((x) => x.resource.kind === kind)!.resource.spec as Record<string, unknown>;
    assert.equal(r.resources.find((x) => x.resource.kind === 'InMemoryChannel')!.resource.metadata.namespace, 'default');
    assert.deepEqual(spec('Channel').channelTemplate, { apiVersion: 'messaging.knative.dev/v1', kind: 'InMemoryChannel' });
    assert.deepEqual(spec('Subscription').delivery, { retry: 2 });
    assert.equal('reply' in spec('Subscription'), false);
    assert.equal('delivery' in spec('Broker'), false);
  });

  test('`sluice start -f` and `sluice validate` read them (the loader, and the validate command in-process)', async () => {
    const loaded = await loadResources([dir], { registry: registry() });
    assert.equal(messages(loaded.errors), '');
    assert.deepEqual(loaded.resources.map((x) => x.resource.kind).sort(), [...KINDS].sort());
    const validated = await validateOffline([dir]);
    assert.equal(messages(validated.errors), '');
    assert.equal(validated.resources.length, KINDS.length);
  });

  test('`sluice validate -f` as a command exits 0', async () => {
    const r = await runCli(['validate', '-f', join(dir, 'all.yaml')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`${KINDS.length} resource document\\(s\\) valid`));
  });

  test('a ConfigMap or Secret key with no value is dropped, as kubectl apply drops it', () => {
    const r = parseResourcesText(
      `apiVersion: v1
kind: ConfigMap
metadata: {name: cm, labels: }
data:
  kept: yes-it-is
  empty:
binaryData:
---
apiVersion: v1
kind: Secret
metadata: {name: s}
data:
  gone:
stringData:
  token: abc
  blank:
`,
      'cm.yaml',
      { registry: registry() },
    );
    assert.equal(messages(r.errors), '');
    assert.deepEqual((r.resources[0]!.resource.spec as { data: unknown }).data, { kept: 'yes-it-is' });
    assert.deepEqual(Object.keys(r.secrets[0]!.data), ['token']);
  });

  test('a null item of a list is still an error, named by its index; a null required field is "required"', () => {
    const r = parseResourcesText(
      `apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: svc}
spec:
  template:
    spec:
      containers: [null]
---
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata: {name: sub}
spec:
  channel:
  subscriber: {uri: "${SINK}"}
`,
      'bad.yaml',
      { registry: registry() },
    );
    assert.match(messages(r.errors), /bad\.yaml#1 Service default\/svc: spec\.template\.spec\.containers\[0\]: expected object, got null/);
    assert.match(messages(r.errors), /bad\.yaml#2 Subscription default\/sub: spec\.channel: required/);
  });

  test("a broker ConfigMap's channel-template-spec may leave fields empty too", () => {
    const r = parseResourcesText(
      `apiVersion: v1
kind: ConfigMap
metadata: {name: tpl}
data:
  channel-template-spec: |
    apiVersion: messaging.knative.dev/v1
    kind: InMemoryChannel
    spec:
      delivery:
`,
      'tpl.yaml',
      { registry: registry() },
    );
    assert.equal(messages(r.errors), '');
  });
});

describe('empty fields through the admin API and the file watcher', () => {
  let sluice: Awaited<ReturnType<typeof startSluice>>;
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-null-watch-'));
    sluice = await startSluice('', { watchDebounceMs: 50 });
  });
  after(async () => {
    await sluice.close();
    await rm(dir, { recursive: true, force: true });
  });

  const admin = (path: string, init: RequestInit = {}) => fetch(sluice.adminUrl + path, init);
  const apply = async (body: string, contentType: string, method = 'POST', path = '/api/v1/resources') => {
    const res = await admin(path, { method, headers: { 'content-type': contentType }, body });
    return { status: res.status, body: (await res.json()) as { items?: Array<Record<string, string>>; error?: string } };
  };
  const ready = async (kind: string, name: string) => {
    const res = await admin(`/api/v1/resources/${kind}/default/${name}`);
    if (res.status !== 200) return undefined;
    const r = (await res.json()) as { spec?: Record<string, unknown>; status?: { conditions?: Array<{ type: string; status: string }> } };
    return r.status?.conditions?.find((c) => c.type === 'Ready')?.status;
  };
  /** Kinds whose Ready needs nothing outside this test (the Service is Ready once it is scaled to zero, which may take a while). */
  const CHECK_READY: Array<[string, string]> = [
    ['Broker', 'null-broker'],
    ['Trigger', 'null-trigger'],
    ['InMemoryChannel', 'null-imc'],
    ['Channel', 'null-channel'],
    ['Subscription', 'null-sub'],
    ['PingSource', 'null-ping'],
  ];

  test('POST of YAML: every kind is applied and becomes Ready', async () => {
    const r = await apply(ALL, 'application/yaml');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body.items!.map((i) => i.kind).sort(), [...KINDS].sort());
    for (const [kind, name] of CHECK_READY) await waitUntil(async () => (await ready(kind, name)) === 'True', 10_000, `${kind} ${name} Ready`);
  });

  test('POST of JSON with null values (an array of objects, as kubectl -o json prints them)', async () => {
    const docs = parseAllDocuments(ALL).map((d) => d.toJS() as Record<string, Record<string, unknown>>);
    for (const d of docs) d.metadata!.name = `${String(d.metadata!.name)}-json`;
    const json = JSON.stringify(docs);
    assert.match(json, /"labels":null/);
    const r = await apply(json, 'application/json');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.items!.length, KINDS.length);
    assert.ok(r.body.items!.every((i) => i.result === 'created'));
  });

  test('PUT by path: each kind alone', async () => {
    for (const kind of KINDS) {
      const doc = parseAllDocuments(DOCS[kind]!)[0]!.toJS() as { metadata: { name: string } };
      const r = await apply(JSON.stringify(doc), 'application/json', 'PUT', `/api/v1/resources/${kind}/default/${doc.metadata.name}`);
      assert.equal(r.status, 200, `${kind}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.items?.[0]?.result ?? (r.body as Record<string, unknown>).result, 'unchanged', `${kind} is the same object as the YAML one`);
    }
  });

  test('the -f file watcher applies documents with empty fields, at start and after an edit', async () => {
    const file = join(dir, 'watched.yaml');
    const renamed = (yaml: string, suffix: string) => yaml.replace(/name: (null-[a-z]+)\n/g, `name: $1-${suffix}\n`);
    await writeFile(file, renamed(DOCS.InMemoryChannel!, 'w'));
    await sluice.liveConfig.start({ paths: [dir], watch: true });
    await waitUntil(async () => (await ready('InMemoryChannel', 'null-imc-w')) === 'True', 10_000, 'the watched channel');
    await writeFile(file, [renamed(DOCS.InMemoryChannel!, 'w'), renamed(DOCS.Broker!, 'w')].join('---\n'));
    await waitUntil(async () => (await ready('Broker', 'null-broker-w')) === 'True', 10_000, 'the broker added to the watched file');
  });
});
