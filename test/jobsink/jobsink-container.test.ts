import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ContainerSupport } from '../../src/container/index.js';
import { silentLogger } from '../../src/observability/logger.js';
import type { JobRecord } from '../../src/jobsink/index.js';
import { containersWithLabel, testContainerRuntime, type TestContainerRuntime } from '../helpers/container-image.js';
import { startSink, type RecordingSink } from '../helpers/sink.js';
import { startSluice, waitUntil } from '../helpers/sluice.js';

// A JobSink whose job is an image runs each job as a container (Podman here): the event
// is mounted read-only at /etc/jobsink-event/event, as Knative mounts it. The test
// image is busybox (test/helpers/container-image.ts), whose CMD is an HTTP server, so
// the job gives a command and the runner annotation makes it a container.

const suffix = randomBytes(3).toString('hex');

describe('JobSink with an image', () => {
  let rt: TestContainerRuntime | { skip: string };
  let sink: RecordingSink;
  before(async () => {
    rt = await testContainerRuntime();
    sink = await startSink();
  });
  after(async () => {
    await sink?.close();
  });

  test('each event runs a container that reads the mounted event', async (t) => {
    if ('skip' in rt) return t.skip(rt.skip);
    const name = `cjob-${suffix}`;
    const s = await startSluice(
      `apiVersion: sinks.knative.dev/v1alpha1
kind: JobSink
metadata:
  name: ${name}
  annotations: {sluice.dev/runner: container, sluice.dev/job-backoff-seconds: "0.05"}
spec:
  job:
    spec:
      backoffLimit: 1
      template:
        spec:
          restartPolicy: Never
          containers:
            - name: main
              image: ${rt.image}
              imagePullPolicy: Never
              command: [/bin/sh, -c]
              args:
                - 'test "$K_EVENT_PATH" = /etc/jobsink-event/event && wget -q -O /dev/null --post-file "$K_EVENT_PATH" "$SINK" && cat "$K_EVENT_PATH" >&2'
              env:
                - {name: SINK, value: "${sink.url}"}
`,
      { containers: new ContainerSupport({ choice: rt.cli, logger: silentLogger(), network: 'host' }) },
    );
    try {
      const url = `${s.url}/jobsinks/default/${name}`;
      for (const id of ['c1', 'c2']) {
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/cloudevents+json' },
          body: JSON.stringify({ specversion: '1.0', id, source: 'test', type: 'test.container', datacontenttype: 'application/json', data: { id } }),
        });
        assert.equal(res.status, 202);
      }
      await sink.waitFor(2, 60_000);
      const events = sink.requests.map((r) => JSON.parse(r.body.toString('utf8')) as { id: string; data: unknown; specversion: string });
      assert.deepEqual(events.map((e) => e.id).sort(), ['c1', 'c2']);
      for (const e of events) assert.deepEqual(e.data, { id: e.id });
      const js = s.jobSinks.sinks.get(`default/${name}`)!;
      await waitUntil(() => js.counts().succeeded === 2, 30_000, 'jobs succeeded');
      const jobs: JobRecord[] = js.jobs();
      assert.ok(jobs.every((j) => j.runner === 'container' && j.exitCode === 0));
      // The job's last stderr line is the event it read.
      assert.match(jobs[0]!.message ?? '', /"specversion":"1.0"/);
      // Containers are removed once their job ended.
      await waitUntil(async () => (await containersWithLabel(rt && 'cli' in rt ? rt.cli : 'podman', `sluice.dev/resource=JobSink.default.${name}`)).length === 0, 20_000, 'containers removed');
    } finally {
      await s.close();
    }
  });
});
