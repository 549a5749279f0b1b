import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HTTP, type CloudEvent } from 'cloudevents';
import { startSluice, waitUntil } from '../helpers/sluice.js';
import { startSink, type RecordingSink } from '../helpers/sink.js';
import { runCli } from '../cli/run-cli.js';
import { parseResourcesText } from '../../src/resources/index.js';
import { createSluiceKinds } from '../../src/kinds.js';

// EventTransform end to end: a real GitHub `push` payload, as the GitHubSource sends it
// (a CloudEvent of type dev.knative.source.github.push), through Sluice's ingress, to
// real HTTP sinks on loopback; the responses read with the cloudevents SDK.

interface Example { name: string; examples: Array<Record<string, unknown>> }
const EXAMPLES = createRequire(import.meta.url)('@octokit/webhooks-examples') as Example[];
const PUSH = EXAMPLES.find((g) => g.name === 'push')!.examples[0]! as { repository: { full_name: string }; commits: unknown[] };

const SUMMARY = `{
  'specversion': specversion,
  'id': id,
  'type': 'com.example.push.summary',
  'source': source,
  'data': { 'repo': data.repository.full_name, 'commits': $count(data.commits) }
}`;

function transformYaml(name: string, expression: string, more = ''): string {
  const indented = expression.split('\n').map((l) => '      ' + l).join('\n');
  return `---
apiVersion: eventing.knative.dev/v1alpha1
kind: EventTransform
metadata: {name: ${name}}
spec:
  jsonata:
    expression: |
${indented}
${more}`;
}

function pushHeaders(id = 'delivery-1'): Record<string, string> {
  return {
    'ce-specversion': '1.0',
    'ce-id': id,
    'ce-type': 'dev.knative.source.github.push',
    'ce-source': 'https://github.com/Codertocat/Hello-World',
    'ce-subject': '',
    'content-type': 'application/json',
  };
}

function postPush(url: string, id?: string): Promise<Response> {
  const headers = pushHeaders(id);
  delete headers['ce-subject'];
  return fetch(url, { method: 'POST', headers, body: JSON.stringify(PUSH) });
}

async function toEvent(res: Response): Promise<CloudEvent<unknown>> {
  const headers: Record<string, string> = {};
  res.headers.forEach((v, k) => (headers[k] = v));
  const body = await res.text();
  return HTTP.toEvent({ headers, body }) as CloudEvent<unknown>;
}

function dataOf(body: Buffer): unknown {
  return JSON.parse(body.toString('utf8'));
}

const EXPECTED = { repo: PUSH.repository.full_name, commits: PUSH.commits.length };

