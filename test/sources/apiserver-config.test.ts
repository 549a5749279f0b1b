import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidOptionError, ResourceValidationError } from '../../src/errors.js';
import { parse as parseYaml } from 'yaml';
import { ResourceKindRegistry } from '../../src/resources/kind-registry.js';
import { containerSourceKind } from '../../src/sources/container/index.js';
import { sinkBindingKind } from '../../src/sources/sinkbinding/index.js';
import { ApiServerSource, apiServerSourceKind, apiServerSourceSpecSchema, loadKubeConfig, matchesSelector, selectorToString } from '../../src/sources/apiserver/index.js';

const KUBECONFIG = `apiVersion: v1
kind: Config
clusters:
- name: prod
  cluster: {server: "https://10.0.0.1:6443", insecure-skip-tls-verify: true}
users:
- name: admin
  user: {token: abc}
contexts:
- name: prod
  context: {cluster: prod, user: admin}
current-context: prod
`;

describe('loadKubeConfig', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-kc-'));
  const file = join(dir, 'config');
  writeFileSync(file, KUBECONFIG);
  const emptyHome = join(dir, 'home');
  mkdirSync(emptyHome);

  test('from an explicit path, then from KUBECONFIG', () => {
    assert.equal(loadKubeConfig({ kubeconfigPath: file, env: {}, homeDir: emptyHome }).getCurrentCluster()?.server, 'https://10.0.0.1:6443');
    assert.equal(loadKubeConfig({ env: { KUBECONFIG: file }, homeDir: emptyHome }).getCurrentCluster()?.server, 'https://10.0.0.1:6443');
  });

  test('in a pod: the service account', () => {
    const root = join(dir, 'pod');
    mkdirSync(join(root, 'var/run/secrets/kubernetes.io/serviceaccount'), { recursive: true });
    writeFileSync(join(root, 'var/run/secrets/kubernetes.io/serviceaccount/token'), 'sa-token');
    writeFileSync(join(root, 'var/run/secrets/kubernetes.io/serviceaccount/ca.crt'), '');
    const kc = loadKubeConfig({ env: { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' }, homeDir: emptyHome, inClusterRoot: root });
    assert.equal(kc.getCurrentCluster()?.server, 'https://10.96.0.1:443');
  });

  test('nothing found is an error, never a silent localhost:8080', () => {
    assert.throws(() => loadKubeConfig({ env: {}, homeDir: emptyHome }), (err: unknown) => {
      assert.ok(err instanceof InvalidOptionError);
      assert.match(err.message, /no Kubernetes configuration found: pass --kubeconfig/);
      return true;
    });
    assert.throws(() => loadKubeConfig({ kubeconfigPath: join(dir, 'missing'), env: {} }), /kubeconfig file .*missing does not exist/);
    const noCtx = join(dir, 'noctx');
    writeFileSync(noCtx, KUBECONFIG.replace('current-context: prod', 'current-context: staging'));
    assert.throws(() => loadKubeConfig({ kubeconfigPath: noCtx, env: {} }), /current context "staging" names no known cluster/);
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('ApiServerSource spec', () => {
  test('follows Knative v1 field for field and reports bad fields by path', () => {
    const ok = apiServerSourceSpecSchema.parse({ resources: [{ apiVersion: 'v1', kind: 'Event' }], sink: { ref: { apiVersion: 'eventing.knative.dev/v1', kind: 'Broker', name: 'default' } } });
    assert.equal(ok.mode, 'Reference', 'mode defaults to Reference');
    const bad = (spec: unknown) => () => new ApiServerSource({ name: 'x', namespace: 'default', spec: spec as never, kubeConfig: undefined as never });
    assert.throws(bad({ resources: [], sink: { uri: 'http://s' } }), /spec\.resources: must have at least one item/);
    assert.throws(bad({ resources: [{ apiVersion: 'v1', kind: 'Pod', labelSelector: { matchLabels: { a: 'b' } } }], sink: { uri: 'http://s' } }), (err: unknown) => {
      assert.ok(err instanceof ResourceValidationError);
      assert.match(err.message, /ApiServerSource default\/x: spec\.resources\[0\]\.labelSelector: unknown field "labelSelector"/);
      return true;
    });
    assert.throws(bad({ resources: [{ apiVersion: 'v1', kind: 'Pod' }], mode: 'Ref', sink: { uri: 'http://s' } }), /spec\.mode: "Ref" is not one of Reference, Resource/);
    assert.throws(bad({ resources: [{ apiVersion: 'v1', kind: 'Pod' }] }), /spec\.sink: required/);
    assert.throws(bad({ resources: [{ apiVersion: 'v1', kind: 'Pod', selector: { matchExpressions: [{ key: 'a', operator: 'In' }] } }], sink: { uri: 'http://s' } }), /operator In needs at least one value/);
    assert.throws(bad({ resources: [{ apiVersion: 'v1', kind: 'Pod' }], sink: { uri: 'http://s' }, ceOverrides: { extensions: { Bad_Name: 'x' } } }), /lower-case letters and digits/);
  });

  test('label selectors: query-string form and local matching agree', () => {
    const sel = { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'NotIn' as const, values: ['db'] }, { key: 'legacy', operator: 'DoesNotExist' as const }, { key: 'team', operator: 'Exists' as const }] };
    assert.equal(selectorToString(sel), 'app=web,tier notin (db),!legacy,team');
    assert.equal(selectorToString({}), undefined);
    assert.equal(matchesSelector(sel, { app: 'web', team: 'a' }), true);
    assert.equal(matchesSelector(sel, { app: 'web', team: 'a', tier: 'db' }), false);
    assert.equal(matchesSelector(sel, { app: 'web', team: 'a', legacy: '1' }), false);
    assert.equal(matchesSelector(sel, { app: 'web' }), false);
  });
});

describe('kind definitions', () => {
  test('the three kinds register and accept Knative documentation YAML unchanged', () => {
    const registry = new ResourceKindRegistry().register(apiServerSourceKind).register(containerSourceKind).register(sinkBindingKind);
    assert.deepEqual(registry.kindsInGroup('sources.knative.dev'), ['ApiServerSource', 'ContainerSource', 'SinkBinding']);
    // From knative.dev/docs/eventing/sources/apiserversource/getting-started.
    const doc = parseYaml(`
apiVersion: sources.knative.dev/v1
kind: ApiServerSource
metadata:
  name: testevents
  namespace: apiserversource-example
spec:
  serviceAccountName: events-sa
  mode: Resource
  resources:
    - apiVersion: v1
      kind: Event
  sink:
    ref:
      apiVersion: v1
      kind: Service
      name: event-display
`) as { metadata: { name: string; namespace: string }; spec: unknown };
    const spec = apiServerSourceKind.spec.parse(doc.spec);
    const resource = { apiVersion: 'sources.knative.dev/v1', kind: 'ApiServerSource', metadata: doc.metadata, spec };
    apiServerSourceKind.defaults?.(resource, undefined as never);
    assert.equal(resource.spec.sink.ref?.namespace, 'apiserversource-example', 'sink ref defaults to the source namespace');
    assert.equal(resource.spec.mode, 'Resource');
  });
});
