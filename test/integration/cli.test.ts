import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitUntil } from '../helpers/sluice.js';
import { freePort } from '../helpers/nats-server.js';

const CLI = ['--import', 'tsx', 'src/cli/main.ts'];


test('sluice start --help documents every flag', () => {
  const r = spawnSync(process.execPath, [...CLI, 'start', '--help'], { encoding: 'utf8' });
  assert.equal(r.status, 0);
  for (const flag of ['--file', '--port', '--admin-port', '--host', '--admin-host', '--data-dir', '--log-level', '--max-body', '--drain-timeout']) {
    assert.match(r.stdout, new RegExp(flag), flag);
  }
});

test('an invalid config at start exits non-zero naming file, document, resource and field', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-cli-'));
  try {
    const file = join(dir, 'subs.yaml');
    writeFileSync(
      file,
      `apiVersion: messaging.knative.dev/v1
kind: InMemoryChannel
metadata: {name: c}
---
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata: {name: to-sink}
spec:
  channel: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: c}
  subscriber: {uri: "http://127.0.0.1:1/"}
  delivery: {backoffDelay: 5s}
`,
    );
    const r = spawnSync(process.execPath, [...CLI, 'start', '--strict', '-f', file, '--port', '0', '--admin-port', '0'], { encoding: 'utf8', timeout: 20_000 });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /subs\.yaml#2 Subscription default\/to-sink: spec\.delivery\.backoffDelay: "5s" is not an ISO-8601 duration/);
    const missing = spawnSync(process.execPath, [...CLI, 'start', '-f', join(dir, 'nope.yaml')], { encoding: 'utf8', timeout: 20_000 });
    assert.notEqual(missing.status, 0);
    assert.match(missing.stderr, /nope\.yaml/);
    const badFlag = spawnSync(process.execPath, [...CLI, 'start', '-f', file, '--port', 'eighty'], { encoding: 'utf8', timeout: 20_000 });
    assert.notEqual(badFlag.status, 0);
    assert.match(badFlag.stderr, /--port/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('npm start example: events sent with curl-like POSTs reach the event display; SIGTERM exits 0', async () => {
  const port = await freePort();
  const adminPort = await freePort();
  const child = spawn(process.execPath, [...CLI, 'start', '-f', 'config/', '--port', String(port), '--admin-port', String(adminPort), '--log-format', 'json'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  try {
    await waitUntil(() => out.includes('send events with POST'), 60_000, 'the start banner');
    assert.match(out, new RegExp(`http://127\\.0\\.0\\.1:${port}/channels/default/demo`));
    const res = await fetch(`http://127.0.0.1:${port}/channels/default/demo`, {
      method: 'POST',
      headers: { 'ce-specversion': '1.0', 'ce-id': 'walk-1', 'ce-source': '/laptop', 'ce-type': 'dev.example.hello', 'content-type': 'application/json' },
      body: '{"hello":"world"}',
    });
    assert.equal(res.status, 202);
    await waitUntil(async () => {
      const r = await fetch(`http://127.0.0.1:${adminPort}/api/v1/displays/default/event-display`);
      const j = (await r.json()) as { items: Array<{ attributes: { id: string }; data: string }> };
      return j.items.some((i) => i.attributes.id === 'walk-1' && i.data === '{"hello":"world"}');
    }, 5000, 'the event at the display');
  } finally {
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  }
});
