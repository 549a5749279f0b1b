import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { request } from 'undici';
import { ContainerSupport, MANAGED_LABEL, OWNER_HOST_LABEL, OWNER_PID_LABEL, RESOURCE_LABEL } from '../../src/container/index.js';
import { silentLogger } from '../../src/observability/logger.js';
import { containersWithLabel, testContainerRuntime, type TestContainerRuntime } from '../helpers/container-image.js';
import { startSink } from '../helpers/sink.js';
import { channelYaml, startSluice, waitUntil } from '../helpers/sluice.js';
import { binaryEvent, resourceStatus } from './e2e-helpers.js';
import { hostname } from 'node:os';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));

async function runtimeOr(t: { skip(msg: string): void }): Promise<TestContainerRuntime | undefined> {
  const rt = await testContainerRuntime();
  if ('skip' in rt) {
    t.skip(`no container runtime: ${rt.skip}`);
    return undefined;
  }
  return rt;
}

/** A Service as Knative's docs write it: an image, no command; env from a literal, a ConfigMap and a Secret. */
function knativeServiceYaml(name: string, image: string, annotations: Record<string, string> = {}, pullPolicy = 'IfNotPresent'): string {
  return `---
apiVersion: v1
kind: Secret
metadata: {name: ${name}-secret}
stringData: {value: s3cr3t}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: ${name}-config}
data: {GREETING: hello}
---
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: ${name}
spec:
  template:
    metadata:
      annotations:
${Object.entries(annotations).map(([k, v]) => `        ${k}: "${v}"`).join('\n') || '        {}'}
    spec:
      serviceAccountName: default
      containers:
        - image: ${image}
          imagePullPolicy: ${pullPolicy}
          ports:
            - containerPort: 8080
          env:
            - name: REPLY_TYPE
              value: dev.knative.samples.echo
            - name: SECRET_VALUE
              valueFrom:
                secretKeyRef: {name: ${name}-secret, key: value}
          envFrom:
            - configMapRef: {name: ${name}-config}
          resources:
            limits: {memory: 64Mi, cpu: 500m}
          readinessProbe:
            httpGet: {path: /}
`;
}

test('a Knative docs Service with an image scales from zero on the first event, replies, and scales back to zero', async (t) => {
  const rt = await runtimeOr(t);
  if (!rt) return;
  const name = `echo-${randomBytes(3).toString('hex')}`;
  const label = `${RESOURCE_LABEL}=Service.default.${name}`;
  const sink = await startSink();
  const yaml =
    channelYaml('orders') +
    knativeServiceYaml(name, rt.image, {
      'autoscaling.knative.dev/initial-scale': '0',
      'autoscaling.knative.dev/window': '1s',
      'autoscaling.knative.dev/scale-to-zero-pod-retention-period': '1s',
    }) +
    `---
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata: {name: orders-to-${name}}
spec:
  channel: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: orders}
  subscriber:
    ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: ${name}}
  reply:
    uri: ${sink.url}
  delivery: {retry: 0}
`;
  // Listening on every interface: replicas join the runtime's bridge network, published on loopback.
  const sluice = await startSluice(yaml, { host: '0.0.0.0', containers: new ContainerSupport({ choice: rt.cli, logger: silentLogger() }) });
  try {
    const st0 = await resourceStatus(sluice, 'Service', name);
    assert.equal(st0.conditions[0]!.status, 'True', JSON.stringify(st0));
    assert.equal(st0.scaler, 'container');
    assert.deepEqual(st0.ignoredFields, ['spec.template.spec.serviceAccountName']);
    assert.deepEqual(await containersWithLabel(rt.cli, label), [], 'initial-scale 0: no container yet');

    // retry 0: the cold start must not cost the event its only attempt.
    const ev = binaryEvent('first', '{"hello":"container"}');
    const res = await request(`${sluice.url}/channels/default/orders`, { method: 'POST', headers: { ...ev.headers, 'content-type': 'application/json' }, body: ev.body });
    await res.body.dump();
    assert.equal(res.statusCode, 202);
    await sink.waitFor(1, 60_000);
    const reply = sink.requests[0]!;
    assert.equal(reply.headers['ce-type'], 'dev.knative.samples.echo');
    assert.equal(reply.headers['ce-id'], 'reply-first');
    assert.equal(reply.headers['ce-kservice'], name);
    assert.equal(reply.headers['ce-port'], '8080');
    assert.equal(reply.headers['ce-greeting'], 'hello', 'envFrom a ConfigMap');
    assert.equal(reply.headers['ce-secretvalue'], 's3cr3t', 'valueFrom a Secret');
    assert.equal(reply.body.toString(), '{"hello":"container"}');
    assert.equal((await containersWithLabel(rt.cli, label)).length, 1, 'one replica container');
    await waitUntil(async () => ((await resourceStatus(sluice, 'Service', name)).lastColdStart as { durationMs?: number } | undefined)?.durationMs !== undefined, 5000, 'the cold start in the status');

    // Idle: back to zero, and the container is removed.
    await waitUntil(async () => (await containersWithLabel(rt.cli, label)).length === 0, 30_000, 'the replica container to be removed after scale to zero');
    const st2 = await resourceStatus(sluice, 'Service', name);
    assert.equal((st2.replicas as { ready: number }).ready, 0);
  } finally {
    await sluice.close();
    await sink.close();
  }
  assert.deepEqual(await containersWithLabel(rt.cli, label), [], 'nothing left after close');
});

