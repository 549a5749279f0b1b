import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { alive, waitUntil } from './helpers.js';

test('no replica outlives a SIGKILLed broker', async () => {
  const fixture = fileURLToPath(new URL('./fixtures/activator-parent.ts', import.meta.url));
  const parent = spawn(process.execPath, ['--import', 'tsx', fixture], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((r) => parent.once('exit', () => r()));
  try {
    const { pids } = await new Promise<{ pids: number[] }>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('parent did not report its replicas')), 30_000);
      createInterface({ input: parent.stdout! }).once('line', (line) => {
        clearTimeout(t);
        resolve(JSON.parse(line) as { pids: number[] });
      });
    });
    assert.equal(pids.length, 2);
    assert.notEqual(pids[0], pids[1]);
    for (const pid of pids) assert.ok(alive(pid));
    parent.kill('SIGKILL');
    await exited;
    await waitUntil(() => pids.every((p) => !alive(p)), 10_000, 'replicas to be gone');
  } finally {
    if (parent.exitCode === null && parent.signalCode === null) parent.kill('SIGKILL');
  }
});
