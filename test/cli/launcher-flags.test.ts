import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/nats-server.js';
import { waitUntil } from './run-cli.js';

/**
 * The launcher gives node a larger young generation (fewer scavenges per event on a busy
 * broker). The flag lives in three places users start Sluice from: the launcher (a
 * shell line that execs node with it), `npm start` and the image's ENTRYPOINT. They
 * must agree.
 */
const launcher = readFileSync('bin/sluice.js', 'utf8');
const execLine = /^":" \/\/; exec node (.+) "\$0" "\$@"$/m.exec(launcher);
const flags = execLine?.[1]?.trim().split(/\s+/) ?? [];

test('the launcher runs node with a larger young generation, as npm start and the image do', () => {
  assert.ok(launcher.startsWith('#!/bin/sh\n'), 'the launcher is run by sh');
  assert.ok(flags.some((f) => /^--max-semi-space-size=\d+$/.test(f)), `exec line: ${execLine?.[0]}`);
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> };
  assert.equal(pkg.scripts.start, `node ${flags.join(' ')} bin/sluice.js start -f config/`);
  const entry = /^ENTRYPOINT\s+(\[.*\])$/m.exec(readFileSync('deploy/Dockerfile', 'utf8'))?.[1];
  assert.deepEqual(JSON.parse(entry ?? '[]'), ['node', ...flags, 'bin/sluice.js']);
});

test('run as a program, `sluice start` is one node process with those flags', { skip: !existsSync('/proc/self/cmdline') || !existsSync('dist/cli/main.js') }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-launcher-'));
  writeFileSync(join(dir, 'c.yaml'), 'apiVersion: messaging.knative.dev/v1\nkind: InMemoryChannel\nmetadata: {name: c}\n');
  const [port, adminPort] = [await freePort(), await freePort()];
  // Executed as a program: sh runs it and execs node in its place (same pid, so argv is node's).
  const child = spawn('./bin/sluice.js', ['start', '-f', dir, '--port', String(port), '--admin-port', String(adminPort), '--host', '127.0.0.1'], { stdio: 'ignore' });
  const spawnError = new Promise<never>((_, reject) => child.once('error', reject));
  try {
    await Promise.race([spawnError, waitUntil(async () => (await fetch(`http://127.0.0.1:${adminPort}/readyz`).catch(() => undefined))?.ok === true, 30_000, 'readiness')]);
    const argv = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0');
    for (const f of flags) assert.ok(argv.includes(f), `argv: ${argv.join(' ')}`);
    assert.match(argv[0]!, /node/);
  } finally {
    // Already gone (it failed to start): there is no exit left to wait for.
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  }
});
