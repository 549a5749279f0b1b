import assert from 'node:assert/strict';
import { parseAllDocuments } from 'yaml';
import { createSluiceKinds } from '../../src/kinds.js';
import { parseResourcesText } from '../../src/resources/index.js';

// Checks shared by the plain manifests and the rendered Helm chart: what a Sluice
// deployment needs to actually work, not just to parse.

export type Obj = Record<string, unknown>;

export interface Container {
  name: string;
  image: string;
  args?: string[];
  env?: Array<{ name: string; value?: string; valueFrom?: Obj }>;
  ports?: Array<{ name?: string; containerPort: number }>;
  livenessProbe?: { httpGet?: { path: string; port: string | number } };
  readinessProbe?: { httpGet?: { path: string; port: string | number } };
  resources?: { requests?: Obj; limits?: Obj };
  securityContext?: Obj;
  volumeMounts?: Array<{ name: string; mountPath: string; readOnly?: boolean }>;
}

interface PodSpec {
  serviceAccountName?: string;
  securityContext?: Obj;
  terminationGracePeriodSeconds?: number;
  containers: Container[];
  volumes?: Array<{ name: string; configMap?: { name: string }; emptyDir?: Obj; persistentVolumeClaim?: Obj; secret?: Obj }>;
}

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

/** Parses multi-document YAML, failing on any syntax error; empty documents are dropped. */
export function parseDocs(text: string, where: string): Obj[] {
  const docs = parseAllDocuments(text);
  const out: Obj[] = [];
  for (const [i, d] of docs.entries()) {
    assert.equal(d.errors.length, 0, `${where}#${i + 1}: ${d.errors.map((e) => e.message).join('; ')}`);
    const v = d.toJS() as unknown;
    if (v !== null && v !== undefined) out.push(v as Obj);
  }
  return out;
}

function one(docs: Obj[], kind: string): Obj {
  const found = docs.filter((d) => d.kind === kind);
  assert.equal(found.length, 1, `exactly one ${kind}`);
  return found[0]!;
}

function name(o: Obj): string {
  return String((o.metadata as Obj | undefined)?.name);
}

function argValue(args: string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i === -1 ? undefined : args[i + 1];
}

/** The Sluice resources embedded in a ConfigMap validate with the same registry `sluice start` uses. */
export function checkResourcesYaml(text: string, where: string): number {
  const loaded = parseResourcesText(text, where, { registry: createSluiceKinds() });
  assert.deepEqual(loaded.errors.map((e) => e.message), [], `${where}: the resources validate`);
  assert.ok(loaded.resources.length > 0, `${where}: at least one resource`);
  return loaded.resources.length;
}

function allows(rules: Rule[], group: string, resource: string, verbs: string[]): boolean {
  return verbs.every((verb) =>
    rules.some((r) => r.apiGroups.includes(group) && (r.resources.includes(resource) || r.resources.includes('*')) && (r.verbs.includes(verb) || r.verbs.includes('*'))),
  );
}

