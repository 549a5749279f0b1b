import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startSink, type RecordingSink } from '../helpers/sink.js';
import { startSluice, waitUntil } from '../helpers/sluice.js';
import { apply, channelAndSubscription, readyOf, secretYaml, statusOf, toChannel, type Sluice } from './e2e-helpers.js';

const EMITTER = fileURLToPath(new URL('./fixtures/container-emitter.mjs', import.meta.url));
const ENV_SERVICE = fileURLToPath(new URL('./fixtures/env-service.mjs', import.meta.url));

const containerSourceYaml = (name: string, sink: string) => `---
apiVersion: sources.knative.dev/v1
kind: ContainerSource
metadata: {name: ${name}, labels: {app: heartbeats}}
spec:
  template:
    spec:
      containers:
        - name: emitter
          image: ghcr.io/example/heartbeats:latest
          command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(EMITTER)}]
          args: ["--then=stay"]
          env:
            - {name: GREETING, value: hello from a container}
            - name: API_TOKEN
              valueFrom: {secretKeyRef: {name: emitter-secret, key: token}}
  ceOverrides: {extensions: {team: blue}}
  sink: ${sink}
`;

/** Running (a zombie counts as gone: it runs nothing). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

const posted = (sink: RecordingSink, i: number) => JSON.parse(sink.requests[i]!.body.toString('utf8')) as { pid: number; greeting: string; token: string; hasOverridesEnv: boolean };

describe('ContainerSource end to end: a local process posting to $K_SINK -> channel -> sink', () => {
  let sink: RecordingSink;
  let bound: RecordingSink;
  let sluice: Sluice;
  const pids: number[] = [];

  before(async () => {
    [sink, bound] = await Promise.all([startSink(), startSink()]);
    sluice = await startSluice(secretYaml('emitter-secret', { token: 's3cr3t' }) + channelAndSubscription('heartbeats', sink.url) + containerSourceYaml('heartbeats', toChannel('heartbeats')));
  });
  after(async () => {
    await sluice.close();
    await Promise.all([sink.close(), bound.close()]);
  });

  test('the process gets K_SINK (the channel), K_CE_OVERRIDES and its env, and its event reaches the subscriber', async () => {
    assert.equal(readyOf(sluice, 'ContainerSource', 'heartbeats')?.status, 'True', JSON.stringify(statusOf(sluice, 'ContainerSource', 'heartbeats')));
    assert.equal(statusOf(sluice, 'ContainerSource', 'heartbeats').sinkUri, `${sluice.url}/channels/default/heartbeats`);
    await sink.waitFor(1, 10_000);
    const r = sink.requests[0]!;
    assert.equal(r.headers['ce-type'], 'dev.sluice.test.started');
    assert.equal(r.headers['ce-team'], 'blue', 'K_CE_OVERRIDES from spec.ceOverrides');
    const body = posted(sink, 0);
    assert.equal(body.greeting, 'hello from a container');
    assert.equal(body.token, 's3cr3t', 'env valueFrom a v1 Secret');
    assert.ok(alive(body.pid), 'the process keeps running');
    pids.push(body.pid);
  });

  test('a SinkBinding on the ContainerSource rebinds K_SINK and K_CE_OVERRIDES (the process is restarted)', async () => {
    await apply(
      sluice,
      `apiVersion: sources.knative.dev/v1
kind: SinkBinding
metadata: {name: bind-heartbeats}
spec:
  subject: {apiVersion: sources.knative.dev/v1, kind: ContainerSource, selector: {matchLabels: {app: heartbeats}}}
  ceOverrides: {extensions: {team: green}}
  sink: {uri: "${bound.url}"}
`,
    );
    assert.equal(readyOf(sluice, 'SinkBinding', 'bind-heartbeats')?.status, 'True');
    assert.equal(statusOf(sluice, 'SinkBinding', 'bind-heartbeats').sinkUri, bound.url);
    await bound.waitFor(1, 10_000);
    assert.equal(bound.requests[0]!.headers['ce-team'], 'green');
    const body = posted(bound, 0);
    pids.push(body.pid);
    assert.notEqual(body.pid, pids[0]);
    await waitUntil(() => !alive(pids[0]!), 10_000, 'the first process to be stopped');
    assert.equal(statusOf(sluice, 'ContainerSource', 'heartbeats').sinkUri, bound.url);
  });

  test('deleting the ContainerSource stops its process; closing Sluice stops the others', async () => {
    const before = sink.requests.length;
    await apply(sluice, containerSourceYaml('second', `{uri: "${sink.url}"}`).replace('app: heartbeats', 'app: other'));
    await sink.waitFor(before + 1, 10_000);
    const second = posted(sink, before).pid;
    await sluice.runtime.delete('ContainerSource', 'default', 'heartbeats');
    await waitUntil(() => !alive(pids[1]!), 10_000, 'the deleted source to be stopped');
    assert.ok(alive(second), 'the other source still runs');
    await sluice.close();
    await waitUntil(() => !alive(second), 10_000, 'no process left after close');
  });
});

describe('SinkBinding on a Service the activator runs as a local process', () => {
  let sluice: Sluice;

  before(async () => {
    sluice = await startSluice(`apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: bound, labels: {team: checkout}}
spec:
  template:
    metadata:
      annotations:
        autoscaling.knative.dev/min-scale: "0"
        autoscaling.knative.dev/initial-scale: "0"
    spec:
      containers:
        - command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(ENV_SERVICE)}]
---
apiVersion: messaging.knative.dev/v1
kind: InMemoryChannel
metadata: {name: orders}
---
apiVersion: sources.knative.dev/v1
kind: SinkBinding
metadata: {name: bind-checkout}
spec:
  subject: {apiVersion: serving.knative.dev/v1, kind: Service, selector: {matchLabels: {team: checkout}}}
  ceOverrides: {extensions: {team: checkout}}
  sink: ${toChannel('orders')}
`);
  });
  after(async () => {
    await sluice.close();
  });

  test('its replicas start with K_SINK (the bound channel) and K_CE_OVERRIDES', async () => {
    assert.equal(readyOf(sluice, 'SinkBinding', 'bind-checkout')?.status, 'True');
    const res = await fetch(`${sluice.url}/services/default/bound/`);
    assert.equal(res.status, 200);
    const env = (await res.json()) as { K_SINK: string; K_CE_OVERRIDES: string };
    assert.equal(env.K_SINK, `${sluice.url}/channels/default/orders`);
    assert.deepEqual(JSON.parse(env.K_CE_OVERRIDES), { extensions: { team: 'checkout' } });
  });
});

describe('a source whose sink is a Service behind the activator', () => {
  let sluice: Sluice;

  before(async () => {
    sluice = await startSluice(`apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: receiver}
spec:
  template:
    metadata:
      annotations:
        autoscaling.knative.dev/min-scale: "0"
        autoscaling.knative.dev/initial-scale: "0"
    spec:
      containers:
        - command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(ENV_SERVICE)}]
---
apiVersion: sources.knative.dev/v1
kind: PingSource
metadata: {name: wake-up}
spec:
  schedule: "* * * * * *"
  sink: {ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: receiver}}
`);
  });
  after(async () => {
    await sluice.close();
  });

  test("emits go through the activator to the Service's replica", async () => {
    assert.equal(readyOf(sluice, 'PingSource', 'wake-up')?.status, 'True', JSON.stringify(statusOf(sluice, 'PingSource', 'wake-up')));
    assert.equal(statusOf(sluice, 'PingSource', 'wake-up').sinkUri, `${sluice.url}/services/default/receiver`);
    let last: Record<string, string> | null = null;
    await waitUntil(
      async () => {
        const res = await fetch(`${sluice.url}/services/default/receiver/`);
        last = ((await res.json()) as { last: Record<string, string> | null }).last;
        return last !== null;
      },
      10_000,
      'a ping at the replica',
    );
    assert.equal(last!['ce-type'], 'dev.knative.sources.ping');
    assert.equal(last!['ce-source'], '/apis/v1/namespaces/default/pingsources/wake-up');
  });
});
