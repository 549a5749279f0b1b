import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
import { request } from 'undici';
import { HTTP, type CloudEvent } from 'cloudevents';
import { decodeHeaderValue } from '../../src/events/percent-encoding.js';
import { deliveryHeaders, FakeGitHubApi, type DeliveryOptions } from '../helpers/fake-github-api.js';
import { startSink, type ReceivedRequest, type RecordingSink } from '../helpers/sink.js';
import { startSluice, waitUntil } from '../helpers/sluice.js';
import { apply, channelAndSubscription, readyOf, secretYaml, statusOf, toChannel, type Sluice } from './e2e-helpers.js';

interface Example {
  name: string;
  examples: Array<Record<string, unknown>>;
}
const EXAMPLES = createRequire(import.meta.url)('@octokit/webhooks-examples') as Example[];
const SECRET = "It's a Secret to Everybody";
const TOKEN = 'ghp_e2eTokenABCDEFabcdef0123456789abcd';

const gitHubSourceYaml = (name: string, eventTypes: string[], sink: string, extra = '') => `---
apiVersion: sources.knative.dev/v1alpha1
kind: GitHubSource
metadata: {name: ${name}}
spec:
  ownerAndRepository: octo-org/hello-world
  eventTypes: ${JSON.stringify(eventTypes)}
  secretToken: {secretKeyRef: {name: github-secret, key: secretToken}}
  sink: ${sink}
${extra}`;

async function deliver(url: string, o: DeliveryOptions): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await request(url, { method: 'POST', headers: await deliveryHeaders(o), body: o.body });
  const text = await res.body.text();
  return { status: res.statusCode, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/** What the subscriber got, read with the CloudEvents SDK (a real consumer). */
function asCloudEvent(r: ReceivedRequest): CloudEvent<unknown> {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.headers)) if (typeof v === 'string') headers[k] = k.startsWith('ce-') ? decodeHeaderValue(v, k) : v;
  return HTTP.toEvent({ headers, body: r.body.toString('utf8') }) as CloudEvent<unknown>;
}

