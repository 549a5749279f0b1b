import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

/**
 * Node's arguments to run Sluice as `sluice start` runs: the node flags the launcher
 * execs node with (its `exec node ... "$0" "$@"` line), then the launcher. Benchmarks
 * spawn process.execPath with these, so they measure the same node and the same flags.
 */
export const SLUICE_BIN: readonly string[] = (() => {
  const launcher = readFileSync(fileURLToPath(new URL('../../bin/sluice.js', import.meta.url)), 'utf8');
  const flags = /^":" \/\/; exec node (.*) "\$0" "\$@"$/m.exec(launcher)?.[1]?.trim().split(/\s+/).filter(Boolean);
  if (!flags) throw new Error('bin/sluice.js has no `exec node ... "$0" "$@"` line');
  return [...flags, 'bin/sluice.js'];
})();

/** A free TCP port on loopback (the OS picks; closed right away for the child to bind). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Spawns a node child and resolves once its stdout or stderr prints `readyText`. */
export function spawnNode(args: string[], readyText: string | RegExp, env: Record<string, string> = {}): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const onData = (d: Buffer) => {
      out += d.toString();
      if (typeof readyText === 'string' ? out.includes(readyText) : readyText.test(out)) {
        child.stdout!.off('data', onData);
        child.stderr!.off('data', onData);
        child.stdout!.resume();
        child.stderr!.resume();
        resolve(child);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`child exited with ${code} before it was ready:\n${out.slice(-2000)}`)));
  });
}

/** Spawns a node child and resolves once `probe` answers true (polled every 50 ms). */
export function spawnUntil(args: string[], probe: () => Promise<boolean>, env: Record<string, string> = {}, timeoutMs = 30_000): Promise<ChildProcess> {
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const onExit = (code: number | null) => reject(new Error(`child exited with ${code} before it was ready:\n${err}`));
    child.once('exit', onExit);
    const poll = async () => {
      if (child.exitCode !== null) return;
      if (await probe().catch(() => false)) {
        child.off('exit', onExit);
        return resolve(child);
      }
      if (Date.now() - started > timeoutMs) {
        child.kill('SIGKILL');
        return reject(new Error(`child not ready after ${timeoutMs} ms:\n${err}`));
      }
      setTimeout(poll, 50);
    };
    void poll();
  });
}

export async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
  });
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}
