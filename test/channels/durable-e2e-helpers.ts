// Process-level harness for the durable channel end-to-end tests: the real `sluice start`
// CLI (built from src/ at test start, so never a stale build) in child processes, fed by
// a CloudEvents SDK producer over HTTP, delivering to a recording sink on loopback.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudEvent, HTTP } from 'cloudevents';
import { Agent, request } from 'undici';
import { freePort } from '../helpers/nats-server.js';
import { startSink, type RecordingSink, type SinkResponder } from '../helpers/sink.js';
import { waitUntil } from '../helpers/sluice.js';

export { waitUntil };

/** A folder with one YAML file, removed by `dispose()`. */
export function configDir(yaml: string): { dir: string; dispose: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-e2e-'));
  writeFileSync(join(dir, 'resources.yaml'), yaml);
  return { dir, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

let cli: Promise<string[]> | undefined;

/**
 * How to run the CLI from the current sources. tsx transpiles each of the ~150 modules at
 * every start (4-5 s on a busy 2-core machine; these tests start brokers a dozen times),
 * so the entry is bundled once per test process with esbuild (tsx's own compiler), in
 * ~0.3 s. The bundle sits two levels below the repo, as src/cli/main.ts does, so that
 * paths relative to it (package.json) and bare imports (node_modules) resolve the same.
 * Without esbuild, tsx it is.
 */
export function cliCommand(): Promise<string[]> {
  cli ??= (async () => {
    try {
      const esbuild = await import('esbuild');
      mkdirSync('node_modules/.sluice-e2e', { recursive: true });
      removeOrphanBundles('node_modules/.sluice-e2e');
      const outfile = `node_modules/.sluice-e2e/main-${process.pid}.mjs`;
      try {
        await esbuild.build({ entryPoints: ['src/cli/main.ts'], bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', outfile, logLevel: 'error' });
      } finally {
        // esbuild keeps a service process (and this test process) alive until told to stop.
        await esbuild.stop();
      }
      process.once('exit', () => rmSync(outfile, { force: true }));
      return [outfile];
    } catch {
      return ['--import', 'tsx', 'src/cli/main.ts'];
    }
  })();
  return cli;
}

/** Bundles left by test processes that were killed before their exit hook ran. */
function removeOrphanBundles(dir: string): void {
  for (const f of readdirSync(dir)) {
    const pid = Number(/^main-(\d+)\.mjs$/.exec(f)?.[1]);
    if (!pid) continue;
    try {
      process.kill(pid, 0);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ESRCH') rmSync(join(dir, f), { force: true });
    }
  }
}

/** One `sluice start` process. `start()` again after a kill brings it back on the same ports. */
export class Broker {
  readonly port: number;
  readonly adminPort: number;
  #args: string[];
  #child: ChildProcess | undefined;
  #exited: Promise<number | null> = Promise.resolve(null);
  /** The last few KiB of the process output, for failure messages. */
  output = '';

  private constructor(port: number, adminPort: number, args: string[]) {
    this.port = port;
    this.adminPort = adminPort;
    this.#args = args;
  }

  static async create(dir: string, args: string[]): Promise<Broker> {
    // A port freePort() found free can be taken by a parallel test before sluice binds it:
    // on EADDRINUSE, try again on fresh ports. Restarts keep theirs (the test needs them).
    for (let attempt = 1; ; attempt++) {
      const b = new Broker(await freePort(), await freePort(), ['-f', dir, ...args]);
      try {
        await b.start();
        return b;
      } catch (err) {
        if (attempt >= 3 || !b.output.includes('EADDRINUSE')) throw err;
        await b.kill();
      }
    }
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get adminUrl(): string {
    return `http://127.0.0.1:${this.adminPort}`;
  }

  /** Spawns the CLI and resolves once /readyz answers 200 (every channel connected). */
  async start(readyTimeoutMs = 30_000): Promise<void> {
    const args = [
      ...(await cliCommand()), 'start', ...this.#args,
      '--host', '127.0.0.1', '--port', String(this.port), '--admin-port', String(this.adminPort),
      '--log-format', 'json', '--log-level', 'warn', '--drain-timeout', '5s',
    ];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: withoutSluiceEnv() });
    this.#child = child;
    const keep = (d: Buffer) => {
      this.output = (this.output + d.toString()).slice(-8000);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    this.#exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    await waitUntil(async () => {
      if (child.exitCode !== null) throw new Error(`sluice exited with ${child.exitCode}:\n${this.output}`);
      return (await this.readiness()).ready;
    }, readyTimeoutMs, `sluice on ${this.port} to be ready:\n${this.output}`);
  }

  async readiness(): Promise<{ ready: boolean; pending: string[] }> {
    try {
      const r = await request(`${this.adminUrl}/readyz`);
      const body = (await r.body.json()) as { pending?: string[] };
      return { ready: r.statusCode === 200, pending: body.pending ?? [] };
    } catch {
      return { ready: false, pending: ['admin port not answering'] };
    }
  }

  /** `kill -9`: nothing is flushed, nothing is drained. */
  async kill(): Promise<void> {
    this.#child?.kill('SIGKILL');
    await this.#exited;
    this.#child = undefined;
  }

  /** SIGTERM: graceful shutdown; resolves with the exit code. */
  async stop(): Promise<number | null> {
    if (!this.#child) return null;
    this.#child.kill('SIGTERM');
    const t = setTimeout(() => this.#child?.kill('SIGKILL'), 20_000);
    const code = await this.#exited;
    clearTimeout(t);
    this.#child = undefined;
    return code;
  }

  /** Sum of one Prometheus counter over all its label sets, from the admin port. */
  async counter(name: string): Promise<number> {
    const r = await request(`${this.adminUrl}/metrics`);
    const text = await r.body.text();
    let sum = 0;
    for (const line of text.split('\n')) {
      if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
    return sum;
  }

  /** The Ready condition of one resource, as the admin API shows it. */
  async condition(kind: string, name: string, namespace = 'default'): Promise<{ status: string; reason?: string; message?: string } | undefined> {
    const r = await request(`${this.adminUrl}/api/v1/resources/${kind}/${namespace}/${name}`);
    if (r.statusCode !== 200) {
      await r.body.dump();
      return undefined;
    }
    const body = (await r.body.json()) as { status?: { conditions?: Array<{ type: string; status: string; reason?: string; message?: string }> } };
    return body.status?.conditions?.find((c) => c.type === 'Ready');
  }
}

/** A test must not pick up the machine's SLUICE_* settings (e.g. a real NATS URL). */
function withoutSluiceEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SLUICE_')) env[k] = v;
  return env;
}

/**
 * Sends CloudEvents (binary mode, built with the CloudEvents SDK) and keeps count of
 * what each attempt got. `accepted` holds the ids answered 202: the ones Sluice promised
 * to deliver.
 */
export class Producer {
  readonly accepted = new Set<string>();
  /** HTTP status (or `error` for no response) -> count. */
  readonly outcomes = new Map<string, number>();
  readonly #agent = new Agent({ connections: 64, connect: { timeout: 2000 }, headersTimeout: 15_000, bodyTimeout: 15_000 });

  /** One attempt; resolves with the status, or `error` when the broker did not answer. */
  async send(url: string, id: string): Promise<number | 'error'> {
    const message = HTTP.binary(new CloudEvent({ id, source: '/sluice/e2e', type: 'dev.sluice.e2e', datacontenttype: 'application/json', data: { id } }));
    let outcome: number | 'error';
    try {
      const r = await request(url, { method: 'POST', headers: message.headers as Record<string, string>, body: message.body as string, dispatcher: this.#agent });
      await r.body.dump();
      outcome = r.statusCode;
    } catch {
      outcome = 'error';
    }
    this.outcomes.set(String(outcome), (this.outcomes.get(String(outcome)) ?? 0) + 1);
    if (outcome === 202) this.accepted.add(id);
    return outcome;
  }

  /** Sends until 202, as a producer that must not lose its event would (503 and refused connections are retried). */
  async sendUntilAccepted(url: () => string, id: string, giveUp: () => boolean = () => false): Promise<void> {
    for (let delay = 20; !giveUp(); delay = Math.min(delay * 2, 250)) {
      if ((await this.send(url(), id)) === 202) return;
      await new Promise((r) => setTimeout(r, delay));
    }
  }

  /** Sends every id with `concurrency` requests in flight, each until accepted. */
  async sendAll(url: () => string, ids: readonly string[], concurrency: number, giveUp?: () => boolean): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < ids.length) await this.sendUntilAccepted(url, ids[next++]!, giveUp);
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  }

  count(outcome: string | number): number {
    return this.outcomes.get(String(outcome)) ?? 0;
  }

  async close(): Promise<void> {
    await this.#agent.close();
  }
}

/** Decides a sink's answer: an HTTP status, possibly after a while. */
export type SinkAnswer = (id: string, attempt: number) => number | Promise<number>;

/**
 * A subscriber that records, per event id, when each delivery attempt arrived, and which
 * ids it acknowledged (a 2xx that was fully written: an attempt cut off by a dying broker
 * does not count as delivered).
 */
export class EventSink {
  readonly attempts = new Map<string, number[]>();
  readonly delivered = new Set<string>();
  sink!: RecordingSink;
  #answer: SinkAnswer;
  readonly #delayMs: number;

  /** `delayMs`: how long each answer takes (a subscriber doing some work). */
  constructor(answer: SinkAnswer = () => 202, delayMs = 0) {
    this.#answer = answer;
    this.#delayMs = delayMs;
  }

  async start(): Promise<this> {
    const responder: SinkResponder = async (req, res) => {
      const id = String(req.headers['ce-id'] ?? '');
      const times = this.attempts.get(id) ?? [];
      times.push(Date.now());
      this.attempts.set(id, times);
      const status = await this.#answer(id, times.length);
      if (this.#delayMs > 0) await new Promise((r) => setTimeout(r, this.#delayMs));
      if (status >= 200 && status < 300) res.once('finish', () => this.delivered.add(id));
      res.statusCode = status;
      res.end();
    };
    this.sink = await startSink(responder);
    return this;
  }

  get url(): string {
    return this.sink.url;
  }

  /** Ids in `ids` the sink has not acknowledged. */
  missing(ids: Iterable<string>): string[] {
    return [...ids].filter((id) => !this.delivered.has(id));
  }

  close(): Promise<void> {
    return this.sink.close();
  }
}

/** A promise to hold answers with, and the function that lets them go. */
export function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((r) => (open = r));
  return { wait, open };
}

export const range = (n: number, prefix: string): string[] => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
