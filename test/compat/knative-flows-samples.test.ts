import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, stringify } from 'yaml';
import { ContainerSupport } from '../../src/container/index.js';
import { createSluiceKinds } from '../../src/kinds.js';
import { silentLogger } from '../../src/observability/logger.js';
import { parseResourcesText } from '../../src/resources/index.js';
import type { SluiceServer } from '../../src/server/sluice-server.js';
import { metricValue, resourceStatus } from '../activator/e2e-helpers.js';
import { testContainerRuntime, withHeavyContainerLock } from '../helpers/container-image.js';
import { startSink, type ReceivedRequest, type RecordingSink } from '../helpers/sink.js';
import { startSluice } from '../helpers/sluice.js';

// Knative documentation samples of Sequence, Parallel, EventTransform and JobSink
// (test/fixtures/knative-samples/flows-sequence.yaml, flows-parallel.yaml,
// eventtransform.yaml, jobsink.yaml; each document names its source). They must validate
// as written; then each sample runs in a Sluice of its own, with images replaced by the
// local test image, and must become Ready and carry an event to its end.
// (knative-samples.test.ts loads these files too, all samples in one Sluice, for Ready.)

const DIR = fileURLToPath(new URL('../fixtures/knative-samples/', import.meta.url));
const FILES = ['flows-sequence.yaml', 'flows-parallel.yaml', 'eventtransform.yaml', 'jobsink.yaml'];

const text = (file: string) => readFileSync(DIR + file, 'utf8');
const parse = (yaml: string, file: string) => parseResourcesText(yaml, file, { registry: createSluiceKinds() });

test('the Knative flow, transform and job sink samples validate with Sluice\'s loader', async (t) => {
  for (const file of FILES) {
    await t.test(file, () => {
      const { errors } = parse(text(file), file);
      assert.equal(errors.length, 0, `${file}:\n${errors.map((e) => e.message).join('\n')}`);
    });
  }
});

// Samples of the same pages that Sluice refuses, kept verbatim in rejected/ (outside the
// corpus, whose every document must load) with each error expected. When Sluice comes to
// accept one, this fails: move the document into the corpus file its comment names.
const REJECTED: Record<string, string[]> = {
  'rejected/jobsink.yaml': [
    // A Sluice limit: one pod per event.
    'JobSink default/job-sink-success: spec.job.spec.completions: Sluice runs one completion per event: only 1 is supported',
    'JobSink default/job-sink-success: spec.job.spec.parallelism: Sluice runs one pod at a time per event: only 1 is supported',
    // The docs' `labels: my-label` (Kubernetes refuses it too), and the same limit.
    'JobSink default/job-sink-failure: spec.job.metadata.labels: expected object, got string "my-label"',
    'JobSink default/job-sink-failure: spec.job.spec.completions: Sluice runs one completion per event: only 1 is supported',
    'JobSink default/job-sink-failure: spec.job.spec.parallelism: Sluice runs one pod at a time per event: only 1 is supported',
    // The docs indent `subscriber` under `filter` (Knative's webhook refuses it too).
    'Trigger default/my-job-sink-trigger: spec.subscriber: required',
  ],
  'rejected/eventtransform.yaml': [
    // `# ...` is not a JSONata comment: Knative's transform-jsonata (jsonata-js) fails on it when it runs.
    'EventTransform default/request-reply-transform: spec.jsonata.expression: syntax error at position 1 (line 1, column 1) (token "#"): The symbol "#" cannot be used as a unary operator [S0211]',
    'EventTransform default/request-reply-transform: spec.reply.jsonata.expression: syntax error at position 1 (line 1, column 1) (token "#"): The symbol "#" cannot be used as a unary operator [S0211]',
  ],
};