describe('GitHubSource end to end: signed deliveries -> InMemoryChannel -> Subscription -> sink', () => {
  let sink: RecordingSink;
  let refusing: RecordingSink;
  let sluice: Sluice;
  let hookUrl: string;

  before(async () => {
    sink = await startSink();
    refusing = await startSink((_req, res) => {
      res.statusCode = 503;
      res.end('busy');
    });
    sluice = await startSluice(
      secretYaml('github-secret', { secretToken: SECRET }) +
        channelAndSubscription('github-events', sink.url) +
        gitHubSourceYaml('all-events', ['*'], toChannel('github-events')) +
        gitHubSourceYaml('only-push', ['push'], toChannel('github-events')) +
        gitHubSourceYaml('to-refusing', ['push'], `{uri: "${refusing.url}"}`),
      { sources: { emitPolicy: { retry: 3, backoffPolicy: 'linear', backoffDelayMs: 10, timeoutMs: 5000, retryAfterMaxMs: undefined } } },
    );
    hookUrl = `${sluice.url}/sources/default/all-events`;
  });
  after(async () => {
    await sluice.close();
    await Promise.all([sink.close(), refusing.close()]);
  });

  test('status: Ready, the webhook URL and the channel as sinkUri', () => {
    const st = statusOf(sluice, 'GitHubSource', 'all-events');
    assert.equal(st.conditions.find((c) => c.type === 'Ready')?.status, 'True', JSON.stringify(st));
    assert.equal(st.webhookUrl, `${sluice.runtime.options.publicUrl}/sources/default/all-events`);
    assert.equal(st.sinkUri, `${sluice.runtime.options.publicUrl}/channels/default/github-events`);
  });

  test('every @octokit/webhooks-examples payload arrives as the CloudEvent Knative sends, data byte for byte', async () => {
    const sent: Array<{ id: string; event: string; body: string }> = [];
    for (const group of EXAMPLES) for (const ex of group.examples) sent.push({ id: randomUUID(), event: group.name, body: JSON.stringify(ex) });
    const before = sink.requests.length;
    // A few deliveries at a time, as GitHub sends them.
    for (let i = 0; i < sent.length; i += 8) {
      const results = await Promise.all(sent.slice(i, i + 8).map((d) => deliver(hookUrl, { ...d, secret: SECRET })));
      for (const r of results) assert.equal(r.status, 202, JSON.stringify(r.body));
    }
    await sink.waitFor(before + sent.length, 15_000);
    const got = new Map(sink.requests.slice(before).map((r) => [String(r.headers['ce-id']), r]));
    for (const d of sent) {
      const r = got.get(d.id);
      assert.ok(r, `delivery ${d.id} (${d.event}) reached the subscriber`);
      assert.equal(r.body.toString('utf8'), d.body, `${d.event}: data unchanged`);
      const e = asCloudEvent(r);
      assert.equal(e.type, `dev.knative.source.github.${d.event}`);
      assert.equal(e.source, 'https://github.com/octo-org/hello-world');
      assert.equal(e.datacontenttype, 'application/json');
      assert.ok(e.validate());
    }
    const push = EXAMPLES.find((g) => g.name === 'push')!.examples[0]!;
    const pushReq = [...got.values()].find((r) => r.headers['ce-type'] === 'dev.knative.source.github.push' && r.body.toString('utf8') === JSON.stringify(push))!;
    assert.equal(pushReq.headers['ce-subject'], String(push.compare).slice(String(push.compare).lastIndexOf('/') + 1));
  });

  test('a missing or wrong signature is 401 and a signed body that is not JSON is 400; nothing is emitted', async () => {
    const before = sink.requests.length;
    const body = JSON.stringify(EXAMPLES.find((g) => g.name === 'push')!.examples[0]);
    const unsigned = await deliver(hookUrl, { event: 'push', body });
    assert.equal(unsigned.status, 401);
    assert.equal(unsigned.body.reason, 'SLUICE_ERR_WEBHOOK_SIGNATURE');
    assert.equal(typeof unsigned.body.error, 'string');
    assert.equal((await deliver(hookUrl, { event: 'push', body, secret: 'not-the-secret' })).status, 401);
    const notJson = await deliver(hookUrl, { event: 'push', body: 'this is not json', secret: SECRET });
    assert.equal(notJson.status, 400);
    assert.equal(notJson.body.reason, 'SLUICE_ERR_INVALID_EVENT');
    // A marker event proves the pipeline is flowing, so "nothing arrived" is not just "not yet".
    const marker = randomUUID();
    assert.equal((await deliver(hookUrl, { event: 'push', id: marker, body, secret: SECRET })).status, 202);
    await waitUntil(() => sink.requests.some((r) => r.headers['ce-id'] === marker), 5000, 'the marker event');
    assert.equal(sink.requests.length, before + 1);
  });

  test("GitHub's redelivery of the same X-GitHub-Delivery is acknowledged but emitted once", async () => {
    const id = randomUUID();
    const body = JSON.stringify(EXAMPLES.find((g) => g.name === 'issues')!.examples[0]);
    const first = await deliver(hookUrl, { event: 'issues', id, body, secret: SECRET });
    const again = await deliver(hookUrl, { event: 'issues', id, body, secret: SECRET });
    assert.equal(first.status, 202);
    assert.equal(again.status, 202);
    assert.equal(again.body.status, 'duplicate');
    const marker = randomUUID();
    await deliver(hookUrl, { event: 'issues', id: marker, body, secret: SECRET });
    await waitUntil(() => sink.requests.some((r) => r.headers['ce-id'] === marker), 5000, 'the marker event');
    assert.equal(sink.requests.filter((r) => r.headers['ce-id'] === id).length, 1);
  });

  test('spec.eventTypes filters what is emitted', async () => {
    const url = `${sluice.url}/sources/default/only-push`;
    const pr = randomUUID();
    const push = randomUUID();
    const filtered = await deliver(url, { event: 'pull_request', id: pr, body: JSON.stringify(EXAMPLES.find((g) => g.name === 'pull_request')!.examples[0]), secret: SECRET });
    assert.ok(filtered.status >= 200 && filtered.status < 300, 'GitHub is not told to retry a filtered event');
    assert.equal((await deliver(url, { event: 'push', id: push, body: JSON.stringify(EXAMPLES.find((g) => g.name === 'push')!.examples[0]), secret: SECRET })).status, 202);
    await waitUntil(() => sink.requests.some((r) => r.headers['ce-id'] === push), 5000, 'the push event');
    assert.equal(sink.requests.some((r) => r.headers['ce-id'] === pr), false);
  });

  test('202 only once the sink took the event: a refusing sink is retried, GitHub gets an error, and its redelivery goes through later', async () => {
    const url = `${sluice.url}/sources/default/to-refusing`;
    const id = randomUUID();
    const body = JSON.stringify(EXAMPLES.find((g) => g.name === 'push')!.examples[0]);
    const failed = await deliver(url, { event: 'push', id, body, secret: SECRET });
    assert.ok(failed.status >= 500, `GitHub sees the delivery failed (got ${failed.status})`);
    assert.equal(refusing.requests.filter((r) => r.headers['ce-id'] === id).length, 4, 'first attempt + 3 retries');
    refusing.setResponder((_req, res) => {
      res.statusCode = 202;
      res.end();
    });
    const redelivered = await deliver(url, { event: 'push', id, body, secret: SECRET });
    assert.equal(redelivered.status, 202);
    assert.equal(redelivered.body.status, 'accepted', 'a failed delivery is not remembered as emitted');
    assert.equal(refusing.requests.filter((r) => r.headers['ce-id'] === id).length, 5);
  });
});