describe('EventTransform', () => {
  let sink: RecordingSink;
  let replySink: RecordingSink;
  let sluice: Awaited<ReturnType<typeof startSluice>>;

  before(async () => {
    sink = await startSink();
    replySink = await startSink();
    sluice = await startSluice(
      [
        transformYaml('summary', SUMMARY),
        transformYaml('to-sink', SUMMARY, `  sink: {uri: "${sink.url}"}`),
        transformYaml('not-an-event', 'data.repository.full_name'),
        transformYaml('no-id', `{ 'specversion': '1.0', 'type': 't', 'source': 's' }`),
        transformYaml('broken-call', `$undefinedFunction(data)`),
        transformYaml('lost-sink', SUMMARY, '  sink: {ref: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: nowhere}}'),
        `---
apiVersion: messaging.knative.dev/v1
kind: InMemoryChannel
metadata: {name: pushes}
---
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata: {name: summarise}
spec:
  channel: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: pushes}
  subscriber: {ref: {apiVersion: eventing.knative.dev/v1alpha1, kind: EventTransform, name: summary}}
  reply: {uri: "${replySink.url}"}
`,
      ].join('\n'),
    );
  });

  after(async () => {
    await sluice.close();
    await sink.close();
    await replySink.close();
  });

  test('without a sink the transformed GitHub push is the response (binary mode, 200)', async () => {
    const res = await postPush(`${sluice.url}/transforms/default/summary`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('ce-type'), 'com.example.push.summary');
    const ce = await toEvent(res);
    ce.validate();
    assert.equal(ce.type, 'com.example.push.summary');
    assert.equal(ce.id, 'delivery-1');
    assert.equal(ce.source, 'https://github.com/Codertocat/Hello-World');
    assert.equal(ce.datacontenttype, 'application/json');
    assert.deepEqual(ce.data, EXPECTED);
  });

  test('a structured-mode event is transformed the same way', async () => {
    const body = JSON.stringify({ specversion: '1.0', id: 's-1', type: 'dev.knative.source.github.push', source: 'gh', data: PUSH });
    const res = await fetch(`${sluice.url}/transforms/default/summary`, { method: 'POST', headers: { 'content-type': 'application/cloudevents+json' }, body });
    assert.equal(res.status, 200);
    const ce = await toEvent(res);
    assert.equal(ce.id, 's-1');
    assert.deepEqual(ce.data, EXPECTED);
  });

  test('status: Ready with address.url; sinkUri when a sink is set', () => {
    const st = sluice.runtime.statusOf('EventTransform', 'default', 'summary')!;
    assert.equal(st.conditions.find((c) => c.type === 'Ready')?.status, 'True');
    assert.equal((st as { address?: { url: string } }).address?.url, `${sluice.url}/transforms/default/summary`);
    const withSink = sluice.runtime.statusOf('EventTransform', 'default', 'to-sink')! as { sinkUri?: string };
    assert.equal(withSink.sinkUri, sink.url);
  });

  test('with a sink the transformed event goes to the sink, and the caller gets 202', async () => {
    const before = sink.requests.length;
    const res = await postPush(`${sluice.url}/transforms/default/to-sink`, 'to-sink-1');
    assert.equal(res.status, 202);
    await sink.waitFor(before + 1);
    const got = sink.requests[before]!;
    assert.equal(got.headers['ce-type'], 'com.example.push.summary');
    assert.equal(got.headers['ce-id'], 'to-sink-1');
    assert.deepEqual(dataOf(got.body), EXPECTED);
  });

  test('a sink that fails makes the transform answer the same status, so the caller retries', async () => {
    sink.setResponder((_req, res) => { res.statusCode = 503; res.end('busy'); });
    try {
      const res = await postPush(`${sluice.url}/transforms/default/to-sink`);
      assert.equal(res.status, 503);
      const body = (await res.json()) as { error: string; reason: string };
      assert.equal(body.reason, 'SLUICE_ERR_TRANSFORM_SINK');
      assert.match(body.error, /answered 503: busy/);
    } finally {
      sink.setResponder((_req, res) => { res.statusCode = 202; res.end(); });
    }
  });

  test('as a Subscription subscriber: the transformed event is the reply, and reaches the reply sink', async () => {
    const before = replySink.requests.length;
    const res = await postPush(`${sluice.url}/channels/default/pushes`, 'via-channel');
    assert.equal(res.status, 202);
    await replySink.waitFor(before + 1);
    const got = replySink.requests[before]!;
    assert.equal(got.headers['ce-type'], 'com.example.push.summary');
    assert.equal(got.headers['ce-id'], 'via-channel');
    assert.deepEqual(dataOf(got.body), EXPECTED);
  });

  test('a result that is not a CloudEvent is a 422 JSON error naming the problem; nothing crashes', async () => {
    const notObject = await postPush(`${sluice.url}/transforms/default/not-an-event`);
    assert.equal(notObject.status, 422);
    const a = (await notObject.json()) as { error: string; reason: string };
    assert.equal(a.reason, 'SLUICE_ERR_TRANSFORM_FAILED');
    assert.match(a.error, /spec\.jsonata\.expression: the expression must produce a CloudEvent object, got a string/);

    const noId = await postPush(`${sluice.url}/transforms/default/no-id`);
    assert.equal(noId.status, 422);
    assert.match(((await noId.json()) as { error: string }).error, /not a valid CloudEvent: missing required attribute "id"/);

    const broken = await postPush(`${sluice.url}/transforms/default/broken-call`);
    assert.equal(broken.status, 422);
    assert.match(((await broken.json()) as { error: string }).error, /evaluation failed at position \d+ \(token "undefinedFunction"\): Attempted to invoke a non-function \[T1006\]/);

    // The server still serves.
    assert.equal((await postPush(`${sluice.url}/transforms/default/summary`)).status, 200);
  });

  test('bad input is a 400 naming the problem; batches and GET are refused', async () => {
    const plain = await fetch(`${sluice.url}/transforms/default/summary`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(plain.status, 400);
    assert.match(((await plain.json()) as { error: string }).error, /not a CloudEvent: no ce- headers/);
    const noType = pushHeaders();
    delete noType['ce-type'];
    const missing = await fetch(`${sluice.url}/transforms/default/summary`, { method: 'POST', headers: noType, body: '{}' });
    assert.equal(missing.status, 400);
    assert.match(((await missing.json()) as { error: string }).error, /missing required attribute "type"/);
    const batch = await fetch(`${sluice.url}/transforms/default/summary`, { method: 'POST', headers: { 'content-type': 'application/cloudevents-batch+json' }, body: '[]' });
    assert.equal(batch.status, 400);
    assert.match(((await batch.json()) as { error: string }).error, /batch mode is not supported/);
    assert.equal((await fetch(`${sluice.url}/transforms/default/summary`)).status, 405);
    assert.equal((await postPush(`${sluice.url}/transforms/default/nope`)).status, 404);
  });

  test('requests to a transform are counted in the ingress metrics: received on 2xx, rejected by status otherwise', async () => {
    const sample = async (name: string, labels: Record<string, string>) => {
      const text = await sluice.metrics.registry.getSingleMetricAsString(name);
      const line = text.split('\n').find((l) => l.startsWith(name + '{') && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)));
      return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
    };
    const received = { namespace_name: 'default', resource: 'summary', kind: 'transform' };
    const rejected = { namespace_name: 'default', resource: 'summary', response_code: '400' };
    const [r0, j0] = [await sample('sluice_events_received_total', received), await sample('sluice_ingress_requests_rejected_total', rejected)];
    assert.equal((await postPush(`${sluice.url}/transforms/default/summary`)).status, 200);
    assert.equal((await postPush(`${sluice.url}/transforms/default/summary`)).status, 200);
    const bad = await fetch(`${sluice.url}/transforms/default/summary`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(bad.status, 400);
    assert.equal(await sample('sluice_events_received_total', received), r0 + 2);
    assert.equal(await sample('sluice_ingress_requests_rejected_total', rejected), j0 + 1);
  });

  test('a sink that does not resolve: not Ready with the reason, requests answered 503', async () => {
    const st = sluice.runtime.statusOf('EventTransform', 'default', 'lost-sink')!;
    const ready = st.conditions.find((c) => c.type === 'Ready')!;
    assert.equal(ready.status, 'False');
    assert.equal(ready.reason, 'SinkNotResolved');
    assert.match(ready.message ?? '', /spec\.sink: InMemoryChannel default\/nowhere not found/);
    const res = await postPush(`${sluice.url}/transforms/default/lost-sink`);
    assert.equal(res.status, 503);
  });
});

