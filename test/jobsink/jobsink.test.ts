import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { parseResourcesText } from '../../src/resources/index.js';
import { createSluiceKinds } from '../../src/kinds.js';
import { buildRunArgs, type ContainerRuntime } from '../../src/container/index.js';
import type { ResourceStatus } from '../../src/resources/types.js';
import type { JobRecord } from '../../src/jobsink/index.js';
import { startSink, type RecordingSink } from '../helpers/sink.js';
import { startSluice, waitUntil } from '../helpers/sluice.js';

type Sluice = Awaited<ReturnType<typeof startSluice>>;

// JobSinks whose job is a local process (`command`): each event POSTed to the JobSink
// starts one job, which reads the event from $K_EVENT_PATH and posts what it saw to a
// recording sink.

/** A job that posts {id, data, path} of its event to $SINK, sleeps $SLEEP ms, and exits $EXIT. */
const REPORTER = `
const fs = require('fs');
const e = JSON.parse(fs.readFileSync(process.env.K_EVENT_PATH, 'utf8'));
const started = Date.now();
setTimeout(() => {
  fetch(process.env.SINK, { method: 'POST', body: JSON.stringify({ id: e.id, data: e.data, path: process.env.K_EVENT_PATH, started, ended: Date.now(), greeting: process.env.GREETING }) })
    .then(() => { if (process.env.EXIT !== '0') console.error('job failed on purpose'); process.exit(Number(process.env.EXIT)); }, (err) => { console.error(String(err)); process.exit(3); });
}, Number(process.env.SLEEP));
`;

function jobSinkYaml(name: string, sinkUrl: string, o: { exit?: number; sleepMs?: number; backoffLimit?: number; annotations?: Record<string, string> } = {}): string {
  const ann = { 'sluice.dev/job-backoff-seconds': '0.02', ...o.annotations };
  return `---
apiVersion: sinks.knative.dev/v1alpha1
kind: JobSink
metadata:
  name: ${name}
  annotations: ${JSON.stringify(ann)}
spec:
  job:
    spec:
      completions: 1
      parallelism: 1
      ${o.backoffLimit !== undefined ? `backoffLimit: ${o.backoffLimit}` : ''}
      template:
        spec:
          restartPolicy: Never
          containers:
            - name: main
              command: ${JSON.stringify([process.execPath, '-e', REPORTER])}
              env:
                - {name: SINK, value: "${sinkUrl}"}
                - {name: EXIT, value: "${o.exit ?? 0}"}
                - {name: SLEEP, value: "${o.sleepMs ?? 0}"}
                - {name: GREETING, value: "hello"}
`;
}

interface Seen {
  id: string;
  data: unknown;
  path: string;
  started: number;
  ended: number;
  greeting: string;
}
const seen = (sink: RecordingSink): Seen[] => sink.requests.map((r) => JSON.parse(r.body.toString('utf8')) as Seen);

function post(url: string, id: string, data: unknown = { n: id }): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'ce-specversion': '1.0', 'ce-id': id, 'ce-source': 'test', 'ce-type': 'test.job' },
    body: JSON.stringify(data),
  });
}

function statusOf(s: Sluice, name: string): ResourceStatus & { jobs?: { running: number; queued: number; succeeded: number; failed: number }; recentJobs?: JobRecord[]; address?: { url: string } } {
  const r = s.runtime.listResources().find((v) => v.kind === 'JobSink' && v.metadata.name === name);
  assert.ok(r, `JobSink ${name} is listed`);
  return r.status as never;
}

async function jobsOf(s: Sluice, name: string): Promise<{ counts: Record<string, number>; items: JobRecord[] }> {
  const res = await fetch(`${s.adminUrl}/api/v1/jobsinks/default/${name}/jobs`);
  assert.equal(res.status, 200);
  return (await res.json()) as { counts: Record<string, number>; items: JobRecord[] };
}