describe('GitHubSource whose sink does not exist yet', () => {
  let sink: RecordingSink;
  let sluice: Sluice;

  before(async () => {
    sink = await startSink();
    sluice = await startSluice(secretYaml('github-secret', { secretToken: SECRET }) + gitHubSourceYaml('early', ['push'], toChannel('later')));
  });
  after(async () => {
    await sluice.close();
    await sink.close();
  });

  test('is not Ready (SinkNotFound) and answers 503; applying the channel makes it Ready and deliveries flow', async () => {
    const st = statusOf(sluice, 'GitHubSource', 'early');
    assert.equal(st.conditions.find((c) => c.type === 'Ready')?.status, 'False');
    assert.equal(st.conditions.find((c) => c.type === 'Ready')?.reason, 'SinkNotFound');
    assert.match(String(st.conditions.find((c) => c.type === 'Ready')?.message), /InMemoryChannel default\/later not found/);
    const url = `${sluice.url}/sources/default/early`;
    const body = JSON.stringify(EXAMPLES.find((g) => g.name === 'push')!.examples[0]);
    const early = await deliver(url, { event: 'push', body, secret: SECRET });
    assert.equal(early.status, 503);
    assert.match(String(early.body.error), /not ready/);

    await apply(sluice, channelAndSubscription('later', sink.url));
    assert.equal(readyOf(sluice, 'GitHubSource', 'early')?.status, 'True');
    const id = randomUUID();
    assert.equal((await deliver(url, { event: 'push', id, body, secret: SECRET })).status, 202);
    await sink.waitFor(1);
    assert.equal(sink.requests[0]?.headers['ce-id'], id);
  });
});

describe('GitHubSource webhook registration (fake GitHub API, --public-url)', () => {
  const PUBLIC = 'https://hooks.example.com';
  let api: FakeGitHubApi;
  let sink: RecordingSink;
  let sluice: Sluice;

  before(async () => {
    api = await new FakeGitHubApi({ token: TOKEN }).start();
    api.addTarget('octo-org/hello-world');
    sink = await startSink();
    sluice = await startSluice(
      secretYaml('github-secret', { secretToken: SECRET, accessToken: TOKEN }) +
        channelAndSubscription('registered-events', sink.url) +
        gitHubSourceYaml(
          'registered',
          ['push', 'pull_request'],
          toChannel('registered-events'),
          `  accessToken: {secretKeyRef: {name: github-secret, key: accessToken}}\n  githubAPIURL: "${api.url}"\n`,
        ),
      { publicUrl: PUBLIC },
    );
  });
  after(async () => {
    await sluice.close();
    await Promise.all([api.close(), sink.close()]);
  });

  test('creates the hook for <public-url>/sources/<ns>/<name>, shows it in status, still delivers locally, and removes it on delete', async () => {
    await waitUntil(() => api.hooksOf('octo-org/hello-world').length === 1, 5000, 'the hook on GitHub');
    const hook = api.hooksOf('octo-org/hello-world')[0]!;
    assert.equal(hook.config.url, `${PUBLIC}/sources/default/registered`);
    assert.deepEqual(hook.events, ['push', 'pull_request']);
    assert.equal(hook.config.secret, SECRET);
    assert.equal(hook.config.content_type, 'json');

    await waitUntil(() => readyOf(sluice, 'GitHubSource', 'registered')?.status === 'True', 5000, 'Ready');
    const st = statusOf(sluice, 'GitHubSource', 'registered');
    assert.equal(st.webhookUrl, `${PUBLIC}/sources/default/registered`);
    assert.equal(st.webhookIDKey, String(hook.id));
    assert.equal(st.sinkUri, `${PUBLIC}/channels/default/registered-events`);

    // The public URL is a tunnel this test cannot reach; the event still gets to the channel.
    const id = randomUUID();
    const res = await deliver(`${sluice.url}/sources/default/registered`, { event: 'push', id, body: JSON.stringify(EXAMPLES.find((g) => g.name === 'push')!.examples[0]), secret: SECRET });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    await sink.waitFor(1);
    assert.equal(sink.requests[0]?.headers['ce-id'], id);

    assert.equal(await sluice.runtime.delete('GitHubSource', 'default', 'registered'), true);
    assert.equal(api.hooksOf('octo-org/hello-world').length, 0, 'the hook was removed from GitHub');
    assert.ok(api.calls.some((c) => c.method === 'DELETE' && c.path === `/repos/octo-org/hello-world/hooks/${hook.id}`));
    const gone = await deliver(`${sluice.url}/sources/default/registered`, { event: 'push', body: '{}', secret: SECRET });
    assert.equal(gone.status, 404);
  });
});