describe('EventTransform with a sink that replies', () => {
  test('spec.reply.jsonata transforms the reply; discard answers no event; no reply spec passes it on', async () => {
    const replier = await startSink((req, res) => {
      res.statusCode = 200;
      res.setHeader('ce-specversion', '1.0');
      res.setHeader('ce-id', `reply-to-${String(req.headers['ce-id'])}`);
      res.setHeader('ce-type', 'com.example.ack');
      res.setHeader('ce-source', 'replier');
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ ok: true, repo: (dataOf(req.body) as { repo: string }).repo }));
    });
    const sluice = await startSluice(
      [
        transformYaml('reply-transform', SUMMARY, `  sink: {uri: "${replier.url}"}
  reply:
    jsonata:
      expression: "$merge([$, {'type': 'com.example.ack.transformed', 'data': {'acked': data.repo}}])"`),
        transformYaml('reply-discard', SUMMARY, `  sink: {uri: "${replier.url}"}
  reply: {discard: true}`),
        transformYaml('reply-pass', SUMMARY, `  sink: {uri: "${replier.url}"}`),
      ].join('\n'),
    );
    try {
      const t = await postPush(`${sluice.url}/transforms/default/reply-transform`, 'r1');
      assert.equal(t.status, 200);
      const ce = await toEvent(t);
      assert.equal(ce.type, 'com.example.ack.transformed');
      assert.equal(ce.id, 'reply-to-r1');
      assert.deepEqual(ce.data, { acked: EXPECTED.repo });

      const d = await postPush(`${sluice.url}/transforms/default/reply-discard`, 'r2');
      assert.equal(d.status, 202);
      assert.equal(d.headers.get('ce-type'), null);
      assert.equal(await d.text(), '');

      const p = await postPush(`${sluice.url}/transforms/default/reply-pass`, 'r3');
      assert.equal(p.status, 200);
      const passed = await toEvent(p);
      assert.equal(passed.type, 'com.example.ack');
      assert.deepEqual(passed.data, { ok: true, repo: EXPECTED.repo });
      assert.equal(replier.requests.length, 3);
    } finally {
      await sluice.close();
      await replier.close();
    }
  });

  test('a Trigger whose subscriber is an EventTransform sends the transformed reply back into the broker', async () => {
    const display = await startSink();
    const sluice = await startSluice(
      [
        transformYaml('summary', SUMMARY),
        `---
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {name: default}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: to-transform}
spec:
  broker: default
  filter: {attributes: {type: dev.knative.source.github.push}}
  subscriber: {ref: {apiVersion: eventing.knative.dev/v1alpha1, kind: EventTransform, name: summary}}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: summaries}
spec:
  broker: default
  filter: {attributes: {type: com.example.push.summary}}
  subscriber: {uri: "${display.url}"}
`,
      ].join('\n'),
    );
    try {
      assert.equal((await postPush(`${sluice.url}/default/default`, 'via-broker')).status, 202);
      await display.waitFor(1);
      assert.equal(display.requests[0]!.headers['ce-id'], 'via-broker');
      assert.deepEqual(dataOf(display.requests[0]!.body), EXPECTED);
    } finally {
      await sluice.close();
      await display.close();
    }
  });
});

