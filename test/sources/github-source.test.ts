import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { request } from 'undici';
import { HTTP, type CloudEvent } from 'cloudevents';
import { ResourceValidationError, UnavailableError } from '../../src/errors.js';
import { toBinaryHttp } from '../../src/events/binary.js';
import { decodeHeaderValue } from '../../src/events/percent-encoding.js';
import type { SluiceEvent } from '../../src/events/types.js';
import type { EmitFn } from '../../src/sources/source.js';
import { GitHubSource, gitHubSourceKind, KNOWN_GITHUB_EVENTS, type GitHubSourceOptions } from '../../src/sources/github/index.js';
import { startSink, type ReceivedRequest, type RecordingSink } from '../helpers/sink.js';
import { deliveryHeaders, type DeliveryOptions } from '../helpers/fake-github-api.js';

interface Example {
  name: string;
  actions: string[];
  examples: Array<Record<string, unknown>>;
}
const EXAMPLES = createRequire(import.meta.url)('@octokit/webhooks-examples') as Example[];
const SECRET = 'It\'s a Secret to Everybody';

/** The emit the lead wires: binary-mode POST to the sink, resolving on 2xx only. */
function httpEmit(sinkUrl: string): EmitFn {
  return async (event: SluiceEvent) => {
    const { headers, body } = toBinaryHttp(event);
    const res = await request(sinkUrl, { method: 'POST', headers, body: body ?? null });
    await res.body.dump();
    if (res.statusCode < 200 || res.statusCode >= 300) throw new UnavailableError(`sink answered ${res.statusCode}`);
  };
}

