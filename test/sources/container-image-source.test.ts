import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ContainerSupport } from '../../src/container/index.js';
import { NotReadyError } from '../../src/errors.js';
import { silentLogger } from '../../src/observability/logger.js';
import { ContainerSource } from '../../src/sources/container/index.js';
import { containersWithLabel, testContainerRuntime, type TestContainerRuntime } from '../helpers/container-image.js';
import { startSink, type RecordingSink } from '../helpers/sink.js';
import { startSluice, waitUntil } from '../helpers/sluice.js';
import { apply, channelAndSubscription, readyOf, statusOf, toChannel, type Sluice } from './e2e-helpers.js';

// ContainerSources whose container has an image run through the container runtime
// (Podman here, Docker elsewhere), as Knative's YAML is written. The image is the one
// test/helpers/container-image.ts builds: `/bin/emit` posts a CloudEvent to $K_SINK every
// $INTERVAL seconds, with type $EVENT_TYPE and data {"n":i,"overrides":"<K_CE_OVERRIDES>"}.
// Names carry a random suffix: other test files run containers on the same engine.

const suffix = randomBytes(3).toString('hex');
const label = (name: string) => `sluice.dev/resource=ContainerSource.default.${name}`;

interface Emitted {
  n: number;
  overrides: string;
}
const dataOf = (sink: RecordingSink, i: number) => JSON.parse(sink.requests[i]!.body.toString('utf8')) as Emitted;

/** As the Knative docs write a ContainerSource: an image, `args`, env, ceOverrides and a sink. */
const docsStyle = (name: string, image: string, channel: string) => `---
apiVersion: sources.knative.dev/v1
kind: ContainerSource
metadata:
  name: ${name}
spec:
  template:
    spec:
      containers:
        - image: ${image}
          name: heartbeats
          imagePullPolicy: IfNotPresent
          # The image's CMD is an HTTP server; args replace it, as in Kubernetes.
          args: [/bin/emit]
          env:
            - name: POD_NAME
              value: "mypod"
            - name: INTERVAL
              value: "0.2"
          ports:
            - containerPort: 8080
  ceOverrides:
    extensions:
      team: blue
  sink:
    ref:
      apiVersion: messaging.knative.dev/v1
      kind: InMemoryChannel
      name: ${channel}
`;

/** `command` with an image runs as a process by default; the annotation makes it a container. Env from a Secret and a ConfigMap. */
const fromObjects = (name: string, image: string, channel: string) => `---
apiVersion: v1
kind: Secret
metadata: {name: ${name}-secret}
stringData:
  token: s3cr3t
---
apiVersion: v1
kind: ConfigMap
metadata: {name: ${name}-config}
data:
  prefix: dev.example.configured
  suffix: fromenvfrom
---
apiVersion: sources.knative.dev/v1
kind: ContainerSource
metadata:
  name: ${name}
  annotations:
    sluice.dev/runner: container
spec:
  template:
    spec:
      serviceAccountName: heartbeats
      terminationGracePeriodSeconds: 1
      containers:
        - image: ${image}
          command: [/bin/emit]
          envFrom:
            - configMapRef: {name: ${name}-config}
              prefix: CM_
          env:
            - name: EVENT_PREFIX
              valueFrom: {configMapKeyRef: {name: ${name}-config, key: prefix}}
            - name: TOKEN
              valueFrom: {secretKeyRef: {name: ${name}-secret, key: token}}
            - name: EVENT_TYPE
              value: $(EVENT_PREFIX).$(TOKEN).$(CM_suffix)
            - name: INTERVAL
              value: "0.2"
          resources:
            limits: {memory: 64Mi}
            requests: {cpu: 100m}
  sink: ${toChannel(channel)}
`;

const absentImage = (name: string) => `---
apiVersion: sources.knative.dev/v1
kind: ContainerSource
metadata: {name: ${name}}
spec:
  template:
    spec:
      containers:
        - image: localhost/sluice-no-such-image:${suffix}
          imagePullPolicy: Never
  sink: {uri: "http://127.0.0.1:9/"}
`;

