import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { waitUntil } from '../helpers/sluice.js';
import { alive, relayServiceYaml } from './e2e-helpers.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

/**
 * `bin/sluice.js` runs the compiled CLI; it is used when dist/ is at least as new as
 * the sources this test depends on, else the same entry point through tsx.
 */
function cliCommand(): { argv: string[]; what: string } {
  const fresh = (src: string, out: string) => existsSync(join(root, out)) && statSync(join(root, out)).mtimeMs >= statSync(join(root, src)).mtimeMs;
  const built =
    fresh('src/activator/service-reconciler.ts', 'dist/activator/service-reconciler.js') &&
    fresh('src/server/sluice-server.ts', 'dist/server/sluice-server.js') &&
    fresh('src/cli/start.ts', 'dist/cli/start.js');
  return built ? { argv: [join(root, 'bin/sluice.js')], what: 'bin/sluice.js' } : { argv: ['--import', 'tsx', join(root, 'src/cli/main.ts')], what: 'src/cli/main.ts via tsx' };
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

/** The process group of `pid` (Linux /proc), i.e. the replica's watchdog. */
function processGroup(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

test('SIGKILL of `sluice start`: the replica it cold-started (and its whole process group) is gone within seconds', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-orphans-'));
  const file = join(dir, 'service.yaml');
  writeFileSync(file, relayServiceYaml('victim'));
  const [port, adminPort] = [await freePort(), await freePort()];
  const cli = cliCommand();
  t.diagnostic(`running ${cli.what}`);
  const child = spawn(process.execPath, [...cli.argv, 'start', '-f', file, '--port', String(port), '--admin-port', String(adminPort), '--host', '127.0.0.1', '--log-format', 'json'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  let pid = 0;
  try {
    await waitUntil(() => out.includes('sluice is running') || child.exitCode !== null, 20_000, 'sluice to start');
    assert.ok(out.includes('sluice is running'), out);
    const res = await request(`http://127.0.0.1:${port}/services/default/victim/`, { method: 'POST', body: 'wake up' });
    await res.body.dump();
    assert.equal(res.statusCode, 202);
    pid = Number(res.headers['x-replica-pid']);
    assert.ok(pid > 0 && alive(pid));
    const pgid = processGroup(pid);
    assert.notEqual(pgid, processGroup(child.pid!), 'the replica runs in its own process group');

    const killedAt = Date.now();
    child.kill('SIGKILL');
    await exited;
    await waitUntil(() => !alive(pid) && !groupAlive(pgid), 10_000, 'the replica and its watchdog to be gone');
    t.diagnostic(`replica gone ${Date.now() - killedAt} ms after SIGKILL`);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    if (pid && alive(pid)) process.kill(pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