/** A real HTTP server in front of the source, as the lead's route will be. */
async function serve(source: GitHubSource): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void source.handleRequest({ method: req.method ?? '', headers: req.headers, body: Buffer.concat(chunks) }).then((r) => {
        res.writeHead(r.statusCode, { 'content-type': 'application/json' });
        res.end(JSON.stringify(r.body));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/sources/default/gh`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function deliver(url: string, o: DeliveryOptions, method = 'POST'): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await request(url, { method: method as 'POST', headers: await deliveryHeaders(o), body: o.body });
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
}

function secrets(values: Record<string, string>): GitHubSourceOptions['resolveSecret'] {
  return (name, key) => values[`${name}/${key}`];
}

/** Reads what the sink got with the cloudevents SDK (which does not undo the binding's percent-encoding itself). */
function toCloudEvent(r: ReceivedRequest): CloudEvent<unknown> {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.headers)) if (typeof v === 'string') headers[k] = k.startsWith('ce-') ? decodeHeaderValue(v, k) : v;
  return HTTP.toEvent({ headers, body: r.body }) as CloudEvent<unknown>;
}

const lastPath = (u: unknown) => String(u).slice(String(u).lastIndexOf('/') + 1);
const get = (o: unknown, ...path: string[]): unknown => path.reduce<unknown>((c, k) => (c as Record<string, unknown> | undefined)?.[k], o);

/** Knative's subject per event type (eventing-github pkg/common/events.go), written out independently. */
const KNATIVE_SUBJECT: Record<string, (p: unknown) => unknown> = {
  check_run: (p) => get(p, 'check_run', 'id'),
  check_suite: (p) => get(p, 'check_suite', 'id'),
  commit_comment: (p) => lastPath(get(p, 'comment', 'html_url')),
  create: (p) => get(p, 'ref_type'),
  delete: (p) => get(p, 'ref_type'),
  deployment: (p) => get(p, 'deployment', 'id'),
  deployment_status: (p) => get(p, 'deployment', 'id'),
  fork: (p) => get(p, 'forkee', 'id'),
  installation: (p) => get(p, 'installation', 'id'),
  installation_repositories: (p) => get(p, 'installation', 'id'),
  issue_comment: (p) => lastPath(get(p, 'comment', 'html_url')),
  issues: (p) => get(p, 'issue', 'number'),
  label: (p) => get(p, 'label', 'name'),
  member: (p) => get(p, 'member', 'id'),
  membership: (p) => get(p, 'member', 'id'),
  milestone: (p) => get(p, 'milestone', 'number'),
  organization: (p) => get(p, 'action'),
  org_block: (p) => get(p, 'action'),
  page_build: (p) => get(p, 'id'),
  ping: (p) => get(p, 'hook_id'),
  project: (p) => get(p, 'action'),
  project_card: (p) => get(p, 'action'),
  project_column: (p) => get(p, 'action'),
  public: (p) => get(p, 'repository', 'id'),
  pull_request: (p) => get(p, 'pull_request', 'number'),
  pull_request_review: (p) => get(p, 'review', 'id'),
  pull_request_review_comment: (p) => get(p, 'comment', 'id'),
  push: (p) => lastPath(get(p, 'compare')),
  release: (p) => get(p, 'release', 'tag_name'),
  repository: (p) => get(p, 'repository', 'id'),
  repository_vulnerability_alert: (p) => get(p, 'alert', 'id'),
  security_advisory: (p) => get(p, 'security_advisory', 'ghsa_id'),
  status: (p) => get(p, 'sha'),
  team: (p) => get(p, 'team', 'id'),
  team_add: (p) => get(p, 'repository', 'id'),
  watch: (p) => get(p, 'repository', 'id'),
};

const baseSpec = {
  ownerAndRepository: 'octo-org/hello-world',
  eventTypes: EXAMPLES.map((e) => e.name),
  secretToken: { secretKeyRef: { name: 'gh', key: 'secret' } },
  sink: { uri: 'http://127.0.0.1:1/' },
};

describe('GitHubSource webhook receiver', () => {
  let sink: RecordingSink;
  let source: GitHubSource;
  let srv: { url: string; close: () => Promise<void> };

  before(async () => {
    sink = await startSink();
    source = new GitHubSource({ namespace: 'default', name: 'gh', spec: baseSpec, resolveSecret: secrets({ 'gh/secret': SECRET }) });
    await source.start(httpEmit(sink.url));
    srv = await serve(source);
  });
  after(async () => {
    await source.stop();
    await srv.close();
    await sink.close();
  });

  test('every @octokit/webhooks-examples payload becomes the CloudEvent Knative sends, data unchanged', async () => {
    let n = 0;
    const subjects = new Map<string, number>();
    for (const group of EXAMPLES) {
      for (const [i, payload] of group.examples.entries()) {
        // Pretty-printed as GitHub Enterprise does: a re-serialised copy would differ.
        const body = JSON.stringify(payload, null, i % 2 === 0 ? 2 : 0);
        const id = `${group.name}-${i}-${n}`;
        const r = await deliver(srv.url, { event: group.name, id, body, secret: SECRET });
        assert.equal(r.status, 202, `${group.name}#${i}: ${JSON.stringify(r.body)}`);
        assert.equal(r.body.status, 'accepted');
        n++;
        await sink.waitFor(n);
        const got = sink.requests[n - 1] as ReceivedRequest;
        const ce = toCloudEvent(got);
        assert.equal(ce.validate(), true);
        assert.equal(ce.type, `dev.knative.source.github.${group.name}`);
        assert.equal(ce.source, 'https://github.com/octo-org/hello-world');
        assert.equal(ce.id, id);
        assert.equal(ce.datacontenttype, 'application/json');
        assert.ok(got.body.equals(Buffer.from(body)), `${group.name}#${i}: data changed`);
        const expected = KNATIVE_SUBJECT[group.name]?.(payload);
        if (expected !== undefined && expected !== null && expected !== '') {
          assert.equal(ce.subject, String(expected), `${group.name}#${i} subject`);
        }
        if (ce.subject !== undefined) subjects.set(group.name, (subjects.get(group.name) ?? 0) + 1);
        const sender = get(payload, 'sender', 'login');
        if (typeof sender === 'string') assert.equal(ce.sender, sender, `${group.name}#${i} sender`);
        const action = get(payload, 'action');
        if (typeof action === 'string') assert.equal(ce.action, action, `${group.name}#${i} action`);
        const repo = get(payload, 'repository', 'name');
        if (typeof repo === 'string' && !['membership', 'organization', 'org_block'].includes(group.name)) {
          assert.equal(ce.repository, repo, `${group.name}#${i} repository`);
        }
      }
    }
    assert.equal(n, EXAMPLES.reduce((a, g) => a + g.examples.length, 0));
    // Every event type Knative maps gets its subject on every example.
    for (const name of Object.keys(KNATIVE_SUBJECT)) {
      const count = EXAMPLES.find((g) => g.name === name)?.examples.length;
      if (count !== undefined) assert.equal(subjects.get(name), count, `subject missing for some ${name} examples`);
    }
    assert.equal(source.stats.accepted, n);
  });

  test('per-event extensions follow Knative: push carries ref/pusher/forced, status its state', async () => {
    const push = EXAMPLES.find((g) => g.name === 'push')!.examples[0]!;
    const before = sink.requests.length;
    assert.equal((await deliver(srv.url, { event: 'push', body: JSON.stringify(push), secret: SECRET })).status, 202);
    await sink.waitFor(before + 1);
    const ce = toCloudEvent(sink.requests[before]!);
    assert.equal(ce.ref, get(push, 'ref'));
    assert.equal(ce.pusher, get(push, 'pusher', 'name'));
    assert.equal(ce.forced, String(get(push, 'forced')));
    assert.equal(ce.owner, get(push, 'repository', 'owner', 'login'));

    const status = EXAMPLES.find((g) => g.name === 'status')!.examples[0]!;
    assert.equal((await deliver(srv.url, { event: 'status', body: JSON.stringify(status), secret: SECRET })).status, 202);
    await sink.waitFor(before + 2);
    const st = toCloudEvent(sink.requests[before + 1]!);
    assert.equal(st.state, get(status, 'state'));
    assert.equal(st.subject, get(status, 'sha'));
  });

  test('every example event name is in the documented event list', () => {
    for (const g of EXAMPLES) assert.ok(KNOWN_GITHUB_EVENTS.has(g.name), g.name);
  });

  test('a missing, wrong or SHA-1-only signature is 401 and nothing is emitted', async () => {
    const before = sink.requests.length;
    const body = JSON.stringify(EXAMPLES.find((g) => g.name === 'issues')!.examples[0]);
    const cases: DeliveryOptions[] = [
      { event: 'issues', body },
      { event: 'issues', body, secret: 'not the secret' },
      { event: 'issues', body, headers: { 'x-hub-signature': 'sha1=0000000000000000000000000000000000000000' } },
      { event: 'issues', body, headers: { 'x-hub-signature-256': 'sha256=deadbeef' } },
      { event: 'issues', body: '', headers: { 'x-hub-signature-256': 'sha256=00' } },
    ];
    for (const c of cases) {
      const r = await deliver(srv.url, c);
      assert.equal(r.status, 401, JSON.stringify(c.headers));
      assert.equal(r.body.reason, 'SLUICE_ERR_WEBHOOK_SIGNATURE');
      assert.match(String(r.body.error), /X-Hub-Signature-256/);
    }
    // Signed, then tampered with in transit.
    const headers = await deliveryHeaders({ event: 'issues', body, secret: SECRET });
    const res = await request(srv.url, { method: 'POST', headers, body: body.replace('{', '{ ') });
    assert.equal(res.statusCode, 401);
    await res.body.dump();
    assert.equal(sink.requests.length, before);
  });

  test('the signature covers the raw bytes: a body with 0xFF does not verify with the signature of its U+FFFD text', async () => {
    const before = sink.requests.length;
    const json = JSON.stringify({ ...EXAMPLES.find((g) => g.name === 'issues')!.examples[0], zen: 'MARK' });
    const [head, tail] = json.split('MARK') as [string, string];
    const raw = Buffer.concat([Buffer.from(head), Buffer.from([0xff]), Buffer.from(tail)]);
    const lossy = raw.toString('utf8');
    assert.ok(lossy.includes('\uFFFD') && !Buffer.from(lossy).equals(raw));
    // Signed over the decoded text (what a string-based check would verify against): refused.
    const forged = await deliveryHeaders({ event: 'issues', body: lossy, secret: SECRET });
    const res = await request(srv.url, { method: 'POST', headers: forged, body: raw });
    const refused = (await res.body.json()) as Record<string, unknown>;
    assert.equal(res.statusCode, 401, JSON.stringify(refused));
    assert.equal(refused.reason, 'SLUICE_ERR_WEBHOOK_SIGNATURE');
    // The same bytes signed over the bytes: accepted, and the data reaches the sink unchanged.
    const ok = await deliver(srv.url, { event: 'issues', body: raw, secret: SECRET });
    assert.equal(ok.status, 202, JSON.stringify(ok.body));
    await sink.waitFor(before + 1);
    assert.ok(sink.requests[before]!.body.equals(raw));
    // Malformed signature headers fail without comparing anything.
    for (const sig of ['sha256=' + 'g'.repeat(64), 'sha256=' + 'a'.repeat(63), 'sha256=' + 'a'.repeat(66), 'SHA256', 'sha1=' + 'a'.repeat(40)]) {
      const r = await deliver(srv.url, { event: 'issues', body: raw, headers: { 'x-hub-signature-256': sig } });
      assert.equal(r.status, 401, sig);
      assert.match(String(r.body.error), /X-Hub-Signature-256/);
    }
    assert.equal(sink.requests.length, before + 1);
  });

  test('a signed body that is not JSON, or no event/delivery header, is 400', async () => {
    const before = sink.requests.length;
    let r = await deliver(srv.url, { event: 'push', body: 'this is not json', secret: SECRET });
    assert.equal(r.status, 400);
    assert.match(String(r.body.error), /not JSON/);
    r = await deliver(srv.url, { event: 'push', body: '[1,2]', secret: SECRET });
    assert.equal(r.status, 400);
    r = await deliver(srv.url, { event: 'push', body: '{}', secret: SECRET, headers: { 'x-github-event': undefined } });
    assert.equal(r.status, 400);
    assert.match(String(r.body.error), /X-GitHub-Event/);
    r = await deliver(srv.url, { event: 'push', body: '{}', secret: SECRET, headers: { 'x-github-delivery': undefined } });
    assert.equal(r.status, 400);
    assert.match(String(r.body.error), /X-GitHub-Delivery/);
    r = await deliver(srv.url, { event: 'Push Event', body: '{}', secret: SECRET });
    assert.equal(r.status, 400);
    assert.equal(sink.requests.length, before);
  });

  test('other methods are 405', async () => {
    const r = await deliver(srv.url, { event: 'push', body: '{}', secret: SECRET }, 'PUT');
    assert.equal(r.status, 405);
  });

  test('a form-encoded delivery (content type set by hand on GitHub) is read from its payload field', async () => {
    const before = sink.requests.length;
    const json = JSON.stringify(EXAMPLES.find((g) => g.name === 'watch')!.examples[0]);
    const body = new URLSearchParams({ payload: json }).toString();
    const r = await deliver(srv.url, { event: 'watch', body, secret: SECRET, contentType: 'application/x-www-form-urlencoded' });
    assert.equal(r.status, 202);
    await sink.waitFor(before + 1);
    assert.equal(sink.requests[before]!.body.toString(), json);
  });

  test('a redelivery of the same X-GitHub-Delivery is acknowledged but not emitted twice', async () => {
    const before = sink.requests.length;
    const body = JSON.stringify(EXAMPLES.find((g) => g.name === 'star')!.examples[0]);
    const id = '9e1d8b40-0000-11ef-8000-000000000001';
    const [a, b] = await Promise.all([
      deliver(srv.url, { event: 'star', id, body, secret: SECRET }),
      deliver(srv.url, { event: 'star', id, body, secret: SECRET }),
    ]);
    const c = await deliver(srv.url, { event: 'star', id, body, secret: SECRET });
    assert.deepEqual([a.status, b.status, c.status], [202, 202, 202]);
    assert.deepEqual([a.body.status, b.body.status, c.body.status].sort(), ['accepted', 'duplicate', 'duplicate']);
    await sink.waitFor(before + 1);
    // A different delivery of the same payload is a new event.
    assert.equal((await deliver(srv.url, { event: 'star', body, secret: SECRET })).body.status, 'accepted');
    await sink.waitFor(before + 2);
    assert.equal(sink.requests.length, before + 2);
  });
});