describe('ContainerSource from an image, on the network the server picks when it listens on 127.0.0.1 (host)', () => {
  let rt: TestContainerRuntime | { skip: string };
  let sink: RecordingSink;
  let sluice: Sluice | undefined;
  const docs = `cis-docs-${suffix}`;
  const objects = `cis-env-${suffix}`;
  const absent = `cis-absent-${suffix}`;

  before(async () => {
    rt = await testContainerRuntime();
    if ('skip' in rt) return;
    sink = await startSink();
    // startSluice listens on 127.0.0.1: the server gives containers the host's network.
    sluice = await startSluice(channelAndSubscription(`ch-${docs}`, sink.url) + docsStyle(docs, rt.image, `ch-${docs}`), { containerRuntime: rt.cli });
  });
  after(async () => {
    await sluice?.close();
    await sink?.close();
  });

  test('a Knative docs-style ContainerSource (image, args, env, ceOverrides) delivers through a channel to the subscriber', async (t) => {
    if ('skip' in rt) return t.skip(rt.skip);
    const s = sluice!;
    assert.equal(s.containers.network, 'host');
    await waitUntil(() => readyOf(s, 'ContainerSource', docs)?.status === 'True', 120_000, `${docs} Ready: ${JSON.stringify(statusOf(s, 'ContainerSource', docs))}`);
    await sink.waitFor(2, 60_000);
    const r = sink.requests[0]!;
    assert.equal(r.headers['ce-type'], 'dev.sluice.test.container');
    assert.equal(r.headers['ce-source'], '/container-source');
    assert.deepEqual(JSON.parse(dataOf(sink, 0).overrides), { extensions: { team: 'blue' } }, 'K_CE_OVERRIDES reached the container');
    const st = statusOf(s, 'ContainerSource', docs) as unknown as Record<string, unknown>;
    assert.equal(st.runner, 'container');
    assert.equal(st.image, rt.image);
    assert.equal(st.restarts, 0);
    assert.equal(st.sinkUri, `${s.url}/channels/default/ch-${docs}`);
    assert.deepEqual(st.ignored, ['spec.template.spec.containers[0].ports']);
    assert.equal((await containersWithLabel(rt.cli, label(docs))).length, 1, 'one container of this source');
  });

  test('env from a Secret (secretKeyRef), a ConfigMap (configMapKeyRef, envFrom) and $(VAR) reach the container', async (t) => {
    if ('skip' in rt) return t.skip(rt.skip);
    const s = sluice!;
    const cli = rt.cli;
    const other = await startSink();
    try {
      await apply(s, channelAndSubscription(`ch-${objects}`, other.url) + fromObjects(objects, rt.image, `ch-${objects}`));
      await other.waitFor(1, 120_000);
      assert.equal(other.requests[0]!.headers['ce-type'], 'dev.example.configured.s3cr3t.fromenvfrom');
      assert.equal(dataOf(other, 0).overrides, '', 'no ceOverrides, no K_CE_OVERRIDES');
      const st = statusOf(s, 'ContainerSource', objects) as unknown as Record<string, unknown>;
      assert.equal(st.runner, 'container', 'the annotation makes command + image a container');
      assert.deepEqual(st.ignored, ['spec.template.spec.serviceAccountName', 'spec.template.spec.containers[0].resources.requests']);
      assert.equal(readyOf(s, 'ContainerSource', objects)?.status, 'True');
      // A changed ConfigMap value restarts the container with the new environment.
      await apply(s, `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ${objects}-config}\ndata:\n  prefix: dev.example.changed\n  suffix: fromenvfrom\n`);
      await waitUntil(() => other.requests.some((r) => r.headers['ce-type'] === 'dev.example.changed.s3cr3t.fromenvfrom'), 60_000, 'an event with the new prefix');
      await waitUntil(async () => (await containersWithLabel(cli, label(objects))).length === 1, 60_000, 'the old container removed');
    } finally {
      await other.close();
    }
  });

  test('imagePullPolicy Never with an absent image: not Ready (ImagePullFailed, naming the image); the rest runs on', async (t) => {
    if ('skip' in rt) return t.skip(rt.skip);
    const s = sluice!;
    await apply(s, absentImage(absent));
    await waitUntil(() => readyOf(s, 'ContainerSource', absent)?.status === 'False', 60_000, `${absent} not Ready`);
    const ready = readyOf(s, 'ContainerSource', absent)!;
    assert.equal(ready.reason, 'ImagePullFailed');
    assert.match(ready.message ?? '', new RegExp(`image localhost/sluice-no-such-image:${suffix} is not present and imagePullPolicy is Never`));
    assert.deepEqual(await containersWithLabel(rt.cli, label(absent)), []);
    const before = sink.requests.length;
    await sink.waitFor(before + 1, 30_000);
    assert.equal(readyOf(s, 'ContainerSource', docs)?.status, 'True', 'the other source still runs');
  });

  test('deleting a ContainerSource removes its container; closing Sluice removes the others', async (t) => {
    if ('skip' in rt) return t.skip(rt.skip);
    const s = sluice!;
    const cli = rt.cli;
    assert.equal((await containersWithLabel(cli, label(docs))).length, 1);
    await s.runtime.delete('ContainerSource', 'default', docs);
    // The emitter (a shell as PID 1) ignores SIGTERM: it goes after the default 10 s grace.
    await waitUntil(async () => (await containersWithLabel(cli, label(docs))).length === 0, 40_000, `no container labelled ${label(docs)}`);
    await s.runtime.delete('ContainerSource', 'default', absent);
    assert.equal((await containersWithLabel(cli, label(objects))).length, 1, 'the other source still has its container');
    await s.close();
    // terminationGracePeriodSeconds: 1 is honoured.
    await waitUntil(async () => (await containersWithLabel(cli, label(objects))).length === 0, 60_000, `no container labelled ${label(objects)} after close`);
  });
});

