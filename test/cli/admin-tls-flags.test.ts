// `sluice start --admin-tls-cert/--admin-tls-key`: checked before anything starts, and the
// admin port then answers HTTPS only (kubectl sends a kubeconfig token only over TLS).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { waitUntil } from '../helpers/sluice.js';
import { selfSignedCert } from '../kube-api/kubectl-helpers.js';

const CLI = ['--import', 'tsx', 'src/cli/main.ts'];

test('--admin-tls-cert without --admin-tls-key, or an unreadable file, stops sluice start naming the flag', () => {
  const half = spawnSync(process.execPath, [...CLI, 'start', '--port', '0', '--admin-port', '0', '--admin-tls-cert', '/etc/hostname'], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(half.status, 1);
  assert.match(half.stderr, /^sluice: --admin-tls-cert needs --admin-tls-key$/m);
  const missing = spawnSync(process.execPath, [...CLI, 'start', '--port', '0', '--admin-port', '0', '--admin-tls-cert', '/nonexistent.crt', '--admin-tls-key', '/nonexistent.key'], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /--admin-tls-cert: cannot read \/nonexistent\.crt/);
});

test('with a certificate and key, the admin port serves HTTPS with the token; plain HTTP gets no answer', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-admin-tls-'));
  const tls = selfSignedCert(dir);
  const child = spawn(process.execPath, [...CLI, 'start', '--port', '0', '--admin-port', '0', '--log-format', 'json', '--data-dir', join(dir, 'data'), '--admin-token', 'tls-token', '--admin-tls-cert', tls.certFile, '--admin-tls-key', tls.keyFile, '--container-runtime', 'none'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const agent = new Agent({ connect: { ca: tls.cert } });
  try {
    await waitUntil(() => /"admin":"https:\/\/127\.0\.0\.1:\d+"/.test(out), 30_000, `the https admin URL in the log: ${out}`);
    const admin = /"admin":"(https:\/\/127\.0\.0\.1:\d+)"/.exec(out)![1]!;
    const ok = await request(`${admin}/apis/eventing.knative.dev/v1/brokers`, { headers: { authorization: 'Bearer tls-token' }, dispatcher: agent });
    assert.equal(ok.statusCode, 200);
    assert.equal(((await ok.body.json()) as { kind: string }).kind, 'BrokerList');
    const noToken = await request(`${admin}/apis`, { dispatcher: agent });
    await noToken.body.dump();
    assert.equal(noToken.statusCode, 401);
    await assert.rejects(request(admin.replace('https:', 'http:') + '/readyz', { headersTimeout: 5000, bodyTimeout: 5000 }).then((r) => r.body.dump()));
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    await agent.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
