import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { spawnSupervised } from '../../src/process/index.js';

const node = process.execPath;

function capturingLogger(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function waitUntil(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('spawnSupervised', () => {
  test('logs stdout and stderr line by line with the name, reports the exit code and env', async () => {
    const { logger, lines } = capturingLogger();
    const p = spawnSupervised({
      name: 'echo',
      command: node,
      args: ['-e', "console.log('one'); console.log('two ' + process.env.GREETING); console.error('oops'); process.exit(3)"],
      env: { GREETING: 'hello', PATH: process.env.PATH ?? '' },
      logger,
    });
    assert.ok(p.pid > 0);
    const exit = await p.exited;
    assert.deepEqual(exit, { code: 3, signal: null });
    const out = lines.filter((l) => l.process === 'echo' && l.stream);
    // stdout lines keep their order; stderr is a separate pipe, so only its content is checked.
    assert.deepEqual(out.filter((l) => l.stream === 'stdout').map((l) => l.msg), ['one', 'two hello']);
    assert.deepEqual(out.filter((l) => l.stream === 'stderr').map((l) => l.msg), ['oops']);
    assert.equal(out.find((l) => l.msg === 'oops')?.level, 40);
  });

  test('a command that does not exist resolves exited with an error and does not throw', async () => {
    const { logger, lines } = capturingLogger();
    const p = spawnSupervised({ name: 'missing', command: 'definitely-not-a-command-sluice', logger });
    const exit = await p.exited;
    assert.equal(exit.code, null);
    assert.match(exit.error ?? '', /ENOENT/);
    assert.ok(lines.some((l) => l.msg === 'process could not be started'));
    await p.stop(100); // harmless after exit
  });

  test('stop() ends the whole group: SIGTERM first, SIGKILL after the grace period', async () => {
    const { logger, lines } = capturingLogger();
    // The child ignores SIGTERM and has a grandchild in the same group.
    const p = spawnSupervised({
      name: 'stubborn',
      command: 'sh',
      args: ['-c', "trap '' TERM; sleep 30 & echo started; wait"],
      logger,
    });
    await waitUntil(() => lines.some((l) => l.msg === 'started'), 10_000, 'the child to start');
    const t0 = Date.now();
    await p.stop(300);
    assert.ok(Date.now() - t0 >= 250, 'waited for the grace period before SIGKILL');
    await waitUntil(() => !groupAlive(p.pid), 5000, 'group to be gone');
  });

  test('a well-behaved child stops on SIGTERM and reports the signal', async () => {
    const { logger } = capturingLogger();
    const p = spawnSupervised({ name: 'calm', command: node, args: ['-e', "console.log('up'); setInterval(() => {}, 1000)"], logger });
    await waitUntil(() => groupAlive(p.pid), 5000, 'group to exist');
    await new Promise((r) => setTimeout(r, 100));
    await p.stop(10_000);
    const exit = await p.exited;
    assert.equal(exit.signal, 'SIGTERM');
    assert.equal(groupAlive(p.pid), false);
  });

  for (const mode of ['wait', 'exit'] as const) {
    test(`no orphans when the parent ${mode === 'wait' ? 'is SIGKILLed' : 'exits normally'}`, async () => {
      const fixture = fileURLToPath(new URL('./fixtures/supervising-parent.ts', import.meta.url));
      const parent = spawn(node, ['--import', 'tsx', fixture, mode], { stdio: ['ignore', 'pipe', 'inherit'] });
      const parentExited = new Promise<void>((r) => parent.once('exit', () => r()));
      try {
        const info = await new Promise<{ groups: number[]; grandchild: number }>((resolve, reject) => {
          const t = setTimeout(() => reject(new Error('parent did not report its children')), 20_000);
          createInterface({ input: parent.stdout! }).once('line', (line) => {
            clearTimeout(t);
            resolve(JSON.parse(line) as { groups: number[]; grandchild: number });
          });
        });
        assert.equal(info.groups.length, 2);
        for (const g of info.groups) assert.ok(groupAlive(g), `group ${g} running`);
        assert.ok(alive(info.grandchild));
        if (mode === 'wait') parent.kill('SIGKILL');
        await parentExited;
        // Child b ignores SIGTERM: its watchdog must escalate to SIGKILL (grace 500 ms).
        await waitUntil(() => info.groups.every((g) => !groupAlive(g)) && !alive(info.grandchild), 10_000, 'children to be gone');
      } finally {
        if (parent.exitCode === null && parent.signalCode === null) parent.kill('SIGKILL');
      }
    });
  }
});
