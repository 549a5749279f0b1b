import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { runCli } from './run-cli.js';

// `sluice kubeconfig` as a real child process: printed, written and merged kubeconfigs, and
// (when kubectl is installed) kubectl reading what we wrote. No broker is needed.

interface Kubeconfig {
  apiVersion?: string;
  kind?: string;
  clusters: { name: string; cluster: { server: string } }[];
  users: { name: string; user: { token?: string } }[];
  contexts: { name: string; context: { cluster: string; user: string; namespace?: string } }[];
  'current-context'?: string;
  preferences?: unknown;
}

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-kubeconfig-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const named = <T extends { name: string }>(list: T[], name: string): T | undefined => list.find((e) => e.name === name);

test('prints a kubeconfig for the default server, without credentials when no token is given', async () => {
  const r = await runCli(['kubeconfig']);
  assert.equal(r.code, 0, r.stderr);
  const kc = parse(r.stdout) as Kubeconfig;
  assert.equal(kc.apiVersion, 'v1');
  assert.equal(kc.kind, 'Config');
  assert.deepEqual(kc.clusters, [{ name: 'sluice', cluster: { server: 'http://127.0.0.1:9090' } }]);
  assert.deepEqual(kc.users, [{ name: 'sluice', user: {} }]);
  assert.deepEqual(kc.contexts, [{ name: 'sluice', context: { cluster: 'sluice', user: 'sluice', namespace: 'default' } }]);
  assert.equal(kc['current-context'], 'sluice');
});

test('prints the token, the server and the namespace given, under --name', async () => {
  const r = await runCli(['--server', 'https://sluice.example:9443/', 'kubeconfig', '--name', 'edge', '-n', 'team-a'], { env: { SLUICE_ADMIN_TOKEN: 's3cret' } });
  assert.equal(r.code, 0, r.stderr);
  const kc = parse(r.stdout) as Kubeconfig;
  // The trailing slash goes, as the admin client drops it too.
  assert.deepEqual(kc.clusters, [{ name: 'edge', cluster: { server: 'https://sluice.example:9443' } }]);
  assert.deepEqual(kc.users, [{ name: 'edge', user: { token: 's3cret' } }]);
  assert.deepEqual(kc.contexts, [{ name: 'edge', context: { cluster: 'edge', user: 'edge', namespace: 'team-a' } }]);
  assert.equal(kc['current-context'], 'edge');
});

test('--out creates the file (and its folders) with mode 0600 and says how to use it', async () => {
  const file = join(dir, 'new', 'nested', 'sluice.kubeconfig');
  const r = await runCli(['kubeconfig', '-o', file, '--token', 'tok'], { env: { SLUICE_SERVER: 'http://10.0.0.5:9090' } });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim().split('\n').length, 1, r.stdout);
  assert.ok(r.stdout.includes(`kubectl --kubeconfig ${file} get brokers`), r.stdout);
  assert.ok(r.stdout.includes(`export KUBECONFIG=${file}`), r.stdout);
  if (process.platform !== 'win32') assert.equal(statSync(file).mode & 0o777, 0o600);
  const kc = parse(readFileSync(file, 'utf8')) as Kubeconfig;
  assert.equal(named(kc.clusters, 'sluice')?.cluster.server, 'http://10.0.0.5:9090');
  assert.equal(named(kc.users, 'sluice')?.user.token, 'tok');
  assert.equal(kc['current-context'], 'sluice');
});

const EXISTING = `# written by hand: keep this comment
apiVersion: v1
kind: Config
clusters:
- cluster:
    server: https://prod.example:6443
  name: prod
- cluster:
    server: http://stale:1
  name: sluice
contexts:
- context:
    cluster: prod
    user: prod
  name: prod
current-context: prod
preferences: {}
users:
- name: prod
  user:
    token: prod-token
`;

