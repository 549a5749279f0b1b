import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A private server process for tests (nats-server, redis-server): its own free port and
 * temp data dir, never the machine's services on default ports. `stop()` (SIGTERM) and
 * `kill()` (SIGKILL) keep port and data dir so `start()`/`restart()` bring the same
 * server back, for "backend down then back" tests. `dispose()` removes everything.
 */
export class ServerProcess {
  readonly port: number;
  readonly dir: string;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #stderr = '';
  readonly #name: string;
  readonly #command: string;
  readonly #args: string[];
  readonly #probe: (port: number) => Promise<boolean>;

  constructor(options: { name: string; command: string; args: string[]; port: number; dir: string; probe: (port: number) => Promise<boolean> }) {
    this.#name = options.name;
    this.#command = options.command;
    this.#args = options.args;
    this.port = options.port;
    this.dir = options.dir;
    this.#probe = options.probe;
  }

  get running(): boolean {
    return this.#child !== undefined;
  }

  /** Spawns the server and resolves once it answers on its port. */
  async start(timeoutMs = 15_000): Promise<void> {
    if (this.#child) return;
    this.#stderr = '';
    const child = spawn(this.#command, this.#args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: this.dir });
    this.#child = child;
    const keep = (c: Buffer) => {
      this.#stderr = (this.#stderr + c.toString()).slice(-4000);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    let exitedEarly = false;
    this.#exited = new Promise<void>((resolve) => {
      child.once('exit', () => {
        exitedEarly = true;
        if (this.#child === child) this.#child = undefined;
        resolve();
      });
      child.once('error', () => resolve());
    });
    const started = Date.now();
    for (;;) {
      if (exitedEarly) throw new Error(`${this.#name} exited during start: ${this.#stderr}`);
      if (await this.#probe(this.port).catch(() => false)) return;
      if (Date.now() - started > timeoutMs) {
        await this.kill();
        throw new Error(`${this.#name} did not accept connections on ${this.port} within ${timeoutMs} ms: ${this.#stderr}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** SIGTERM and wait for exit (SIGKILL after 10 s). */
  async stop(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await this.#exited;
    clearTimeout(t);
  }

  /** SIGKILL: the server dies without flushing anything it has not written yet. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    child.kill('SIGKILL');
    await this.#exited;
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  async dispose(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A port nobody listens on right now, for a server a test spawns. Picked at random below
 * the kernel's ephemeral range (32768-60999 on Linux): a port the kernel hands out is also
 * what outgoing connections (hundreds in a test run) take, so between our check and the
 * child's bind another socket could take it. Checked by binding it; never a default port.
 */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (port === 27017 || port === 25672) continue;
    if (await canBind(port)) return port;
  }
  throw new Error('no free port found in 20000-31999');
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** Starts a server on a fresh free port, again on another one if the port was taken meanwhile. */
export async function startOnFreePort<T extends ServerProcess>(make: (port: number) => T, tries = 5): Promise<T> {
  for (let i = 1; ; i++) {
    const server = make(await freePort());
    try {
      await server.start();
      return server;
    } catch (e) {
      await server.dispose();
      if (i >= tries || !/address already in use|Address already in use/.test(String((e as Error).message))) throw e;
    }
  }
}

/** Connects, optionally writes `send`, and resolves true once the reply contains `expect`. */
export function probeTcp(port: number, expect: string, send?: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = tcpConnect({ host: '127.0.0.1', port });
    let buf = '';
    const done = (ok: boolean) => {
      clearTimeout(t);
      sock.destroy();
      resolve(ok);
    };
    const t = setTimeout(() => done(false), timeoutMs);
    sock.once('error', () => done(false));
    sock.once('connect', () => {
      if (send) sock.write(send);
    });
    sock.on('data', (c: Buffer) => {
      buf += c.toString();
      if (buf.includes(expect)) done(true);
    });
  });
}

export class NatsServer extends ServerProcess {
  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }
}

/** Starts `nats-server -js` on a free loopback port with its store in a temp dir. */
export function startNatsServer(options: { extraArgs?: string[] } = {}): Promise<NatsServer> {
  return startOnFreePort((port) => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-nats-'));
    return new NatsServer({
      name: 'nats-server',
      command: process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server',
      args: ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', join(dir, 'js'), ...(options.extraArgs ?? [])],
      port,
      dir,
      // The server sends INFO as soon as a client connects; JetStream is enabled before
      // the accept loop starts, so INFO means JetStream is usable.
      probe: (p) => probeTcp(p, 'INFO '),
    });
  });
}