describe('EventTransform validation', () => {
  const BAD = transformYaml('bad', `{ 'a': data.x foo }`);

  test('a syntax error makes the resource invalid, with the field and the position', () => {
    const loaded = parseResourcesText(BAD, 'bad.yaml', { registry: createSluiceKinds() });
    assert.equal(loaded.resources.length, 0);
    assert.equal(loaded.errors.length, 1);
    assert.match(loaded.errors[0]!.message, /EventTransform default\/bad: spec\.jsonata\.expression: syntax error at position 17 \(token "foo"\): Expected "}", got "foo"/);
  });

  test('reply rules: reply needs a sink; jsonata and discard are exclusive; reply expressions are compiled', () => {
    const yaml = [
      transformYaml('no-sink', SUMMARY, '  reply: {discard: true}'),
      transformYaml('both', SUMMARY, `  sink: {uri: "http://127.0.0.1:1/"}
  reply: {discard: true, jsonata: {expression: "$"}}`),
      transformYaml('bad-reply', SUMMARY, `  sink: {uri: "http://127.0.0.1:1/"}
  reply: {jsonata: {expression: "(("}}`),
      `---
apiVersion: eventing.knative.dev/v1alpha1
kind: EventTransform
metadata: {name: nothing}
spec: {}
`,
    ].join('\n');
    const msgs = parseResourcesText(yaml, 'r.yaml', { registry: createSluiceKinds() }).errors.map((e) => e.message).join('\n');
    assert.match(msgs, /no-sink: spec\.reply: needs spec\.sink/);
    assert.match(msgs, /both: spec\.reply: jsonata and discard: true are mutually exclusive/);
    assert.match(msgs, /bad-reply: spec\.reply\.jsonata\.expression: syntax error/);
    assert.match(msgs, /nothing: spec\.jsonata: required/);
  });

  test('`sluice validate` reports it with file, document and position; exit code 1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-transform-'));
    try {
      writeFileSync(join(dir, 'bad.yaml'), BAD);
      const r = await runCli(['validate', '-f', join(dir, 'bad.yaml')]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr + r.stdout, /bad\.yaml#1 EventTransform default\/bad: spec\.jsonata\.expression: syntax error at position 17/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the admin API refuses it with 400 naming the field', async () => {
    const sluice = await startSluice('');
    try {
      const res = await fetch(`${sluice.adminUrl}/api/v1/resources`, { method: 'POST', headers: { 'content-type': 'application/yaml' }, body: BAD });
      assert.equal(res.status, 400);
      const body = (await res.json()) as { issues: Array<{ path: string; message: string }> };
      assert.equal(body.issues[0]!.path, 'spec.jsonata.expression');
      assert.match(body.issues[0]!.message, /syntax error at position 17/);
      // A valid one applied the same way is served at once.
      const ok = await fetch(`${sluice.adminUrl}/api/v1/resources`, { method: 'POST', headers: { 'content-type': 'application/yaml' }, body: transformYaml('good', SUMMARY) });
      assert.equal(ok.status, 200, await ok.clone().text());
      await waitUntil(() => sluice.runtime.statusOf('EventTransform', 'default', 'good')?.conditions[0]?.status === 'True');
      assert.equal((await postPush(`${sluice.url}/transforms/default/good`)).status, 200);
    } finally {
      await sluice.close();
    }
  });
});
