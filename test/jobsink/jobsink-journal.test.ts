// A JobSink answers 202 once its job is created; with a data dir that promise survives
// the process: events whose jobs were not over (running or queued) when Sluice was killed
// run again at the next start, and a deleted JobSink takes its journal with it.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JobJournal } from '../../src/jobsink/job-journal.js';
import { eventFromJson } from '../../src/events/structured.js';
import { parseResourcesText } from '../../src/resources/index.js';
import { createSluiceKinds } from '../../src/kinds.js';
import { startSink, type RecordingSink } from '../helpers/sink.js';
import { startSluice, waitUntil } from '../helpers/sluice.js';
import { Broker, configDir } from '../channels/durable-e2e-helpers.js';
import { metricValue } from '../activator/e2e-helpers.js';

/** Sleeps $SLEEP ms, then posts its event's id to $SINK and exits 0. */
const JOB = `
const e = JSON.parse(require('fs').readFileSync(process.env.K_EVENT_PATH, 'utf8'));
setTimeout(() => fetch(process.env.SINK, { method: 'POST', body: e.id }).then(() => process.exit(0), () => process.exit(3)), Number(process.env.SLEEP));
`;

function jobSinkYaml(name: string, sinkUrl: string, sleepMs: number): string {
  return `apiVersion: sinks.knative.dev/v1alpha1
kind: JobSink
metadata:
  name: ${name}
  annotations: {"sluice.dev/max-concurrent-jobs": "1"}
spec:
  job:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
            - name: main
              command: ${JSON.stringify([process.execPath, '-e', JOB])}
              env:
                - {name: SINK, value: "${sinkUrl}"}
                - {name: SLEEP, value: "${sleepMs}"}
`;
}

function post(url: string, id: string): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'ce-specversion': '1.0', 'ce-id': id, 'ce-source': 'journal-test', 'ce-type': 'test.job' },
    body: JSON.stringify({ id }),
  });
}

const idsSeen = (sink: RecordingSink): Set<string> => new Set(sink.requests.map((r) => r.body.toString('utf8')));
const entries = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir) : []);