describe('GitHubSource filtering, failures and configuration', () => {
  const issues = JSON.stringify(EXAMPLES.find((g) => g.name === 'issues')!.examples[0]);
  const ping = JSON.stringify(EXAMPLES.find((g) => g.name === 'ping')!.examples[0]);

  test('events not in spec.eventTypes are answered 200 "filtered"; ping is emitted like Knative does', async () => {
    const sink = await startSink();
    const source = new GitHubSource({ namespace: 'default', name: 'gh', spec: { ...baseSpec, eventTypes: ['push'] }, resolveSecret: secrets({ 'gh/secret': SECRET }) });
    await source.start(httpEmit(sink.url));
    const srv = await serve(source);
    try {
      const r = await deliver(srv.url, { event: 'issues', body: issues, secret: SECRET });
      assert.equal(r.status, 200);
      assert.equal(r.body.status, 'filtered');
      const p = await deliver(srv.url, { event: 'ping', body: ping, secret: SECRET });
      assert.equal(p.status, 202);
      await sink.waitFor(1);
      assert.equal(sink.requests.length, 1);
      const ce = toCloudEvent(sink.requests[0]!);
      assert.equal(ce.type, 'dev.knative.source.github.ping');
      assert.equal(ce.subject, String(JSON.parse(ping).hook_id));
      assert.equal(source.stats.filtered, 1);
    } finally {
      await source.stop();
      await srv.close();
      await sink.close();
    }
  });

  test('when the sink refuses, GitHub gets a non-2xx, and a later redelivery is emitted', async () => {
    let fail = true;
    const sink = await startSink((_req, res) => {
      res.statusCode = fail ? 500 : 202;
      res.end();
    });
    const source = new GitHubSource({ namespace: 'default', name: 'gh', spec: baseSpec, resolveSecret: secrets({ 'gh/secret': SECRET }) });
    await source.start(httpEmit(sink.url));
    const srv = await serve(source);
    try {
      const id = 'c0ffee00-0000-11ef-8000-000000000002';
      const r1 = await deliver(srv.url, { event: 'issues', id, body: issues, secret: SECRET });
      assert.equal(r1.status, 503);
      assert.match(String(r1.body.error), /sink answered 500/);
      fail = false;
      const r2 = await deliver(srv.url, { event: 'issues', id, body: issues, secret: SECRET });
      assert.equal(r2.status, 202);
      assert.equal(r2.body.status, 'accepted');
      assert.equal(sink.requests.length, 2);
      assert.equal(toCloudEvent(sink.requests[1]!).id, id);
      assert.equal(source.stats.emitFailures, 1);
    } finally {
      await source.stop();
      await srv.close();
      await sink.close();
    }
  });

  test('an emit error carrying a status (429 channel full) is passed on', async () => {
    const source = new GitHubSource({ namespace: 'default', name: 'gh', spec: { ...baseSpec, secretToken: undefined }, resolveSecret: () => undefined });
    const { ChannelFullError } = await import('../../src/errors.js');
    await source.start(async () => {
      throw new ChannelFullError('channel default/in is full');
    });
    const r = await source.handleRequest({ method: 'POST', headers: await deliveryHeaders({ event: 'issues', body: issues }), body: Buffer.from(issues) });
    assert.equal(r.statusCode, 429);
    assert.equal(r.body.reason, 'SLUICE_ERR_CHANNEL_FULL');
  });

  test('without a secretToken deliveries are accepted unsigned, and the status says so', async () => {
    const events: SluiceEvent[] = [];
    const source = new GitHubSource({ namespace: 'default', name: 'gh', spec: { ...baseSpec, secretToken: undefined }, resolveSecret: () => undefined });
    await source.start(async (e) => void events.push(e));
    const r = await source.handleRequest({ method: 'POST', headers: await deliveryHeaders({ event: 'issues', body: issues }), body: Buffer.from(issues) });
    assert.equal(r.statusCode, 202);
    assert.equal(events.length, 1);
    const cond = source.status().conditions.find((c) => c.type === 'SecretsProvided');
    assert.equal(cond?.reason, 'Unsigned');
    assert.match(cond?.message ?? '', /without a signature check/);
  });

  test('a configured secretToken whose Secret is missing is 503, never "accept unsigned"', async () => {
    const events: SluiceEvent[] = [];
    const source = new GitHubSource({ namespace: 'default', name: 'gh', spec: baseSpec, resolveSecret: () => undefined });
    await source.start(async (e) => void events.push(e));
    const r = await source.handleRequest({ method: 'POST', headers: await deliveryHeaders({ event: 'issues', body: issues }), body: Buffer.from(issues) });
    assert.equal(r.statusCode, 503);
    assert.match(String(r.body.error), /secret default\/gh has no key "secret"/);
    assert.equal(events.length, 0);
    assert.equal(source.status().conditions.find((c) => c.type === 'SecretsProvided')?.status, 'False');
  });

  test('before start 503, after stop 503', async () => {
    const source = new GitHubSource({ namespace: 'default', name: 'gh', spec: { ...baseSpec, secretToken: undefined }, resolveSecret: () => undefined });
    const req = { method: 'POST', headers: await deliveryHeaders({ event: 'issues', body: issues }), body: Buffer.from(issues) };
    assert.equal((await source.handleRequest(req)).statusCode, 503);
    await source.start(async () => undefined);
    assert.equal((await source.handleRequest(req)).statusCode, 202);
    await source.stop();
    assert.equal((await source.handleRequest(req)).statusCode, 503);
  });

  test('ceOverrides extensions are added to every event; "*" accepts every event type', async () => {
    const events: SluiceEvent[] = [];
    const spec = { ...baseSpec, eventTypes: ['*'], secretToken: undefined, ceOverrides: { extensions: { team: 'platform' } } };
    const source = new GitHubSource({ namespace: 'default', name: 'gh', spec, resolveSecret: () => undefined });
    await source.start(async (e) => void events.push(e));
    const r = await source.handleRequest({ method: 'POST', headers: await deliveryHeaders({ event: 'issues', body: issues }), body: Buffer.from(issues) });
    assert.equal(r.statusCode, 202);
    assert.equal(events[0]?.attributes.team, 'platform');
  });

  test('the spec schema reports bad fields by name', () => {
    const bad = (spec: unknown, re: RegExp) => {
      assert.throws(
        () => new GitHubSource({ namespace: 'default', name: 'gh', spec: spec as GitHubSourceOptions['spec'], resolveSecret: () => undefined }),
        (err: unknown) => err instanceof ResourceValidationError && re.test(err.message),
      );
    };
    bad({ ...baseSpec, ownerAndRepository: 'a/b/c' }, /spec\.ownerAndRepository: .*not "owner\/repository"/);
    bad({ ...baseSpec, eventTypes: [] }, /spec\.eventTypes: at least one GitHub event type/);
    bad({ ...baseSpec, eventTypes: ['push', 'Pull-Request'] }, /spec\.eventTypes\[1\]: .*not a GitHub webhook event name/);
    bad({ ...baseSpec, githubAPIURL: 'not a url' }, /spec\.githubAPIURL/);
    bad({ ...baseSpec, secretToken: { secretKeyRef: { name: 'gh' } } }, /spec\.secretToken\.secretKeyRef\.key/);
    bad({ ...baseSpec, repository: 'x' }, /repository/);
    bad({ ...baseSpec, sink: undefined }, /spec\.sink/);
    // Org-wide and unknown-but-well-formed event names are fine.
    new GitHubSource({ namespace: 'default', name: 'gh', spec: { ...baseSpec, ownerAndRepository: 'octo-org', eventTypes: ['some_future_event'] }, resolveSecret: () => undefined });
  });

  test('the kind definition validates like the constructor and defaults the sink namespace', () => {
    const parsed = gitHubSourceKind.spec.safeParse({ ...baseSpec, sink: { ref: { apiVersion: 'eventing.knative.dev/v1', kind: 'Broker', name: 'default' } } });
    assert.ok(parsed.success);
    const r = { apiVersion: 'sources.knative.dev/v1alpha1', kind: 'GitHubSource', metadata: { name: 'gh', namespace: 'team-a' }, spec: parsed.data };
    gitHubSourceKind.defaults?.(r, {} as never);
    assert.equal(r.spec.sink.ref?.namespace, 'team-a');
    assert.equal(gitHubSourceKind.spec.safeParse({ ...baseSpec, eventTypes: undefined }).success, false);
  });
});