describe('ContainerSource from an image, on the bridge network (the server listens on every interface)', () => {
  test('K_SINK is rewritten to the host gateway: events reach the channel and the subscriber', async (t) => {
    const rt = await testContainerRuntime();
    if ('skip' in rt) return t.skip(rt.skip);
    const name = `cis-bridge-${suffix}`;
    const sink = await startSink();
    const sluice = await startSluice(channelAndSubscription(`ch-${name}`, sink.url) + docsStyle(name, rt.image, `ch-${name}`).replace('spec:\n  template:\n    spec:\n', 'spec:\n  template:\n    spec:\n      terminationGracePeriodSeconds: 1\n'), {
      host: '0.0.0.0',
      containerRuntime: rt.cli,
    });
    try {
      assert.equal(sluice.containers.network, 'bridge');
      await sink.waitFor(1, 120_000);
      assert.deepEqual(JSON.parse(dataOf(sink, 0).overrides), { extensions: { team: 'blue' } });
      assert.equal(readyOf(sluice, 'ContainerSource', name)?.status, 'True');
    } finally {
      await sluice.close();
      await sink.close();
    }
    await waitUntil(async () => (await containersWithLabel(rt.cli, label(name))).length === 0, 60_000, `no container labelled ${label(name)} after close`);
  });
});

describe('ContainerSource class with an image', () => {
  test('a container that exits is restarted with backoff; its exit code and last stderr line are kept', async (t) => {
    const rt = await testContainerRuntime();
    if ('skip' in rt) return t.skip(rt.skip);
    const name = `cis-crash-${suffix}`;
    const source = new ContainerSource({
      name,
      namespace: 'default',
      spec: {
        template: { spec: { containers: [{ image: rt.image, command: ['/bin/sh', '-c', 'echo "run $(RUN_NOTE)" >&2; exit 3'], env: [{ name: 'RUN_NOTE', value: 'failed' }] }] } },
        sink: { uri: 'http://127.0.0.1:9/' },
      },
      annotations: { 'sluice.dev/runner': 'container' },
      sinkUrl: 'http://127.0.0.1:9/',
      containers: new ContainerSupport({ choice: rt.cli, logger: silentLogger(), network: 'host' }),
      restartInitialMs: 50,
      restartMaxMs: 200,
      stopGraceMs: 1000,
    });
    try {
      await source.start(async () => {});
      assert.equal(source.runner, 'container');
      await waitUntil(() => source.restarts >= 2, 60_000, 'two restarts');
      assert.equal(source.lastExit?.code, 3);
      assert.equal(source.lastStderr, 'run failed');
    } finally {
      await source.stop();
    }
    await waitUntil(async () => (await containersWithLabel(rt.cli, label(name))).length === 0, 60_000, `no container labelled ${label(name)} after stop()`);
  });
});