test('imagePullPolicy Never with an absent image: the Service is not Ready with the reason, the rest serves', async (t) => {
  const rt = await runtimeOr(t);
  if (!rt) return;
  const name = `absent-${randomBytes(3).toString('hex')}`;
  const sluice = await startSluice(channelYaml('c') + knativeServiceYaml(name, 'localhost/sluice-test-absent:never', {}, 'Never'), {
    containers: new ContainerSupport({ choice: rt.cli, logger: silentLogger() }),
  });
  try {
    const st = await resourceStatus(sluice, 'Service', name);
    assert.equal(st.conditions[0]!.status, 'False');
    assert.equal(st.conditions[0]!.reason, 'ImagePullFailed');
    assert.match(st.conditions[0]!.message!, /image localhost\/sluice-test-absent:never is not present and imagePullPolicy is Never/);
    const res = await request(`${sluice.url}/channels/default/c`, { method: 'POST', headers: binaryEvent('x').headers, body: 'x' });
    await res.body.dump();
    assert.equal(res.statusCode, 202);
  } finally {
    await sluice.close();
  }
});

test('leftovers: containers labelled by a Sluice that is gone are removed at detection; others are not touched', async (t) => {
  const rt = await runtimeOr(t);
  if (!rt) return;
  const tag = randomBytes(3).toString('hex');
  const deadPid = 4_000_000 + Math.floor(Math.random() * 100_000); // above pid_max: never alive
  const start = (name: string, labels: string[]) => run(rt.cli, ['run', '-d', '--name', name, ...labels.flatMap((l) => ['--label', l]), rt.image, 'sleep', '300']);
  await start(`leftover-${tag}`, [`${MANAGED_LABEL}=true`, `${OWNER_PID_LABEL}=${deadPid}`, `${OWNER_HOST_LABEL}=${hostname()}`]);
  await start(`live-owner-${tag}`, [`${MANAGED_LABEL}=true`, `${OWNER_PID_LABEL}=${process.pid}`, `${OWNER_HOST_LABEL}=${hostname()}`]);
  await start(`not-ours-${tag}`, ['app=someone-else']);
  try {
    const support = new ContainerSupport({ choice: rt.cli, logger: silentLogger() });
    const d = await support.runtime();
    assert.ok(d.runtime);
    const names = (await run(rt.cli, ['ps', '-a', '--format', '{{.Names}}'])).stdout.split('\n');
    assert.ok(!names.includes(`leftover-${tag}`), 'the dead owner\'s container was removed');
    assert.ok(names.includes(`live-owner-${tag}`), 'a live Sluice\'s container stays');
    assert.ok(names.includes(`not-ours-${tag}`), 'an unlabelled container stays');
  } finally {
    // One at a time: a name already gone (the swept leftover) must not keep the others.
    for (const name of [`leftover-${tag}`, `live-owner-${tag}`, `not-ours-${tag}`]) await run(rt.cli, rt.cli === 'podman' ? ['rm', '-f', '-t', '0', name] : ['rm', '-f', name]).catch(() => {});
  }
});

test('SIGKILL of `sluice start`: the replica container it started is stopped and removed by the watchdog', async (t) => {
  const rt = await runtimeOr(t);
  if (!rt) return;
  const name = `victim-${randomBytes(3).toString('hex')}`;
  const label = `${RESOURCE_LABEL}=Service.default.${name}`;
  const dir = mkdtempSync(join(tmpdir(), 'sluice-container-orphans-'));
  const file = join(dir, 'service.yaml');
  writeFileSync(file, knativeServiceYaml(name, rt.image, { 'autoscaling.knative.dev/min-scale': '1' }));
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(root, 'src/cli/main.ts'), 'start', '-f', file, '--port', '0', '--admin-port', '0', '--data-dir', join(dir, 'data'), '--container-runtime', rt.cli, '--log-format', 'json'],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...rt.env } },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  try {
    await waitUntil(async () => (await containersWithLabel(rt.cli, label)).length === 1 || child.exitCode !== null, 60_000, 'the min-scale replica container');
    assert.equal(child.exitCode, null, out);
    child.kill('SIGKILL');
    await exited;
    const killedAt = Date.now();
    await waitUntil(async () => (await containersWithLabel(rt.cli, label)).length === 0, 40_000, 'the orphaned container to be removed');
    t.diagnostic(`container removed ${Date.now() - killedAt} ms after SIGKILL`);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    for (const c of await containersWithLabel(rt.cli, label).catch(() => [])) await run(rt.cli, ['rm', '-f', c]).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
});