test('the samples of these pages that Sluice rejects are still rejected, for the reasons noted', async (t) => {
  for (const [file, expected] of Object.entries(REJECTED)) {
    await t.test(file, () => {
      const { errors, resources } = parse(text(file), file);
      assert.equal(resources.length, 0, `${file}: every document should be rejected`);
      // Each error message starts with `<file>#<n> `: compare what follows.
      const messages = errors.flatMap((e) => e.message.split('\n')).map((m) => m.replace(/^\S+#\d+ /, ''));
      assert.deepEqual(messages.sort(), [...expected].sort());
    });
  }
});

type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
type Condition = { type: string; status: string; reason?: string; message?: string };

/** Everything a scenario's swaps and checks use. */
interface Ctx {
  server: SluiceServer & { url: string };
  /** A loopback HTTP sink standing in for the sample's final event display (202 to everything). */
  sink: RecordingSink;
  /** A loopback HTTP sink answering 400 to everything. */
  rejecting: RecordingSink;
  image: string;
}

interface Scenario {
  name: string;
  file: string;
  /** The sample's documents are those of `file` in this namespace. */
  namespace: string;
  /** Swaps that let the sample be observed here, beyond `runnableHere` (each explained where it is written). */
  adapt?(doc: Doc, ctx: Omit<Ctx, 'server'>): void;
  /** Test-only resources added beside the sample (YAML), e.g. a Trigger to the loopback sink. */
  extra?(ctx: Omit<Ctx, 'server'>): string;
  check(ctx: Ctx): Promise<void>;
}

/**
 * The document as this machine can run it (no image registry is reachable):
 * - a Service's image becomes the test image, whose default command is an HTTP echo
 *   server answering every POST with a reply event (id `reply-<id>`, the same data, type
 *   $REPLY_TYPE or `dev.sluice.test.echo`). The samples' `appender` steps also reply to
 *   each event (appending to the message); their `TYPE` env, the type of their replies,
 *   is passed on as REPLY_TYPE. Through n echo steps an event's id becomes
 *   `reply-` × n + its id, which shows which steps it went through.
 * - every Service starts scaled to zero (`initial-scale: 0`) and wakes on its first event.
 * - a PingSource's schedule (every 1 or 2 min) becomes every second (`* * * * * *`, the
 *   leading seconds field is a Sluice extension), so its events show up in the test.
 * - a JobSink's container runs as a container of the test image (busybox), keeping the
 *   sample's command (`bash` becomes busybox's `sh`): a JobSink with an image runs as a
 *   container, as written, with no annotation.
 */
function runnableHere(doc: Doc, image: string): Doc {
  if (doc.kind === 'Service') {
    // Scaled to zero until an event needs it (still Ready, as in Knative): nine scenarios
    // starting every Service at once would queue each container start behind ~30 others.
    doc.spec.template.metadata ??= {};
    doc.spec.template.metadata.annotations = { 'autoscaling.knative.dev/initial-scale': '0', ...doc.spec.template.metadata.annotations };
    for (const c of doc.spec.template.spec.containers as Doc[]) {
      c.image = image;
      const type = (c.env as Doc[] | undefined)?.find((e) => e.name === 'TYPE');
      if (type) c.env.push({ name: 'REPLY_TYPE', value: type.value });
    }
  }
  if (doc.kind === 'PingSource') doc.spec.schedule = '* * * * * *';
  if (doc.kind === 'JobSink') {
    for (const c of doc.spec.job.spec.template.spec.containers as Doc[]) {
      c.image = image;
      if (c.command?.[0] === 'bash') c.command[0] = 'sh';
    }
  }
  return doc;
}

/** The request a sink received, read as a CloudEvent (Sluice delivers in binary mode). */
interface Received {
  id: string;
  type: string;
  source: string;
  headers: ReceivedRequest['headers'];
  data: unknown;
}

function received(sink: RecordingSink): Received[] {
  return sink.requests.map((r) => ({
    id: String(r.headers['ce-id']),
    type: String(r.headers['ce-type']),
    source: String(r.headers['ce-source']),
    headers: r.headers,
    data: r.body.length ? JSON.parse(r.body.toString()) : undefined,
  }));
}

/** POSTs a binary-mode CloudEvent with JSON data. */
function post(url: string, ce: { id: string; type: string; source: string; data: unknown; extensions?: Record<string, string> }): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': 'application/json', 'ce-specversion': '1.0', 'ce-id': ce.id, 'ce-type': ce.type, 'ce-source': ce.source };
  for (const [k, v] of Object.entries(ce.extensions ?? {})) headers[`ce-${k}`] = v;
  return fetch(url, { method: 'POST', headers, body: JSON.stringify(ce.data) });
}

async function postAccepted(url: string, ce: Parameters<typeof post>[1]): Promise<void> {
  const res = await post(url, ce);
  assert.ok(res.status === 202 || res.status === 200, `POST ${url}: ${res.status} ${await res.text()}`);
}

/** Polls `probe` until it returns a value; fails with `describe()` after `ms`. */
async function eventually<T>(probe: () => T | undefined | Promise<T | undefined>, ms: number, describe: () => string | Promise<string>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) assert.fail(await describe());
    await new Promise((r) => setTimeout(r, 50));
  }
}

