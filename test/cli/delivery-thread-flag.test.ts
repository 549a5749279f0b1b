import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/nats-server.js';
import { spawnCli, waitUntil } from './run-cli.js';

/** Threads of a running `sluice start` with `flag` (Linux: /proc), once it is ready. */
async function threadsWith(flag: string, dir: string): Promise<number> {
  const [port, adminPort] = [await freePort(), await freePort()];
  const { child, exited } = spawnCli(['start', '-f', dir, '--port', String(port), '--admin-port', String(adminPort), '--host', '127.0.0.1', flag]);
  try {
    await waitUntil(async () => (await fetch(`http://127.0.0.1:${adminPort}/readyz`).catch(() => undefined))?.ok === true, 30_000, `readiness with ${flag}`);
    return readdirSync(`/proc/${child.pid}/task`).length;
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

// The default depends on the machine's cores (a thread from 3 on); both flags override it.
test('--delivery-thread starts a delivery thread and --no-delivery-thread does not', { skip: !existsSync('/proc/self/task') }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-thread-flag-'));
  writeFileSync(join(dir, 'c.yaml'), 'apiVersion: messaging.knative.dev/v1\nkind: InMemoryChannel\nmetadata: {name: c}\n');
  try {
    const [on, off] = await Promise.all([threadsWith('--delivery-thread', dir), threadsWith('--no-delivery-thread', dir)]);
    // More than one more under tsx: the thread registers tsx, whose module hooks run in a thread of their own.
    assert.ok(on > off, `threads: ${on} with --delivery-thread, ${off} with --no-delivery-thread`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
