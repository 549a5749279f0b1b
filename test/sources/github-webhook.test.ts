import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { GitHubApiError } from '../../src/errors.js';
import { GitHubSource, GitHubWebhookClient, GITHUB_API_VERSION, type GitHubSourceOptions, type GitHubSourceSpecInput } from '../../src/sources/github/index.js';
import { FakeGitHubApi } from '../helpers/fake-github-api.js';

const TOKEN = 'ghp_0123456789abcdefABCDEF0123456789abcd';
const SECRET = 'shared-secret';
const PUBLIC = 'https://hooks.example.com';

const secretsOf = (values: Record<string, string>, name: string, key: string): string | undefined => values[`${name}/${key}`];

async function waitUntil(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('GitHubSource webhook registration', () => {
  let api: FakeGitHubApi;
  const sources: GitHubSource[] = [];

  before(async () => {
    api = await new FakeGitHubApi({ token: TOKEN }).start();
  });
  after(async () => {
    await Promise.all(sources.map((s) => s.stop()));
    await api.close();
  });
  beforeEach(() => {
    api.hooks.clear();
    api.calls.length = 0;
    api.addTarget('octo-org/hello-world').addTarget('octo-org');
  });

  function make(over: Omit<Partial<GitHubSourceOptions>, 'spec'> & { spec?: Partial<GitHubSourceSpecInput> } = {}): GitHubSource {
    const { spec, ...rest } = over;
    const s = new GitHubSource({
      namespace: 'team-a',
      name: 'repo-events',
      publicUrl: PUBLIC,
      resolveSecret: (name, key) => secretsOf({ 'gh/token': TOKEN, 'gh/secret': SECRET }, name, key),
      registrationRetryInitialMs: 50,
      registrationRetryMaxMs: 200,
      ...rest,
      spec: {
        ownerAndRepository: 'octo-org/hello-world',
        eventTypes: ['push', 'pull_request'],
        accessToken: { secretKeyRef: { name: 'gh', key: 'token' } },
        secretToken: { secretKeyRef: { name: 'gh', key: 'secret' } },
        githubAPIURL: api.url,
        secure: true,
        sink: { uri: 'http://127.0.0.1:1/' },
        ...spec,
      },
    });
    sources.push(s);
    return s;
  }

  test('start creates the repository hook with the URL, events and secret, sending GitHub API headers', async () => {
    const s = make();
    await s.start(async () => undefined);
    const hooks = api.hooksOf('octo-org/hello-world');
    assert.equal(hooks.length, 1);
    const h = hooks[0]!;
    assert.deepEqual(h.config, { url: `${PUBLIC}/sources/team-a/repo-events`, content_type: 'json', insecure_ssl: '0', secret: SECRET });
    assert.deepEqual(h.events, ['push', 'pull_request']);
    assert.equal(h.active, true);
    const post = api.calls.find((c) => c.method === 'POST')!;
    assert.equal(post.path, '/repos/octo-org/hello-world/hooks');
    assert.equal(post.headers.authorization, `Bearer ${TOKEN}`);
    assert.equal(post.headers.accept, 'application/vnd.github+json');
    assert.equal(post.headers['x-github-api-version'], GITHUB_API_VERSION);
    assert.equal((post.body as { name: string }).name, 'web');
    assert.equal(s.webhookId, h.id);
    const st = s.status();
    assert.equal(st.webhookIDKey, String(h.id));
    assert.equal(st.conditions.find((c) => c.type === 'WebhookConfigured')?.status, 'True');
  });

  test('registration is idempotent: a restart updates the same hook instead of adding one', async () => {
    await make().start(async () => undefined);
    const first = api.hooksOf('octo-org/hello-world')[0]!.id;
    const again = make({ spec: { eventTypes: ['push', 'issues'], secure: false } });
    await again.start(async () => undefined);
    const hooks = api.hooksOf('octo-org/hello-world');
    assert.equal(hooks.length, 1);
    assert.equal(hooks[0]!.id, first);
    assert.deepEqual(hooks[0]!.events, ['push', 'issues']);
    assert.equal(hooks[0]!.config.insecure_ssl, '1');
    assert.equal(again.status().conditions.find((c) => c.type === 'WebhookConfigured')?.reason, 'Updated');
    assert.ok(api.calls.some((c) => c.method === 'PATCH' && c.path === `/repos/octo-org/hello-world/hooks/${first}`));
  });

  test('a hook with our URL beyond the first page of hooks is found and reused', async () => {
    for (let i = 0; i < 150; i++) api.seedHook('octo-org/hello-world', { config: { url: `https://other.example.com/${i}`, content_type: 'json', insecure_ssl: '0' } });
    const mine = api.seedHook('octo-org/hello-world', { config: { url: `${PUBLIC}/sources/team-a/repo-events`, content_type: 'form', insecure_ssl: '0' } });
    const s = make();
    await s.start(async () => undefined);
    assert.equal(s.webhookId, mine.id);
    assert.equal(api.hooksOf('octo-org/hello-world').length, 151);
    assert.equal(mine.config.content_type, 'json');
    assert.equal(mine.config.secret, SECRET);
    assert.ok(api.calls.filter((c) => c.method === 'GET').length >= 2, 'followed the Link header');
  });

  test('deregister removes the hook; plain stop leaves it', async () => {
    const s = make();
    await s.start(async () => undefined);
    await s.stop();
    assert.equal(api.hooksOf('octo-org/hello-world').length, 1);
    const removed = await s.deregister();
    assert.equal(removed.length, 1);
    assert.equal(api.hooksOf('octo-org/hello-world').length, 0);
    // Deleting what is already gone is not an error.
    assert.deepEqual(await make().deregister(), []);
  });

  test('an organization source registers an org hook', async () => {
    const s = make({ spec: { ownerAndRepository: 'octo-org' } });
    await s.start(async () => undefined);
    assert.equal(api.hooksOf('octo-org').length, 1);
    assert.ok(api.calls.some((c) => c.method === 'POST' && c.path === '/orgs/octo-org/hooks'));
    await s.deregister();
    assert.equal(api.hooksOf('octo-org').length, 0);
  });

  test('GitHub Enterprise: githubAPIURL with /api/v3 is used as the base', async () => {
    const s = make({ spec: { githubAPIURL: `${api.url}/api/v3/` } });
    await s.start(async () => undefined);
    assert.ok(api.calls.some((c) => c.path === '/api/v3/repos/octo-org/hello-world/hooks'));
    assert.equal(api.hooksOf('octo-org/hello-world').length, 1);
  });

  test('a bad token is reported in status with GitHub\'s message and not retried', async () => {
    const s = make({ resolveSecret: (name, key) => secretsOf({ 'gh/token': 'wrong', 'gh/secret': SECRET }, name, key) });
    await s.start(async () => undefined);
    const cond = s.status().conditions.find((c) => c.type === 'WebhookConfigured')!;
    assert.equal(cond.status, 'False');
    assert.equal(cond.reason, 'RegistrationFailed');
    assert.match(cond.message ?? '', /401: Bad credentials/);
    const calls = api.calls.length;
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(api.calls.length, calls, 'no retry of a 401');
  });

  test('a 5xx from GitHub is retried with backoff until the hook is registered', async () => {
    api.failNext(502, 'Server Error', 2);
    const s = make();
    await s.start(async () => undefined);
    assert.equal(s.status().conditions.find((c) => c.type === 'WebhookConfigured')?.reason, 'RegistrationRetrying');
    await waitUntil(() => s.webhookId !== undefined, 'registration after retries');
    assert.equal(api.hooksOf('octo-org/hello-world').length, 1);
  });

  test('without a public URL or an access token nothing is registered, and the status says why', async () => {
    const noUrl = make({ publicUrl: undefined });
    await noUrl.start(async () => undefined);
    assert.equal(noUrl.status().conditions.find((c) => c.type === 'WebhookConfigured')?.reason, 'NoPublicUrl');
    const noToken = make({ spec: { accessToken: undefined } });
    await noToken.start(async () => undefined);
    assert.equal(noToken.status().conditions.find((c) => c.type === 'WebhookConfigured')?.reason, 'NotManaged');
    assert.equal(api.calls.length, 0);
  });

  test('GitHubWebhookClient errors carry GitHub\'s status and message', async () => {
    const client = new GitHubWebhookClient({ apiUrl: api.url, token: TOKEN, owner: 'octo-org', repo: 'hello-world' });
    await client.createHook({ url: `${PUBLIC}/x`, events: ['push'], insecureSsl: false });
    await assert.rejects(
      () => client.createHook({ url: `${PUBLIC}/x`, events: ['push'], insecureSsl: false }),
      (err: unknown) => err instanceof GitHubApiError && err.status === 422 && err.githubMessage === 'Validation Failed' && /Hook already exists/.test(err.message),
    );
    const missing = new GitHubWebhookClient({ apiUrl: api.url, token: TOKEN, owner: 'octo-org', repo: 'nope' });
    await assert.rejects(() => missing.listHooks(), (err: unknown) => err instanceof GitHubApiError && err.status === 404);
    assert.equal(await client.deleteHook(424242), false);
    const unreachable = new GitHubWebhookClient({ apiUrl: 'http://127.0.0.1:1', token: TOKEN, owner: 'o', repo: 'r' });
    await assert.rejects(() => unreachable.listHooks(), (err: unknown) => err instanceof GitHubApiError && err.status === undefined && /could not be reached/.test(err.message));
  });
});