test('--out merges into an existing kubeconfig: other entries kept, ours replaced, current-context only with --use-context', async () => {
  const file = join(dir, 'existing.kubeconfig');
  writeFileSync(file, EXISTING, { mode: 0o644 });
  const r = await runCli(['kubeconfig', '--server', 'http://127.0.0.1:19090', '--token', 'new-token', '-o', file]);
  assert.equal(r.code, 0, r.stderr);
  // Not our context by default in someone else's file: the hint names it.
  assert.ok(r.stdout.includes(`kubectl --kubeconfig ${file} --context sluice get brokers`), r.stdout);
  const text = readFileSync(file, 'utf8');
  assert.match(text, /# written by hand: keep this comment/);
  let kc = parse(text) as Kubeconfig;
  assert.deepEqual(named(kc.clusters, 'prod'), { name: 'prod', cluster: { server: 'https://prod.example:6443' } });
  assert.deepEqual(named(kc.users, 'prod'), { name: 'prod', user: { token: 'prod-token' } });
  assert.deepEqual(named(kc.contexts, 'prod'), { name: 'prod', context: { cluster: 'prod', user: 'prod' } });
  assert.deepEqual(kc.preferences, {});
  // Replaced, not duplicated.
  assert.deepEqual(kc.clusters.filter((c) => c.name === 'sluice'), [{ name: 'sluice', cluster: { server: 'http://127.0.0.1:19090' } }]);
  assert.equal(named(kc.users, 'sluice')?.user.token, 'new-token');
  assert.deepEqual(named(kc.contexts, 'sluice')?.context, { cluster: 'sluice', user: 'sluice', namespace: 'default' });
  assert.equal(kc['current-context'], 'prod');
  if (process.platform !== 'win32') assert.equal(statSync(file).mode & 0o777, 0o600);

  const again = await runCli(['kubeconfig', '-o', file, '--use-context', '-n', 'ops']);
  assert.equal(again.code, 0, again.stderr);
  kc = parse(readFileSync(file, 'utf8')) as Kubeconfig;
  assert.equal(kc['current-context'], 'sluice');
  assert.equal(kc.clusters.length, 2);
  assert.equal(kc.users.length, 2);
  assert.equal(kc.contexts.length, 2);
  assert.equal(named(kc.contexts, 'sluice')?.context.namespace, 'ops');
  // No --token this time: the user entry loses its credentials.
  assert.deepEqual(named(kc.users, 'sluice')?.user, {});
});

test('an invalid --server is an error naming --server, and nothing is written', async () => {
  const file = join(dir, 'never.kubeconfig');
  for (const server of ['not a url', 'ftp://127.0.0.1:9090']) {
    const r = await runCli(['--server', server, 'kubeconfig', '-o', file]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^sluice: --server .*(not a URL|http:\/\/ or https:\/\/)/);
    assert.equal(r.stdout, '');
  }
  assert.equal(existsSync(file), false);
});

test('an existing --out file that is not a kubeconfig is an error naming it, and is left unchanged', async () => {
  for (const [name, content] of [
    ['broken.yaml', 'clusters: [unclosed\n'],
    ['other.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n'],
  ] as const) {
    const file = join(dir, name);
    writeFileSync(file, content);
    const r = await runCli(['kubeconfig', '-o', file]);
    assert.equal(r.code, 1);
    assert.ok(r.stderr.startsWith(`sluice: --out ${file}: `), r.stderr);
    assert.match(r.stderr, /left unchanged/);
    assert.equal(readFileSync(file, 'utf8'), content);
  }
});

const hasKubectl = spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).error === undefined;

test('kubectl accepts the file: server and token as written', { skip: hasKubectl ? false : 'kubectl is not on PATH' }, async () => {
  const file = join(dir, 'for-kubectl.kubeconfig');
  const r = await runCli(['--server', 'http://127.0.0.1:19091', '--token', 'kubectl-token', 'kubeconfig', '-o', file]);
  assert.equal(r.code, 0, r.stderr);
  const kubectl = (...args: string[]) => promisify(execFile)('kubectl', ['--kubeconfig', file, ...args], { env: { ...process.env, KUBECONFIG: '' } });
  const server = await kubectl('config', 'view', '--minify', '-o', 'jsonpath={.clusters[0].cluster.server}');
  assert.equal(server.stdout, 'http://127.0.0.1:19091');
  const raw = await kubectl('config', 'view', '--raw');
  const kc = parse(raw.stdout) as Kubeconfig;
  assert.equal(named(kc.users, 'sluice')?.user.token, 'kubectl-token');
  assert.equal(kc['current-context'], 'sluice');
  const ns = await kubectl('config', 'view', '--minify', '-o', 'jsonpath={.contexts[0].context.namespace}');
  assert.equal(ns.stdout, 'default');
});