// Generous: the scenarios start about 30 containers at once, and a JobSink's job (a
// `podman run` of its own) can wait a long time behind them. Passing runs take seconds.
const WAIT_MS = 45_000;

async function addressOf(server: SluiceServer, kind: string, name: string, namespace: string): Promise<string> {
  const url = ((await resourceStatus(server, kind, name, namespace)).address as { url?: string } | undefined)?.url;
  assert.ok(url, `${kind} ${namespace}/${name} has no status.address.url`);
  return url;
}

/** Waits for an event at the sink; the message lists what did arrive. */
function eventAt(sink: RecordingSink, what: string, match: (e: Received) => boolean): Promise<Received> {
  return eventually(
    () => received(sink).find(match),
    WAIT_MS,
    () => `${what}: not at the sink within ${WAIT_MS / 1000} s; it got ${sink.requests.length} events: ${received(sink).slice(0, 10).map((e) => `${e.id} ${e.type}`).join('; ')}`,
  );
}

interface Job { id: string; eventId: string; state: string; runner: string; exitCode?: number; reason?: string; message?: string }

async function jobsOf(server: SluiceServer, namespace: string, name: string): Promise<Job[]> {
  const res = await fetch(`${server.adminUrl}/api/v1/jobsinks/${namespace}/${name}/jobs`);
  assert.equal(res.status, 200, `jobs of JobSink ${namespace}/${name}: ${res.status}`);
  return ((await res.json()) as { items: Job[] }).items;
}

function succeededJob(server: SluiceServer, namespace: string, name: string, eventId: string, ms = WAIT_MS): Promise<Job> {
  let last: Job[] = [];
  return eventually(
    async () => {
      last = await jobsOf(server, namespace, name);
      const job = last.find((j) => j.eventId === eventId);
      if (job && job.state !== 'queued' && job.state !== 'running' && job.state !== 'succeeded') assert.fail(`job for event ${eventId} of JobSink ${name}: ${JSON.stringify(job)}`);
      return job?.state === 'succeeded' ? job : undefined;
    },
    ms,
    () => `no succeeded job for event ${eventId} of JobSink ${namespace}/${name} within ${ms / 1000} s: ${JSON.stringify(last)}`,
  );
}

/** A reply `n` steps down: the echo image prefixes `reply-` to the id at each step. */
const replied = (id: string, n: number) => `${'reply-'.repeat(n)}${id}`;
const HELLO = { message: 'Hello world!' };
const sinkUri = (sink: RecordingSink) => ({ uri: sink.url });