/** Everything a working Sluice deployment needs, checked on parsed Kubernetes objects. */
export function checkSluiceManifests(docs: Obj[]): { container: Container; deployment: Obj } {
  for (const d of docs) {
    assert.ok(typeof d.apiVersion === 'string' && d.apiVersion, `apiVersion on ${JSON.stringify(d).slice(0, 80)}`);
    assert.ok(typeof d.kind === 'string' && d.kind, 'kind');
    assert.ok(name(d) && name(d) !== 'undefined', `metadata.name on ${String(d.kind)}`);
  }

  const deployment = one(docs, 'Deployment');
  assert.equal(deployment.apiVersion, 'apps/v1');
  const spec = deployment.spec as { replicas?: number; selector: { matchLabels: Record<string, string> }; template: { metadata: { labels: Record<string, string> }; spec: PodSpec } };
  const podLabels = spec.template.metadata.labels;
  for (const [k, v] of Object.entries(spec.selector.matchLabels)) assert.equal(podLabels[k], v, `pod label ${k} matches the selector`);
  const pod = spec.template.spec;
  const c = pod.containers.find((x) => x.name === 'sluice') ?? pod.containers[0]!;

  // Image and command line.
  assert.match(c.image, /^[a-z0-9./_-]+(:[A-Za-z0-9._-]+)?$/, `image ${c.image}`);
  const args = (c.args ?? []).map(String);
  assert.equal(args[0], 'start', 'runs `sluice start`');
  const resourcesPath = argValue(args, '-f') ?? argValue(args, '--file');
  assert.ok(resourcesPath, '-f names the resources');
  assert.equal(argValue(args, '--admin-host'), '0.0.0.0', 'the admin port is reachable by the kubelet probes');

  // Ports and probes: health on the admin port, events on the ingress port.
  const adminPort = Number(argValue(args, '--admin-port') ?? 9090);
  const ingressPort = Number(argValue(args, '--port') ?? 8080);
  const ports = c.ports ?? [];
  const portNumber = (p: string | number) => (typeof p === 'number' ? p : ports.find((x) => x.name === p)?.containerPort);
  assert.ok(ports.some((p) => p.containerPort === adminPort), `container port ${adminPort} (admin)`);
  assert.ok(ports.some((p) => p.containerPort === ingressPort), `container port ${ingressPort} (ingress)`);
  assert.equal(c.livenessProbe?.httpGet?.path, '/healthz');
  assert.equal(portNumber(c.livenessProbe!.httpGet!.port), adminPort, 'liveness on the admin port');
  assert.equal(c.readinessProbe?.httpGet?.path, '/readyz');
  assert.equal(portNumber(c.readinessProbe!.httpGet!.port), adminPort, 'readiness on the admin port');

  // Resources and security.
  for (const k of ['requests', 'limits'] as const) {
    assert.ok(c.resources?.[k]?.cpu && c.resources[k].memory, `resources.${k} with cpu and memory`);
  }
  const podSec = pod.securityContext ?? {};
  const sec = c.securityContext ?? {};
  assert.ok(podSec.runAsNonRoot === true || sec.runAsNonRoot === true, 'runAsNonRoot');
  const uid = sec.runAsUser ?? podSec.runAsUser;
  assert.ok(uid === undefined || Number(uid) !== 0, 'not uid 0');
  assert.equal(sec.allowPrivilegeEscalation, false, 'no privilege escalation');
  assert.deepEqual((sec.capabilities as { drop?: string[] } | undefined)?.drop, ['ALL'], 'capabilities dropped');
  assert.ok((pod.terminationGracePeriodSeconds ?? 30) > 30, 'the grace period outlasts the 30s drain');
  for (const e of c.env ?? []) {
    // `sluice start` reads SLUICE_* variables as flag values: an empty one is an error, not "unset".
    if (e.valueFrom === undefined) assert.ok(e.value !== undefined && e.value !== '', `env ${e.name} is not empty`);
  }

  // The ConfigMap is mounted where -f reads, and its resources validate.
  const mounts = c.volumeMounts ?? [];
  const volumes = pod.volumes ?? [];
  const resMount = mounts.find((m) => m.mountPath === resourcesPath);
  assert.ok(resMount, `a volume is mounted at ${resourcesPath}`);
  const resVolume = volumes.find((v) => v.name === resMount.name);
  const cm = one(docs, 'ConfigMap');
  assert.equal(resVolume?.configMap?.name, name(cm), 'the -f folder is the ConfigMap');
  const data = cm.data as Record<string, string>;
  const files = Object.keys(data).filter((k) => /\.ya?ml$/.test(k));
  assert.ok(files.length > 0, 'the ConfigMap holds a .yaml file');
  for (const f of files) checkResourcesYaml(data[f]!, `ConfigMap ${name(cm)} ${f}`);
  // readOnlyRootFilesystem: the data dir must be a volume.
  if (sec.readOnlyRootFilesystem === true) {
    const dataDir = argValue(args, '--data-dir');
    assert.ok(dataDir && mounts.some((m) => m.mountPath === dataDir && !m.readOnly), `--data-dir ${String(dataDir)} is a writable volume`);
  }
  for (const m of mounts) assert.ok(volumes.some((v) => v.name === m.name), `volume ${m.name} exists`);

  // Identity and RBAC: ApiServerSource list/watch, the scaler's deployments/scale get/patch.
  const sa = one(docs, 'ServiceAccount');
  assert.equal(pod.serviceAccountName, name(sa), 'the pod runs as the ServiceAccount');
  const role = one(docs, 'ClusterRole');
  const rules = role.rules as Rule[];
  assert.ok(allows(rules, '', 'events', ['list', 'watch']), 'ApiServerSource: list/watch events');
  assert.ok(allows(rules, '', 'namespaces', ['list', 'watch']), 'ApiServerSource: list/watch namespaces (namespaceSelector)');
  assert.ok(allows(rules, '', 'endpoints', ['get', 'list', 'watch']), 'endpoints');
  assert.ok(allows(rules, 'apps', 'deployments', ['get', 'list', 'watch']), 'deployments get/list/watch');
  assert.ok(allows(rules, 'apps', 'deployments/scale', ['get', 'patch']), 'scaler: deployments/scale get/patch');
  assert.ok(!rules.some((r) => r.resources.includes('secrets')), 'no access to Secrets');
  const binding = one(docs, 'ClusterRoleBinding');
  const roleRef = binding.roleRef as { kind: string; name: string };
  assert.deepEqual([roleRef.kind, roleRef.name], ['ClusterRole', name(role)]);
  const subjects = binding.subjects as Array<{ kind: string; name: string; namespace?: string }>;
  const saNs = (sa.metadata as Obj).namespace;
  assert.ok(
    subjects.some((s) => s.kind === 'ServiceAccount' && s.name === name(sa) && (saNs === undefined || s.namespace === saNs)),
    'bound to the ServiceAccount',
  );

  // Services select the pods and reach the ingress and admin ports.
  const services = docs.filter((d) => d.kind === 'Service');
  const targets = new Set<number>();
  for (const s of services) {
    const ss = s.spec as { selector: Record<string, string>; ports: Array<{ port: number; targetPort: string | number }> };
    for (const [k, v] of Object.entries(ss.selector)) assert.equal(podLabels[k], v, `Service ${name(s)} selects the pods`);
    for (const p of ss.ports) {
      const n = portNumber(p.targetPort);
      assert.ok(n, `Service ${name(s)} targetPort ${p.targetPort} is a container port`);
      targets.add(n);
    }
  }
  assert.ok(targets.has(ingressPort), 'a Service for the ingress');
  assert.ok(targets.has(adminPort), 'a Service for the admin port (metrics, API)');
  return { container: c, deployment };
}
