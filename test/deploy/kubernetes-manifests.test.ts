import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkSluiceManifests, parseDocs, type Obj } from './manifest-checks.js';

const DIR = 'deploy/kubernetes';
const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };

const files = readdirSync(DIR).filter((f) => /\.ya?ml$/.test(f));

test('deploy/kubernetes has manifests and every one parses', () => {
  assert.ok(files.length > 0);
  for (const f of files) assert.ok(parseDocs(readFileSync(join(DIR, f), 'utf8'), f).length > 0, f);
});

test('sluice.yaml: Deployment, Services, RBAC and ConfigMap form a working Sluice', () => {
  const docs = parseDocs(readFileSync(join(DIR, 'sluice.yaml'), 'utf8'), 'sluice.yaml');
  const { container } = checkSluiceManifests(docs);
  assert.equal(container.image, `sluice:${pkg.version}`, 'the image tag is the package version');
  // Namespaced objects live in the Namespace the file creates.
  const ns = docs.find((d) => d.kind === 'Namespace');
  assert.ok(ns, 'a Namespace');
  const nsName = (ns.metadata as Obj).name;
  for (const d of docs) {
    if (['Namespace', 'ClusterRole', 'ClusterRoleBinding'].includes(String(d.kind))) continue;
    assert.equal((d.metadata as Obj).namespace, nsName, `${String(d.kind)} ${String((d.metadata as Obj).name)} in namespace ${String(nsName)}`);
  }
  // --public-url points at the ingress Service, so addresses in status are reachable in the cluster.
  const args = container.args ?? [];
  const url = new URL(args[args.indexOf('--public-url') + 1]!);
  const svc = docs.find((d) => d.kind === 'Service' && url.hostname.startsWith(`${String((d.metadata as Obj).name)}.${String(nsName)}.`));
  assert.ok(svc, `${url.hostname} is a Service of this file`);
});