const SCENARIOS: Scenario[] = [
  {
    name: 'Sequence wired to event-display',
    file: 'flows-sequence.yaml',
    namespace: 'sequence-reply-to-event-display',
    adapt(doc, { sink }) {
      // The docs read the event-display Service's logs: the Sequence replies to the loopback sink instead.
      if (doc.kind === 'Sequence') doc.spec.reply = sinkUri(sink);
    },
    async check({ server, sink }) {
      const url = await addressOf(server, 'Sequence', 'sequence', 'sequence-reply-to-event-display');
      await postAccepted(url, { id: 'seq-1', type: 'dev.knative.sources.ping', source: '/test', data: HELLO });
      const e = await eventAt(sink, 'the event through first, second and third', (x) => x.id === replied('seq-1', 3));
      assert.deepEqual(e.data, HELLO);
      // And the sample's own PingSource's events (ids are UUIDs).
      await eventAt(sink, 'a PingSource event through the three steps', (x) => /^(reply-){3}(?!seq-)/.test(x.id) && (x.data as Doc)?.message === 'Hello world!');
    },
  },
  {
    name: 'Sequence terminal (no reply)',
    file: 'flows-sequence.yaml',
    namespace: 'sequence-terminal',
    // No swap: the last step's reply is dropped, as the sample means. The docs read each
    // step's logs; here the metrics of the step subscriptions show the events went through.
    async check({ server }) {
      const url = await addressOf(server, 'Sequence', 'sequence', 'sequence-terminal');
      await postAccepted(url, { id: 'seq-2', type: 'dev.knative.sources.ping', source: '/test', data: HELLO });
      const registry = server.metrics.registry;
      const at = (subscription: string, metric: string, labels: Record<string, string> = {}) =>
        metricValue(registry, metric, { namespace_name: 'sequence-terminal', subscription, ...labels });
      await eventually(
        async () => ((await at('sequence-kn-sequence-2', 'sluice_events_delivered_total')) >= 1 && (await at('sequence-kn-sequence-2', 'sluice_replies_total', { outcome: 'dropped' })) >= 1 ? true : undefined),
        WAIT_MS,
        async () =>
          `no event delivered to step third with its reply dropped: delivered per step ${await at('sequence-kn-sequence-0', 'sluice_events_delivered_total')}, ${await at('sequence-kn-sequence-1', 'sluice_events_delivered_total')}, ${await at('sequence-kn-sequence-2', 'sluice_events_delivered_total')}`,
      );
      // Steps 0 and 1 passed their replies on.
      assert.ok((await at('sequence-kn-sequence-0', 'sluice_replies_total', { outcome: 'sent' })) >= 1);
      assert.ok((await at('sequence-kn-sequence-1', 'sluice_replies_total', { outcome: 'sent' })) >= 1);
    },
  },
  {
    name: 'Sequence wired to another Sequence',
    file: 'flows-sequence.yaml',
    namespace: 'sequence-reply-to-sequence',
    adapt(doc, { sink }) {
      // The second Sequence replies to the loopback sink instead of the event-display Service.
      if (doc.kind === 'Sequence' && doc.metadata.name === 'second-sequence') doc.spec.reply = sinkUri(sink);
    },
    async check({ server, sink }) {
      const url = await addressOf(server, 'Sequence', 'first-sequence', 'sequence-reply-to-sequence');
      await postAccepted(url, { id: 'seq-3', type: 'dev.knative.sources.ping', source: '/test', data: HELLO });
      const e = await eventAt(sink, 'the event through six steps of two Sequences', (x) => x.id === replied('seq-3', 6));
      assert.deepEqual(e.data, HELLO);
      await eventAt(sink, 'a PingSource event through both Sequences', (x) => /^(reply-){6}(?!seq-)/.test(x.id));
    },
  },
  {
    name: 'Using Sequence with Broker and Trigger',
    file: 'flows-sequence.yaml',
    namespace: 'sequence-with-broker-trigger',
    // No swap in the sample: a test-only Trigger, with display-trigger's filter, sends what
    // the Sequence puts back into the Broker to the loopback sink as well.
    extra: ({ sink }) => `
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: test-observer, namespace: sequence-with-broker-trigger}
spec:
  broker: default
  filter: {attributes: {type: samples.http.mod3}}
  subscriber: {uri: "${sink.url}"}
`,
    async check({ server, sink }) {
      const broker = await addressOf(server, 'Broker', 'default', 'sequence-with-broker-trigger');
      await postAccepted(broker, { id: 'seq-4', type: 'dev.knative.sources.ping', source: '/test', data: HELLO });
      const e = await eventAt(sink, 'the event from the Broker through the Sequence and back', (x) => x.id === replied('seq-4', 3));
      assert.equal(e.type, 'samples.http.mod3');
      assert.deepEqual(e.data, HELLO);
      // The PingSource → Broker → sequence-trigger → Sequence → Broker → display-trigger path.
      await eventAt(sink, 'a PingSource event back from the Sequence', (x) => /^(reply-){3}(?!seq-)/.test(x.id));
      const display = await resourceStatus(server, 'Trigger', 'display-trigger', 'sequence-with-broker-trigger');
      assert.equal(display.conditions.find((c) => c.type === 'Ready')?.status, 'True');
    },
  },
  {
    name: 'Parallel with multiple branches',
    file: 'flows-parallel.yaml',
    namespace: 'parallel-multiple-branches',
    adapt(doc, { sink }) {
      // The Parallel replies to the loopback sink instead of the event-display Service. The
      // echo filters pass every event (they answer with one), so both branches run.
      if (doc.kind === 'Parallel') doc.spec.reply = sinkUri(sink);
    },
    async check({ server, sink }) {
      const url = await addressOf(server, 'Parallel', 'odd-even-parallel', 'parallel-multiple-branches');
      await postAccepted(url, { id: 'par-1', type: 'dev.knative.sources.ping', source: '/test', data: { message: 'Even or odd?' } });
      // Filter then transformer: two replies deep, once per branch.
      const both = await eventually(
        () => {
          const es = received(sink).filter((x) => x.id === replied('par-1', 2));
          return es.length >= 2 ? es : undefined;
        },
        WAIT_MS,
        () => `the event did not come out of both branches: ${received(sink).map((e) => `${e.id} from ${e.headers['ce-kservice']}`).join('; ')}`,
      );
      assert.deepEqual(both.map((e) => e.headers['ce-kservice']).sort(), ['even-transformer', 'odd-transformer']);
      await eventAt(sink, 'a PingSource event through a branch', (x) => /^(reply-){2}(?!par-)/.test(x.id));
    },
  },
  {
    name: 'Parallel with mutually exclusive cases',
    file: 'flows-parallel.yaml',
    namespace: 'default',
    adapt(doc, { sink }) {
      if (doc.kind !== 'Parallel') return;
      // The reply goes to the loopback sink instead of me-event-display.
      doc.spec.reply = sinkUri(sink);
      // The filters are `http://me-even-odd-switcher.default.svc.cluster.local/0` and `/1`:
      // cluster DNS, which Sluice does not serve, and paths that the echo image (answering
      // on `/` only) does not route. Each becomes a ref to the switcher Service itself.
      for (const b of doc.spec.branches as Doc[]) b.filter = { ref: { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'me-even-odd-switcher' } };
    },
    async check({ server, sink }) {
      const url = await addressOf(server, 'Parallel', 'me-odd-even-parallel', 'default');
      await postAccepted(url, { id: 'par-2', type: 'dev.knative.sources.ping', source: '/test', data: { message: 'Even or odd?' } });
      const both = await eventually(
        () => {
          const es = received(sink).filter((x) => x.id === replied('par-2', 2));
          return es.length >= 2 ? es : undefined;
        },
        WAIT_MS,
        () => `the event did not come out of both branches: ${received(sink).map((e) => `${e.id} from ${e.headers['ce-kservice']}`).join('; ')}`,
      );
      assert.deepEqual(both.map((e) => e.headers['ce-kservice']).sort(), ['me-even-transformer', 'me-odd-transformer']);
      await eventAt(sink, 'an event of me-ping-source through a branch', (x) => /^(reply-){2}(?!par-)/.test(x.id));
    },
  },
  {
    name: 'EventTransform overview (docs/versioned/eventing/transforms/README.md)',
    file: 'eventtransform.yaml',
    namespace: 'event-transform',
    // No swap: a test-only Trigger sends what event-transformer puts back into the Broker
    // to the loopback sink.
    extra: ({ sink }) => `
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: test-observer, namespace: event-transform}
spec:
  broker: default
  filter: {attributes: {type: transformed.event.type}}
  subscriber: {uri: "${sink.url}"}
`,
    async check({ server, sink }) {
      const ns = 'event-transform';
      // Field Extraction: the response is the transformed event; `data: $` is the whole input event.
      let res = await post(await addressOf(server, 'EventTransform', 'extract-user-id', ns), { id: 'et-1', type: 'user.created', source: '/test', data: { user: { id: 'u-42' } } });
      assert.equal(res.status, 200, await res.clone().text());
      assert.equal(res.headers.get('ce-type'), 'user.extracted');
      assert.equal(res.headers.get('ce-source'), 'transform.user-extractor');
      assert.equal(res.headers.get('ce-id'), 'et-1');
      assert.equal(res.headers.get('ce-userid'), 'u-42');
      let body = (await res.json()) as Doc;
      assert.equal(body.id, 'et-1');
      assert.deepEqual(body.data, { user: { id: 'u-42' } });

      // Event Format Conversion: sent to destination-service (the echo image), whose reply is the response.
      const order = { id: 'o-7', user: { fullName: 'Ada Lovelace', email: 'ada@example.com' }, items: [{ sku: 'K-1', qty: 2 }] };
      res = await post(await addressOf(server, 'EventTransform', 'format-converter', ns), { id: 'et-2', type: 'order.created', source: '/test', data: order });
      assert.equal(res.status, 200, await res.clone().text());
      assert.equal(res.headers.get('ce-id'), 'reply-et-2');
      assert.equal(res.headers.get('ce-kservice'), 'destination-service');
      assert.deepEqual(await res.json(), { orderId: 'o-7', customer: { name: 'Ada Lovelace', email: 'ada@example.com' }, items: [{ sku: 'K-1', qty: 2 }] });

      // Event Enrichment (an expression with /* */ comments).
      res = await post(await addressOf(server, 'EventTransform', 'event-enricher', ns), { id: 'et-3', type: 'order.created', source: '/test', data: { n: 1 } });
      assert.equal(res.status, 200, await res.clone().text());
      assert.equal(res.headers.get('ce-type'), 'order.created');
      assert.equal(res.headers.get('ce-environment'), 'production');
      assert.equal(res.headers.get('ce-region'), 'us-west-1');
      body = (await res.json()) as Doc;
      assert.deepEqual([body.id, body.data], ['et-3', { n: 1 }]);

      // Using Broker Reply Feature: Broker → transform-trigger → event-transformer → reply into the Broker.
      await postAccepted(await addressOf(server, 'Broker', 'default', ns), { id: 'et-4', type: 'original.event.type', source: '/test', data: { n: 4 } });
      const e = await eventAt(sink, 'the transformed event back in the Broker', (x) => x.id === 'et-4');
      assert.equal(e.type, 'transformed.event.type');
      assert.equal(e.source, 'transform.event-transformer');
      assert.deepEqual((e.data as Doc).data, { n: 4 });
    },
  },
  {
    name: 'EventTransform with JSONata (docs/versioned/eventing/transforms/event-transform-jsonata.md)',
    file: 'eventtransform.yaml',
    namespace: 'event-transform-jsonata',
    extra: ({ sink }) => `
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: test-observer, namespace: event-transform-jsonata}
spec:
  broker: default
  filter: {attributes: {type: user.registered.processed}}
  subscriber: {uri: "${sink.url}"}
`,
    async check({ server, sink }) {
      const ns = 'event-transform-jsonata';
      // Basic Usage.
      let res = await post(await addressOf(server, 'EventTransform', 'simple-transform', ns), { id: 'et-5', type: 'x.y', source: '/test', data: { a: 1 } });
      assert.equal(res.status, 200, await res.clone().text());
      assert.equal(res.headers.get('ce-type'), 'transformed.type');
      assert.equal(res.headers.get('ce-source'), 'transform.simple');
      assert.deepEqual(await res.json(), { a: 1 });

      // Transforming Replies: request transformed, sent to processor-service (echo), its reply transformed.
      res = await post(await addressOf(server, 'EventTransform', 'request-reply-transform', ns), { id: 'et-6', type: 'x.y', source: '/test', data: { a: 6 } });
      assert.equal(res.status, 200, await res.clone().text());
      assert.equal(res.headers.get('ce-id'), 'reply-et-6');
      assert.equal(res.headers.get('ce-type'), 'reply.transformed');
      assert.equal(res.headers.get('ce-source'), 'transform.reply-processor');
      assert.deepEqual(await res.json(), { a: 6 });

      // User Registration Event Transformer: to the Broker (202), then out through the test Trigger.
      const registration = await addressOf(server, 'EventTransform', 'user-registration-transformer', ns);
      res = await post(registration, { id: 'et-7', type: 'user.registered', source: '/test', data: { user: { id: 'u-7', name: 'Grace Hopper', email: 'Grace.Hopper@Example.com' } } });
      assert.equal(res.status, 202, await res.text());
      const e = await eventAt(sink, 'the registration event at the Broker', (x) => x.id === 'et-7');
      assert.equal(e.type, 'user.registered.processed');
      assert.equal(e.headers['ce-userid'], 'u-7');
      assert.equal(e.headers['ce-region'], 'unknown');
      assert.equal(e.headers['ce-tier'], 'free');
      const data = e.data as Doc;
      assert.deepEqual([data.userId, data.email, data.displayName, data.subscription], ['u-7', 'grace.hopper@example.com', 'Grace Hopper', { tier: 'free' }]);
      // Without data.user.name, the sample's fallback calls `$indexOf`, which JSONata does
      // not have (a docs bug: Knative's transform-jsonata, jsonata-js too, fails the same
      // way, answering 500). Sluice answers 422, not retried, and says where.
      res = await post(registration, { id: 'et-7b', type: 'user.registered', source: '/test', data: { user: { id: 'u-8', email: 'x@example.com' } } });
      assert.equal(res.status, 422);
      assert.match(((await res.json()) as Doc).error, /\(token "indexOf"\): Attempted to invoke a non-function \[T1006\]/);

      // Order Processing Event Transformer.
      res = await post(await addressOf(server, 'EventTransform', 'order-processor', ns), {
        id: 'et-8', type: 'order.created', source: '/test',
        data: { id: 'o-8', customer: { id: 'c-8' }, region: 'eu', created: '2025-01-01T00:00:00Z', items: [{ productId: 'p1', name: 'Laptop', price: 1000, quantity: 1 }, { productId: 'p2', name: 'Mouse', price: 50, quantity: 2 }] },
      });
      assert.equal(res.status, 200, await res.clone().text());
      assert.equal(res.headers.get('ce-type'), 'order.processed');
      assert.equal(res.headers.get('ce-orderid'), 'o-8');
      assert.equal(res.headers.get('ce-customerid'), 'c-8');
      assert.equal(res.headers.get('ce-priority'), 'high');
      const out = (await res.json()) as Doc;
      assert.equal(out.total, 1100);
      assert.ok(Math.abs(out.grandTotal - 1210) < 1e-9, `grandTotal ${out.grandTotal}`);
      assert.deepEqual(out.items.map((i: Doc) => [i.productId, i.totalPrice]), [['p1', 1000], ['p2', 100]]);
    },
  },
  {
    name: 'JobSink (docs/eventing/sinks/job-sink.md)',
    file: 'jobsink.yaml',
    namespace: 'default',
    // A test-only Trigger on my-broker whose subscriber answers 400 (not retried), so
    // the event goes to the Broker's dead letter sink, the JobSink job-sink-logger.
    extra: ({ rejecting }) => `
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: test-dead-letter, namespace: default}
spec:
  broker: my-broker
  subscriber: {uri: "${rejecting.url}"}
`,
    async check({ server }) {
      // "Trigger a JobSink": the docs' curl event. `cat /etc/jobsink-event/event` succeeds
      // only if the event file is where Knative mounts it.
      const logger = await addressOf(server, 'JobSink', 'job-sink-logger', 'default');
      const res = await post(logger, { id: '123', type: 'my.demo.event', source: 'my/curl/command', data: { details: 'JobSinkDemo' } });
      assert.equal(res.status, 202, await res.text());
      const job = await succeededJob(server, 'default', 'job-sink-logger', '123');
      assert.deepEqual([job.runner, job.exitCode], ['container', 0]);

      // Customizing the event file directory: runs (`echo "Hello world!" && sleep 5`);
      // Sluice mounts the event at /etc/jobsink-event whatever volumeMounts say, and says so.
      await postAccepted(await addressOf(server, 'JobSink', 'job-sink-custom-mount-path', 'default'), { id: 'job-2', type: 'my.demo.event', source: '/test', data: {} });
      const status = await resourceStatus(server, 'JobSink', 'job-sink-custom-mount-path', 'default');
      assert.deepEqual(status.ignored, ['spec.job.spec.template.spec.containers[0].volumeMounts']);

      // The JobSink as the dead letter sink of my-broker.
      await postAccepted(await addressOf(server, 'Broker', 'my-broker', 'default'), { id: 'dls-1', type: 'dev.knative.foo.bar', source: '/test', data: { n: 1 } });
      await succeededJob(server, 'default', 'job-sink-logger', 'dls-1');

      await succeededJob(server, 'default', 'job-sink-custom-mount-path', 'job-2');
    },
  },
];