describe('ContainerSource env sources for a process (no runtime needed)', () => {
  test('configMapKeyRef, envFrom and secretKeyRef resolve from the lookup; a missing one names the object', async () => {
    const sink = await startSink();
    const lookup = {
      secret: (ns: string, n: string) => (ns === 'demo' && n === 'creds' ? { token: Buffer.from('s3cr3t') } : undefined),
      configMap: (ns: string, n: string) => (ns === 'demo' && n === 'settings' ? { greeting: 'hello', mode: 'fast' } : undefined),
    };
    // Posts one event whose type shows the three variables, then stays.
    const script = `fetch(process.env.K_SINK, { method: 'POST', headers: { 'ce-type': [process.env.GREETING, process.env.TOKEN, process.env.CFG_mode].join('.'), 'ce-id': '1', 'ce-source': '/p', 'ce-specversion': '1.0' }, body: '{}' }).then(() => setInterval(() => {}, 1e6));`;
    const run = (env: unknown[]) =>
      new ContainerSource({
        name: 'p',
        namespace: 'demo',
        spec: { template: { spec: { containers: [{ command: [process.execPath, '-e', script], envFrom: [{ configMapRef: { name: 'settings' }, prefix: 'CFG_' }], env: env as never }] } }, sink: { uri: sink.url } },
        sinkUrl: sink.url,
        envLookup: lookup,
        stopGraceMs: 500,
      });
    const ok = run([
      { name: 'GREETING', valueFrom: { configMapKeyRef: { name: 'settings', key: 'greeting' } } },
      { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'creds', key: 'token' } } },
    ]);
    try {
      assert.equal(ok.runner, 'process');
      await ok.start(async () => {});
      await sink.waitFor(1, 15_000);
      assert.equal(sink.requests[0]!.headers['ce-type'], 'hello.s3cr3t.fast');
      const missing = run([{ name: 'GREETING', valueFrom: { configMapKeyRef: { name: 'nope', key: 'greeting' } } }]);
      await assert.rejects(missing.start(async () => {}), (err: unknown) => {
        assert.ok(err instanceof NotReadyError);
        assert.match(err.message, /ContainerSource demo\/p: env GREETING: ConfigMap demo\/nope does not exist/);
        assert.equal(missing.failureReason(err), 'ConfigMapNotFound');
        return true;
      });
      const noSecret = run([{ name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'creds', key: 'other' } } }]);
      await assert.rejects(noSecret.start(async () => {}), (err: unknown) => noSecret.failureReason(err) === 'SecretNotFound' && /Secret demo\/creds has no key "other"/.test((err as Error).message));
    } finally {
      await ok.stop();
      await sink.close();
    }
  });

  test('a command with an image is a process unless annotated: a command missing on the host says how to run the image', async () => {
    const source = new ContainerSource({
      name: 'hint',
      namespace: 'demo',
      spec: { template: { spec: { containers: [{ image: 'localhost/adapter:1', command: ['/bin/sluice-no-such-emit'] }] } }, sink: { uri: 'http://127.0.0.1:9/' } },
      sinkUrl: 'http://127.0.0.1:9/',
    });
    assert.equal(source.runner, 'process');
    assert.deepEqual(source.ignored, ['spec.template.spec.containers[0].image']);
    await assert.rejects(source.start(async () => {}), (err: unknown) => {
      assert.match((err as Error).message, /command "\/bin\/sluice-no-such-emit" is not an executable file \(a command with an image runs as a local process; annotate sluice\.dev\/runner: container to run it in image localhost\/adapter:1\)/);
      assert.equal(source.failureReason(err), 'CannotRun');
      return true;
    });
  });
});