describe('JobSink journal', () => {
  const cleanup: Array<() => Promise<void> | void> = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  test('kill -9 with one job running and two queued: after the restart all three run, and the journal empties', async () => {
    const sink = await startSink();
    cleanup.push(() => sink.close());
    const cfg = configDir(jobSinkYaml('durable', sink.url, 1500));
    cleanup.push(cfg.dispose);
    const data = mkdtempSync(join(tmpdir(), 'sluice-journal-'));
    cleanup.push(() => rmSync(data, { recursive: true, force: true }));
    const broker = await Broker.create(cfg.dir, ['--data-dir', data]);
    cleanup.push(() => broker.kill());
    const url = `${broker.url}/jobsinks/default/durable`;
    for (const id of ['j1', 'j2', 'j3']) assert.equal((await post(url, id)).status, 202);
    const journal = join(data, 'jobsinks', 'default', 'durable');
    assert.equal(entries(journal).filter((f) => f.endsWith('.json')).length, 3, 'every accepted event is on disk before its 202');
    await broker.kill();
    // Only the running job had started: the queued two exist nowhere but in the journal.
    await broker.start();
    await waitUntil(() => ['j1', 'j2', 'j3'].every((id) => idsSeen(sink).has(id)), 20_000, `every job to run after the restart (seen: ${[...idsSeen(sink)].join(', ')})`);
    await waitUntil(() => entries(journal).length === 0, 5000, 'the journal to empty as the jobs finish');
  });

  test('a graceful stop keeps the unfinished jobs for the next start; deleting the JobSink drops them', async () => {
    const sink = await startSink();
    cleanup.push(() => sink.close());
    const data = mkdtempSync(join(tmpdir(), 'sluice-journal-'));
    cleanup.push(() => rmSync(data, { recursive: true, force: true }));
    const journal = join(data, 'jobsinks', 'default', 'slow');
    const first = await startSluice(jobSinkYaml('slow', sink.url, 60_000), { dataDir: data });
    for (const id of ['s1', 's2']) assert.equal((await post(`${first.url}/jobsinks/default/slow`, id)).status, 202);
    await first.close();
    assert.equal(entries(journal).length, 2, 'a job stopped by the shutdown and one never started stay in the journal');
    const second = await startSluice(jobSinkYaml('slow', sink.url, 0), { dataDir: data });
    cleanup.push(() => second.close());
    await waitUntil(() => idsSeen(sink).has('s1') && idsSeen(sink).has('s2'), 30_000, 'the kept jobs to run at the next start');
    await waitUntil(() => entries(journal).length === 0, 5000, 'the journal to empty');
    // The same event again is a redelivery of one that has its job: none is started.
    assert.equal((await post(`${second.url}/jobsinks/default/slow`, 's1')).status, 202);
    const third = await startSluice(jobSinkYaml('held', sink.url, 60_000), { dataDir: data });
    cleanup.push(() => third.close());
    assert.equal((await post(`${third.url}/jobsinks/default/held`, 'h1')).status, 202);
    const heldDir = join(data, 'jobsinks', 'default', 'held');
    assert.equal(entries(heldDir).length, 1);
    await third.runtime.delete('JobSink', 'default', 'held');
    assert.equal(existsSync(heldDir), false, 'a deleted JobSink takes its unfinished jobs with it');
    assert.equal(idsSeen(sink).has('h1'), false);
  });

  test('a JobSink that turns invalid keeps its unfinished jobs; fixed, it runs them', async () => {
    const sink = await startSink();
    cleanup.push(() => sink.close());
    const data = mkdtempSync(join(tmpdir(), 'sluice-journal-'));
    cleanup.push(() => rmSync(data, { recursive: true, force: true }));
    const journal = join(data, 'jobsinks', 'default', 'edited');
    const s = await startSluice(jobSinkYaml('edited', sink.url, 60_000), { dataDir: data });
    cleanup.push(() => s.close());
    for (const id of ['e1', 'e2']) assert.equal((await post(`${s.url}/jobsinks/default/edited`, id)).status, 202);
    // An edit the JobSink cannot run (as a resource built in code may be): it stops, its jobs wait.
    const broken = parseResourcesText(jobSinkYaml('edited', sink.url, 0), 'edit.yaml', { registry: createSluiceKinds() });
    broken.resources[0]!.resource.metadata.annotations = { 'sluice.dev/max-concurrent-jobs': 'zero' };
    await s.runtime.apply(broken.resources);
    assert.equal(entries(journal).length, 2, 'the unfinished jobs stay in the journal');
    const fixed = parseResourcesText(jobSinkYaml('edited', sink.url, 0), 'fix.yaml', { registry: createSluiceKinds() });
    await s.runtime.apply(fixed.resources);
    await waitUntil(() => idsSeen(sink).has('e1') && idsSeen(sink).has('e2'), 30_000, 'the kept jobs to run once the spec is fixed');
    await waitUntil(() => entries(journal).length === 0, 5000, 'the journal to empty');
  });

  test('a damaged entry is set aside as .bad, an unfinished write is removed, and the rest load oldest first', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-journal-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const journal = new JobJournal(join(dir, 'default', 'x'));
    const first = await journal.add(eventFromJson({ specversion: '1.0', id: 'a', source: 's', type: 't', data: { n: 1 } }));
    const second = await journal.add(eventFromJson({ specversion: '1.0', id: 'b', source: 's', type: 't' }));
    mkdirSync(journal.dir, { recursive: true });
    writeFileSync(join(journal.dir, '000000000000000-bad.json'), '{"specversion": "1.0", "id": ');
    writeFileSync(join(journal.dir, `.${second}.tmp`), 'half a write');
    const bad: string[] = [];
    const left = await journal.load((file) => bad.push(file));
    assert.deepEqual(left.map((j) => [j.entry, j.event.attributes.id]), [[first, 'a'], [second, 'b']]);
    assert.deepEqual(left[0]!.event.data?.toString('utf8'), '{"n":1}');
    assert.equal(bad.length, 1);
    assert.deepEqual(entries(journal.dir).sort(), [first, second, '000000000000000-bad.json.bad'].sort());
    await journal.remove(first);
    await journal.remove(first);
    assert.deepEqual((await journal.load(() => {})).map((j) => j.entry), [second]);
  });

  test('at start, an unreadable entry is logged and counted as a lost event; the readable ones run', async () => {
    const sink = await startSink();
    cleanup.push(() => sink.close());
    const data = mkdtempSync(join(tmpdir(), 'sluice-journal-'));
    cleanup.push(() => rmSync(data, { recursive: true, force: true }));
    const journal = new JobJournal(join(data, 'jobsinks', 'default', 'scarred'));
    await journal.add(eventFromJson({ specversion: '1.0', id: 'ok1', source: 's', type: 't' }));
    writeFileSync(join(journal.dir, '000000000000001-x-00000001.json'), 'not json');
    const s = await startSluice(jobSinkYaml('scarred', sink.url, 0), { dataDir: data });
    cleanup.push(() => s.close());
    await waitUntil(() => idsSeen(sink).has('ok1'), 10_000, 'the readable entry to run');
    assert.equal(await metricValue(s.metrics.registry, 'sluice_events_failed_total', { resource: 'scarred', reason: 'journal_unreadable' }), 1);
  });

  test('an event that cannot be written is refused with 503, not answered 202', async () => {
    const sink = await startSink();
    cleanup.push(() => sink.close());
    const data = mkdtempSync(join(tmpdir(), 'sluice-journal-'));
    cleanup.push(() => rmSync(data, { recursive: true, force: true }));
    // A file where the journal's folder must go.
    writeFileSync(join(data, 'jobsinks'), 'not a folder');
    const s = await startSluice(jobSinkYaml('nowhere', sink.url, 0), { dataDir: data });
    cleanup.push(() => s.close());
    const res = await post(`${s.url}/jobsinks/default/nowhere`, 'n1');
    assert.equal(res.status, 503);
    const body = (await res.json()) as { error: string };
    assert.match(body.error, /cannot keep the event/);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(idsSeen(sink).has('n1'), false, 'no job for an event that was refused');
  });
});
