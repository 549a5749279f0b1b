import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { checkResourcesYaml, checkSluiceManifests, parseDocs, type Obj } from './manifest-checks.js';

const CHART = 'deploy/helm/sluice';
const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
const chart = parse(readFileSync(join(CHART, 'Chart.yaml'), 'utf8')) as Obj;
const values = parse(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as Obj;
const templates = new Map(readdirSync(join(CHART, 'templates')).map((f) => [f, readFileSync(join(CHART, 'templates', f), 'utf8')]));

/** `helm` from PATH, when this machine has one (it is not in Debian's archive). */
const helm = spawnSync('helm', ['version', '--short'], { encoding: 'utf8' }).status === 0;

test('Chart.yaml: a v2 application chart at the package version', () => {
  assert.equal(chart.apiVersion, 'v2');
  assert.equal(chart.name, 'sluice');
  assert.equal(chart.type, 'application');
  assert.match(String(chart.version), /^\d+\.\d+\.\d+/);
  assert.equal(chart.appVersion, pkg.version);
});

test('values.yaml: NATS/Redis URLs, replicas, default channel, admin token Secret, resources', () => {
  const v = values as {
    replicaCount: number;
    image: { repository: string; tag: string };
    nats: { url: string };
    redis: { url: string };
    defaultChannel: string;
    adminToken: { secretName: string; key: string };
    resources: { requests: Obj; limits: Obj };
    resourcesYaml: string;
  };
  assert.ok(Number.isInteger(v.replicaCount) && v.replicaCount >= 1);
  assert.ok(v.image.repository && v.image.tag);
  assert.equal(typeof v.nats.url, 'string');
  assert.equal(typeof v.redis.url, 'string');
  assert.ok(['InMemoryChannel', 'NatsJetStreamChannel', 'RedisChannel'].includes(v.defaultChannel), v.defaultChannel);
  assert.equal(typeof v.adminToken.secretName, 'string');
  assert.ok(v.resources.requests.cpu && v.resources.limits.memory);
  checkResourcesYaml(v.resourcesYaml, 'values.yaml resourcesYaml');
});

/** Whether `path` (a.b.c) names a key of values.yaml. */
function hasValue(path: string[]): boolean {
  let at: unknown = values;
  for (const key of path) {
    if (at === null || typeof at !== 'object' || !(key in at)) return false;
    at = (at as Obj)[key];
  }
  return true;
}

test('templates reference only keys that values.yaml defines, and only defined helpers', () => {
  const defined = new Set<string>();
  for (const text of templates.values()) for (const m of text.matchAll(/\{\{-?\s*define\s+"([^"]+)"/g)) defined.add(m[1]!);
  let refs = 0;
  for (const [file, text] of templates) {
    for (const m of text.matchAll(/\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)/g)) {
      refs++;
      const path = m[1]!.slice(1).split('.');
      assert.ok(hasValue(path), `${file}: .Values.${path.join('.')} is not in values.yaml`);
    }
    for (const m of text.matchAll(/\binclude\s+"([^"]+)"/g)) assert.ok(defined.has(m[1]!), `${file}: include "${m[1]}" has a define`);
  }
  assert.ok(refs > 20, `${refs} references checked`);
});

test('template blocks are balanced (every if/with/range/define has its end)', () => {
  for (const [file, text] of templates) {
    const open = [...text.matchAll(/\{\{-?\s*(if|with|range|define)\b/g)].length;
    const close = [...text.matchAll(/\{\{-?\s*end\s*-?\}\}/g)].length;
    assert.equal(open, close, `${file}: ${open} blocks opened, ${close} closed`);
  }
});

test('the Deployment template: probes on the admin port, non-root, ConfigMap at the -f path, the URLs and token wired', () => {
  const d = templates.get('deployment.yaml')!;
  assert.match(d, /livenessProbe:\s*\n\s*httpGet: \{path: \/healthz, port: admin\}/);
  assert.match(d, /readinessProbe:\s*\n\s*httpGet: \{path: \/readyz, port: admin\}/);
  assert.match(d, /- \{name: admin, containerPort: 9090/);
  assert.match(d, /runAsNonRoot: true/);
  assert.match(d, /allowPrivilegeEscalation: false/);
  assert.match(d, /- -f\n\s*- \/etc\/sluice\/resources\n/);
  assert.match(d, /\{name: resources, mountPath: \/etc\/sluice\/resources, readOnly: true\}/);
  assert.match(d, /configMap: \{name: \{\{ include "sluice.fullname" \. \}\}-resources\}/);
  assert.match(templates.get('configmap.yaml')!, /name: \{\{ include "sluice.fullname" \. \}\}-resources/);
  assert.match(d, /SLUICE_NATS_URL/);
  assert.match(d, /SLUICE_REDIS_URL/);
  assert.match(d, /SLUICE_ADMIN_TOKEN/);
  assert.match(d, /replicas: \{\{ \.Values\.replicaCount \}\}/);
  // Empty URLs must not become empty variables (`sluice start` rejects an empty --nats-url).
  assert.match(d, /\{\{- with \.Values\.nats\.url \}\}\s*\n\s*- \{name: SLUICE_NATS_URL/);
  assert.match(d, /\{\{- with \.Values\.redis\.url \}\}\s*\n\s*- \{name: SLUICE_REDIS_URL/);
  const rbac = templates.get('rbac.yaml')!;
  assert.match(rbac, /resources: \["deployments\/scale"\]\s*\n\s*verbs: \[[^\]]*"patch"/);
  assert.match(rbac, /verbs: \["get", "list", "watch"\]/);
});

test('helm lint and helm template render a working Sluice', { skip: helm ? false : 'helm is not on PATH (not packaged by Debian): the rendered-output checks are skipped' }, () => {
  const lint = spawnSync('helm', ['lint', CHART], { encoding: 'utf8' });
  assert.equal(lint.status, 0, lint.stdout + lint.stderr);
  const render = (set: string[]) => {
    const r = spawnSync('helm', ['template', 'demo', CHART, '--namespace', 'sluice', ...set.flatMap((s) => ['--set', s])], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return parseDocs(r.stdout, 'helm template');
  };
  checkSluiceManifests(render([]));
  const { container, deployment } = checkSluiceManifests(
    render(['replicaCount=3', 'defaultChannel=NatsJetStreamChannel', 'nats.url=nats://nats.nats.svc:4222', 'adminToken.secretName=sluice-admin']),
  );
  assert.equal((deployment.spec as { replicas: number }).replicas, 3);
  const env = new Map((container.env ?? []).map((e) => [e.name, e]));
  assert.equal(env.get('SLUICE_NATS_URL')?.value, 'nats://nats.nats.svc:4222');
  assert.ok(env.get('SLUICE_ADMIN_TOKEN')?.valueFrom);
  const args = container.args ?? [];
  assert.equal(args[args.indexOf('--default-channel') + 1], 'NatsJetStreamChannel');
});