describe('JobSink with a local process', () => {
  const open: Array<{ close(): Promise<void> }> = [];
  after(async () => {
    for (const c of open.reverse()) await c.close();
  });

  test('each event runs one job that sees its own event; the status counts 3 succeeded', async () => {
    const sink = await startSink();
    open.push(sink);
    const s = await startSluice(jobSinkYaml('logger', sink.url));
    open.push(s);
    const st = statusOf(s, 'logger');
    assert.equal(st.conditions[0]?.status, 'True');
    const url = st.address!.url;
    assert.equal(url, `${s.url}/jobsinks/default/logger`);
    for (const id of ['a', 'b', 'c']) assert.equal((await post(url, id)).status, 202);
    await sink.waitFor(3, 10_000);
    const got = seen(sink).sort((x, y) => x.id.localeCompare(y.id));
    assert.deepEqual(got.map((g) => [g.id, g.data, g.greeting]), [['a', { n: 'a' }, 'hello'], ['b', { n: 'b' }, 'hello'], ['c', { n: 'c' }, 'hello']]);
    // Each job had its own file, removed once the job ended.
    assert.equal(new Set(got.map((g) => g.path)).size, 3);
    await waitUntil(() => statusOf(s, 'logger').jobs?.succeeded === 3, 5000, '3 jobs succeeded');
    await waitUntil(() => got.every((g) => !existsSync(g.path)), 2000, 'event files removed');
    const { counts, items } = await jobsOf(s, 'logger');
    assert.deepEqual(counts, { running: 0, queued: 0, succeeded: 3, failed: 0 });
    assert.equal(items.length, 3);
    for (const j of items) {
      assert.equal(j.state, 'succeeded');
      assert.equal(j.exitCode, 0);
      assert.equal(j.attempts, 1);
      assert.ok(j.durationMs! >= 0 && j.startedAt && j.finishedAt);
      assert.match(j.id, /^[abc]-\d+$/);
    }
    const one = await fetch(`${s.adminUrl}/api/v1/jobsinks/default/logger/jobs/${items[0]!.id}`);
    assert.equal(one.status, 200);
    assert.equal((await fetch(`${s.adminUrl}/api/v1/jobsinks/default/nope/jobs`)).status, 404);
  });

  test('a failing job is recorded failed with its exit code and retried backoffLimit times', async () => {
    const sink = await startSink();
    open.push(sink);
    const s = await startSluice(jobSinkYaml('failing', sink.url, { exit: 1, backoffLimit: 2 }));
    open.push(s);
    assert.equal((await post(`${s.url}/jobsinks/default/failing`, 'f1')).status, 202);
    await waitUntil(() => statusOf(s, 'failing').jobs?.failed === 1, 10_000, 'job failed');
    // 1 attempt + 2 retries, each saw the same event.
    assert.equal(sink.requests.length, 3);
    assert.ok(seen(sink).every((g) => g.id === 'f1'));
    const [job] = (await jobsOf(s, 'failing')).items;
    assert.equal(job!.state, 'failed');
    assert.equal(job!.exitCode, 1);
    assert.equal(job!.attempts, 3);
    assert.equal(job!.reason, 'BackoffLimitExceeded');
    assert.match(job!.message ?? '', /exit code 1: job failed on purpose/);
  });

  test('with at most 1 job at once the jobs do not overlap; a full queue answers 429 with Retry-After', async () => {
    const sink = await startSink();
    open.push(sink);
    const s = await startSluice(jobSinkYaml('serial', sink.url, { sleepMs: 400, annotations: { 'sluice.dev/max-concurrent-jobs': '1', 'sluice.dev/max-queued-jobs': '2' } }));
    open.push(s);
    const url = `${s.url}/jobsinks/default/serial`;
    const codes: number[] = [];
    for (const id of ['s1', 's2', 's3', 's4']) codes.push((await post(url, id)).status);
    // One running, two queued: the fourth does not fit.
    assert.deepEqual(codes, [202, 202, 202, 429]);
    const full = await post(url, 's5');
    assert.equal(full.status, 429);
    assert.equal(full.headers.get('retry-after'), '1');
    assert.equal(((await full.json()) as { reason: string }).reason, 'SLUICE_ERR_JOBSINK_FULL');
    const mid = s.jobSinks.sinks.get('default/serial')!.counts();
    assert.deepEqual([mid.running, mid.queued], [1, 2]);
    await sink.waitFor(3, 10_000);
    await waitUntil(() => statusOf(s, 'serial').jobs?.succeeded === 3, 5000, '3 jobs done');
    const runs = seen(sink).sort((a, b) => a.started - b.started);
    assert.deepEqual(runs.map((r) => r.id), ['s1', 's2', 's3']);
    for (let i = 1; i < runs.length; i++) assert.ok(runs[i]!.started >= runs[i - 1]!.ended, `job ${runs[i]!.id} started after ${runs[i - 1]!.id} ended`);
    // Room again once the queue drained.
    assert.equal((await post(url, 's6')).status, 202);
  });

  test("queued jobs' events count against --max-buffered-bytes: 429 naming it before the count limit, room again once jobs end", async () => {
    const sink = await startSink();
    open.push(sink);
    // Room for about three 20 KiB events in the whole process; the count limit (100 queued) is far off.
    const s = await startSluice(jobSinkYaml('bytes', sink.url, { sleepMs: 300, annotations: { 'sluice.dev/max-concurrent-jobs': '1' } }), { maxBufferedBytes: 70_000 });
    open.push(s);
    const url = `${s.url}/jobsinks/default/bytes`;
    const big = 'x'.repeat(20_000);
    const codes: number[] = [];
    for (const id of ['b1', 'b2', 'b3', 'b4']) codes.push((await post(url, id, { big })).status);
    assert.deepEqual(codes, [202, 202, 202, 429]);
    const full = await post(url, 'b5', { big });
    assert.equal(full.status, 429);
    assert.match(((await full.json()) as { error: string }).error, /--max-buffered-bytes/);
    assert.ok(s.bufferBudget.usedBytes > 60_000, `held ${s.bufferBudget.usedBytes}`);
    await waitUntil(() => statusOf(s, 'bytes').jobs?.succeeded === 3, 10_000, '3 jobs done');
    assert.equal(s.bufferBudget.usedBytes, 0, 'every finished job gave its bytes back');
    assert.equal((await post(url, 'b6', { big })).status, 202);
  });

  test('a redelivered event (same source and id) starts no second job, as Knative names the Job after the event', async () => {
    const sink = await startSink();
    open.push(sink);
    const s = await startSluice(jobSinkYaml('once', sink.url, { sleepMs: 100 }));
    open.push(s);
    const url = `${s.url}/jobsinks/default/once`;
    assert.equal((await post(url, 'd1')).status, 202);
    assert.equal((await post(url, 'd1')).status, 202, 'while the first job runs');
    await waitUntil(() => statusOf(s, 'once').jobs?.succeeded === 1, 10_000, 'the job done');
    assert.equal((await post(url, 'd1')).status, 202, 'after it succeeded');
    // The same id from another source is another event.
    const other = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'ce-specversion': '1.0', 'ce-id': 'd1', 'ce-source': 'elsewhere', 'ce-type': 'test.job' },
      body: '{}',
    });
    assert.equal(other.status, 202);
    await waitUntil(() => statusOf(s, 'once').jobs?.succeeded === 2, 10_000, 'the second event done');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(s.jobSinks.sinks.get('default/once')!.jobs().length, 2, 'two jobs: one per event');
    assert.equal(sink.requests.length, 2);
  });

  test('a JobSink is a Trigger subscriber by ref', async () => {
    const sink = await startSink();
    open.push(sink);
    const s = await startSluice(`${jobSinkYaml('by-trigger', sink.url)}---
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {name: default}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: to-jobs}
spec:
  broker: default
  filter: {attributes: {type: test.job}}
  subscriber:
    ref: {apiVersion: sinks.knative.dev/v1alpha1, kind: JobSink, name: by-trigger}
`);
    open.push(s);
    const trig = s.runtime.listResources().find((v) => v.kind === 'Trigger')!;
    assert.equal((trig.status as ResourceStatus).conditions.find((c) => c.type === 'Ready')?.status, 'True', JSON.stringify(trig.status));
    assert.equal((await post(`${s.url}/default/default`, 't1', { via: 'broker' })).status, 202);
    await sink.waitFor(1, 10_000);
    assert.deepEqual(seen(sink)[0]!.data, { via: 'broker' });
    await waitUntil(() => statusOf(s, 'by-trigger').jobs?.succeeded === 1, 5000, 'job done');
  });

  test('a request that is not a CloudEvent gets 400 and starts no job', async () => {
    const sink = await startSink();
    open.push(sink);
    const s = await startSluice(jobSinkYaml('strict', sink.url));
    open.push(s);
    const res = await fetch(`${s.url}/jobsinks/default/strict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"no":"event"}' });
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { reason: string }).reason, 'SLUICE_ERR_INVALID_EVENT');
    assert.equal((await fetch(`${s.url}/jobsinks/default/missing`, { method: 'POST' })).status, 404);
    assert.deepEqual((await jobsOf(s, 'strict')).items, []);
  });

  test('deleting a JobSink stops its running job and removes its event file', async () => {
    const sink = await startSink();
    open.push(sink);
    const s = await startSluice(jobSinkYaml('long', sink.url, { sleepMs: 60_000 }));
    open.push(s);
    assert.equal((await post(`${s.url}/jobsinks/default/long`, 'l1')).status, 202);
    const js = s.jobSinks.sinks.get('default/long')!;
    await waitUntil(() => js.counts().running === 1, 5000, 'job running');
    const t0 = Date.now();
    await s.runtime.delete('JobSink', 'default', 'long');
    assert.ok(Date.now() - t0 < 5000);
    assert.equal(js.jobs()[0]!.state, 'cancelled');
    assert.equal((await post(`${s.url}/jobsinks/default/long`, 'l2')).status, 404);
    assert.equal(sink.requests.length, 0);
  });
});

describe('JobSink validation', () => {
  test('Knative fields Sluice cannot honour are named', () => {
    const yaml = `apiVersion: sinks.knative.dev/v1alpha1
kind: JobSink
metadata: {name: bad, annotations: {sluice.dev/max-concurrent-jobs: "0"}}
spec:
  job:
    spec:
      parallelism: 3
      template:
        spec:
          containers:
            - name: main
              image: docker.io/library/bash:5
              command: [cat]
              env: [{name: K_EVENT_PATH, value: x}]
`;
    const loaded = parseResourcesText(yaml, 'bad.yaml', { registry: createSluiceKinds() });
    const text = loaded.errors.map((e) => e.message).join('\n');
    assert.match(text, /parallelism/);
    const yaml2 = yaml.replace('      parallelism: 3\n', '');
    const text2 = parseResourcesText(yaml2, 'bad.yaml', { registry: createSluiceKinds() }).errors.map((e) => e.message).join('\n');
    assert.match(text2, /max-concurrent-jobs/);
    assert.match(text2, /K_EVENT_PATH is set by Sluice/);
  });

  test("Knative's own JobSink sample validates", () => {
    const yaml = `apiVersion: sinks.knative.dev/v1alpha1
kind: JobSink
metadata:
  name: job-sink-logger
spec:
  job:
    spec:
      completions: 1
      parallelism: 1
      template:
        spec:
          restartPolicy: Never
          containers:
            - name: main
              image: docker.io/library/bash:5
              command: [ "cat" ]
              args:
                - "/etc/jobsink-event/event"
`;
    const loaded = parseResourcesText(yaml, 'sample.yaml', { registry: createSluiceKinds() });
    assert.deepEqual(loaded.errors.map((e) => e.message), []);
  });

  test('a container run mounts the event folder read-only', () => {
    const runtime = { gatewayArgs: () => [] } as unknown as ContainerRuntime;
    const { args } = buildRunArgs(runtime, {
      name: 'j', image: 'img', env: {}, network: 'host', labels: {},
      mounts: [{ hostPath: '/tmp/x', containerPath: '/etc/jobsink-event', readOnly: true }],
    });
    const i = args.indexOf('-v');
    assert.equal(args[i + 1], '/tmp/x:/etc/jobsink-event:ro');
    assert.ok(i < args.indexOf('img'));
  });
});