/** The scenario's documents from its file, made runnable, plus its test-only resources. */
function scenarioYaml(s: Scenario, ctx: Omit<Ctx, 'server'>): { yaml: string; resources: Array<{ kind: string; namespace: string; name: string }> } {
  const docs = parseAllDocuments(text(s.file))
    .map((d) => d.toJS() as Doc | null)
    .filter((d): d is Doc => !!d && (d.metadata?.namespace ?? 'default') === s.namespace);
  assert.ok(docs.length > 0, `no documents of ${s.file} in namespace ${s.namespace}`);
  const parts = docs.map((d) => {
    const doc = runnableHere(d, ctx.image);
    s.adapt?.(doc, ctx);
    return stringify(doc);
  });
  const extra = s.extra?.(ctx);
  if (extra) parts.push(extra);
  const yaml = parts.join('---\n');
  const resources = parse(yaml, s.name).resources.map(({ resource: r }) => ({ kind: r.kind, namespace: r.metadata.namespace, name: r.metadata.name }));
  return { yaml, resources };
}

// Each sample in a Sluice of its own, all at once: about 30 replica containers in total.
test('the samples run: resources become Ready and an event reaches the end of each flow', { timeout: 120_000, concurrency: true }, async (t) => {
  const rt = await testContainerRuntime();
  if ('skip' in rt) {
    t.skip(`no container runtime: ${rt.skip}`);
    return;
  }
  // Not side by side with the other corpus: each would queue its container starts behind the other's.
  await withHeavyContainerLock(() => Promise.all(
    SCENARIOS.map((s) =>
      t.test(s.name, async () => {
        const sink = await startSink();
        const rejecting = await startSink((_req, res) => {
          res.statusCode = 400;
          res.end();
        });
        let server: (SluiceServer & { url: string }) | undefined;
        try {
          const base = { sink, rejecting, image: rt.image };
          const { yaml, resources } = scenarioYaml(s, base);
          server = await startSluice(yaml, { containers: new ContainerSupport({ choice: rt.cli, logger: silentLogger() }) });
          const running = server;
          let notReady: string[] = [];
          await eventually(
            async () => {
              const states = await Promise.all(
                resources.map(async (r) => {
                  const conditions: Condition[] = await resourceStatus(running, r.kind, r.name, r.namespace).then(
                    (st) => st?.conditions ?? [],
                    (err: Error) => [{ type: 'Ready', status: 'Unknown', message: err.message }],
                  );
                  const ready = conditions.find((c) => c.type === 'Ready');
                  return ready?.status === 'True' ? undefined : `${r.kind} ${r.namespace}/${r.name}: ${ready ? `${ready.status} ${ready.reason ?? ''} ${ready.message ?? ''}`.trim() : 'no Ready condition'}`;
                }),
              );
              notReady = states.filter((x): x is string => x !== undefined);
              return notReady.length === 0 ? true : undefined;
            },
            60_000,
            () => `not Ready after 60 s:\n${notReady.join('\n')}`,
          );
          await s.check({ ...base, server: running });
        } finally {
          await server?.close();
          await sink.close();
          await rejecting.close();
        }
      }),
    ),
  ));
});
