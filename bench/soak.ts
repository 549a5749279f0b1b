/**
 * Soak benchmark (issue #10): a steady load for a bounded time into one channel per
 * selected kind (InMemoryChannel, NatsJetStreamChannel, RedisChannel), each with three
 * subscriptions: a healthy sink (202 at once), a slow sink (202 after 200 ms) and a
 * failing sink (always 500; retry 2, linear 100 ms, then a dead-letter sink).
 * Sluice runs as its own process (`bin/sluice.js start`, fresh per kind); sinks and the
 * load generator (undici Pool, fixed rate) run here; all traffic stays on 127.0.0.1.
 * Private nats-server (-js) and redis-server (appendonly yes, fsync every second).
 * Every few seconds: Sluice's RSS (/proc/<pid>/status VmRSS) and event-loop lag p99
 * (`sluice_process_nodejs_eventloop_lag_p99_seconds` from /metrics on the admin port;
 * prom-client resets it per scrape, so each sample covers the interval since the last).
 * After the load, a drain phase waits until every accepted event reached each sink (or
 * the drain time runs out). Reported per kind: sent/accepted/refused, delivered per sink
 * (unique ids), dead-lettered, RSS and loop lag over time, and events lost = accepted
 * ids the healthy sink never got (must be 0 for the durable kinds).
 * Options (flags after `npm run bench -- soak`, or env): --duration/SOAK_SECONDS (per
 * kind, default 60), --channels/SOAK_CHANNELS (memory,nats,redis), --rate/SOAK_RATE
 * (events/s, default 500), --drain/SOAK_DRAIN_SECONDS (default 30),
 * --sample/SOAK_SAMPLE_SECONDS (default 5, 2 for runs under 60 s).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { Pool } from 'undici';
import { freePort, median, percentile, spawnUntil, stop, SLUICE_BIN } from './lib/processes.js';
import { startNatsServer, type NatsServer } from '../test/helpers/nats-server.js';
import { startRedisServer, type RedisServer } from '../test/helpers/redis-server.js';

export type SoakKind = 'memory' | 'nats' | 'redis';
const KINDS: Record<SoakKind, { apiVersion: string; kind: string }> = {
  memory: { apiVersion: 'messaging.knative.dev/v1', kind: 'InMemoryChannel' },
  nats: { apiVersion: 'messaging.knative.dev/v1alpha1', kind: 'NatsJetStreamChannel' },
  redis: { apiVersion: 'messaging.sluice.dev/v1alpha1', kind: 'RedisChannel' },
};

export interface SoakOptions {
  seconds: number;
  channels: SoakKind[];
  rate: number;
  drainSeconds: number;
  sampleSeconds: number;
}

/** Reads `--name value`, `--name=value` or the env variable. */
export function soakOptionsFromArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): SoakOptions {
  const arg = (name: string): string | undefined => {
    for (let i = 0; i < argv.length; i++) {
      const a = argv[i]!;
      if (a === `--${name}`) return argv[i + 1];
      if (a.startsWith(`--${name}=`)) return a.slice(name.length + 3);
    }
    return undefined;
  };
  const num = (name: string, envName: string, dflt: number): number => {
    const raw = arg(name) ?? env[envName];
    if (raw === undefined || raw === '') return dflt;
    const n = Number(raw.replace(/s$/, ''));
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name}/${envName}: ${JSON.stringify(raw)} is not a positive number`);
    return n;
  };
  const seconds = num('duration', 'SOAK_SECONDS', 60);
  const channels = (arg('channels') ?? env.SOAK_CHANNELS ?? 'memory,nats,redis').split(',').map((s) => s.trim()).filter(Boolean);
  for (const c of channels) if (!(c in KINDS)) throw new Error(`--channels: ${JSON.stringify(c)} is not one of ${Object.keys(KINDS).join(', ')}`);
  return {
    seconds,
    channels: channels as SoakKind[],
    rate: num('rate', 'SOAK_RATE', 500),
    drainSeconds: num('drain', 'SOAK_DRAIN_SECONDS', 30),
    sampleSeconds: num('sample', 'SOAK_SAMPLE_SECONDS', seconds < 60 ? 2 : 5),
  };
}

/** The four sinks on one loopback server; counters are per phase (reset between kinds). */
class Sinks {
  healthy = new Map<string, number>();
  slow = new Map<string, number>();
  failingAttempts = 0;
  dead = new Map<string, number>();
  slowInFlight = 0;
  slowInFlightMax = 0;
  #server: Server;
  port = 0;

  constructor() {
    this.#server = createServer((req, res) => this.#handle(req, res));
    this.#server.keepAliveTimeout = 65_000;
  }

  async listen(): Promise<void> {
    this.port = await freePort();
    await new Promise<void>((resolve) => this.#server.listen(this.port, '127.0.0.1', resolve));
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}/${path}`;
  }

  reset(): void {
    this.healthy.clear();
    this.slow.clear();
    this.dead.clear();
    this.failingAttempts = 0;
    this.slowInFlightMax = 0;
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const id = String(req.headers['ce-id'] ?? '');
    req.resume();
    req.on('end', () => {
      const count = (m: Map<string, number>) => m.set(id, (m.get(id) ?? 0) + 1);
      switch (req.url) {
        case '/healthy':
          count(this.healthy);
          res.statusCode = 202;
          return res.end();
        case '/slow':
          this.slowInFlight++;
          this.slowInFlightMax = Math.max(this.slowInFlightMax, this.slowInFlight);
          setTimeout(() => {
            this.slowInFlight--;
            count(this.slow);
            res.statusCode = 202;
            res.end();
          }, 200);
          return;
        case '/failing':
          this.failingAttempts++;
          res.statusCode = 500;
          return res.end('soak: always failing');
        case '/dead':
          count(this.dead);
          res.statusCode = 202;
          return res.end();
        default:
          res.statusCode = 404;
          return res.end();
      }
    });
  }

  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

function yaml(kind: SoakKind, sinks: Sinks): string {
  const { apiVersion, kind: k } = KINDS[kind];
  const channel = `soak-${kind}`;
  const sub = (name: string, uri: string, delivery = '') => `---
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata: {name: ${channel}-${name}}
spec:
  channel: {apiVersion: ${apiVersion}, kind: ${k}, name: ${channel}}
  subscriber: {uri: "${uri}"}
${delivery}`;
  return `apiVersion: ${apiVersion}
kind: ${k}
metadata: {name: ${channel}}
${sub('healthy', sinks.url('healthy'))}${sub('slow', sinks.url('slow'))}${sub(
    'failing',
    sinks.url('failing'),
    `  delivery:
    retry: 2
    backoffPolicy: linear
    backoffDelay: PT0.1S
    deadLetterSink: {uri: "${sinks.url('dead')}"}
`,
  )}`;
}

interface Sample {
  /** Seconds since the load started (negative: before). */
  t: number;
  phase: 'load' | 'drain';
  rssMiB: number;
  heapUsedMiB: number | undefined;
  loopLagP99Ms: number | undefined;
  loopLagMaxMs: number | undefined;
}

function rssMiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

function metric(text: string, name: string): number | undefined {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+)`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

async function sample(pid: number, adminPort: number, t: number, phase: Sample['phase']): Promise<Sample> {
  let text = '';
  try {
    const r = await fetch(`http://127.0.0.1:${adminPort}/metrics`);
    text = await r.text();
  } catch {
    // a missed scrape is a gap in the lag series, not a failed run
  }
  const ms = (v: number | undefined) => (v === undefined ? undefined : v * 1000);
  const heap = metric(text, 'sluice_process_nodejs_heap_size_used_bytes');
  return {
    t: Math.round(t * 10) / 10,
    phase,
    rssMiB: Math.round(rssMiB(pid) * 10) / 10,
    heapUsedMiB: heap === undefined ? undefined : Math.round((heap / 1048576) * 10) / 10,
    loopLagP99Ms: ms(metric(text, 'sluice_process_nodejs_eventloop_lag_p99_seconds')),
    loopLagMaxMs: ms(metric(text, 'sluice_process_nodejs_eventloop_lag_max_seconds')),
  };
}

const stats = (values: number[]) => {
  const v = values.filter((x) => Number.isFinite(x));
  if (v.length === 0) return { min: NaN, median: NaN, max: NaN };
  const r = (x: number) => Math.round(x * 10) / 10;
  return { min: r(Math.min(...v)), median: r(median(v)), max: r(Math.max(...v)) };
};

const BODY = JSON.stringify({ message: 'soak', n: 42, tags: ['a', 'b', 'c'] });

/** Sends `rate` events/s for `seconds` (fixed schedule, 10 ms ticks); at most `maxInFlight` unanswered. */
async function steadyLoad(url: string, kind: SoakKind, rate: number, seconds: number) {
  const u = new URL(url);
  const pool = new Pool(u.origin, { connections: 64, pipelining: 1, headersTimeout: 30_000, bodyTimeout: 30_000 });
  const accepted = new Set<string>();
  const refused: Record<string, number> = {};
  let sent = 0;
  let errors = 0;
  let skipped = 0;
  let inFlight = 0;
  const maxInFlight = Math.max(256, rate * 2);
  const latencies: number[] = [];
  const pending = new Set<Promise<void>>();
  const send = (n: number) => {
    const id = `${kind}-${n}`;
    const started = performance.now();
    inFlight++;
    const p = pool
      .request({
        path: u.pathname,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'ce-specversion': '1.0', 'ce-id': id, 'ce-type': 'soak.event', 'ce-source': '/soak' },
        body: BODY,
      })
      .then(async (res) => {
        await res.body.dump();
        latencies.push(performance.now() - started);
        if (res.statusCode === 202) accepted.add(id);
        else refused[res.statusCode] = (refused[res.statusCode] ?? 0) + 1;
      })
      .catch(() => {
        errors++;
      })
      .finally(() => {
        inFlight--;
        pending.delete(p);
      });
    pending.add(p);
  };
  const t0 = performance.now();
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const elapsed = (performance.now() - t0) / 1000;
      const due = Math.floor(Math.min(elapsed, seconds) * rate);
      while (sent + skipped < due) {
        if (inFlight >= maxInFlight) {
          skipped++;
          continue;
        }
        send(++sent);
      }
      if (elapsed >= seconds) {
        clearInterval(tick);
        resolve();
      }
    }, 10);
  });
  await Promise.all(pending);
  await pool.close();
  const sorted = latencies.sort((a, b) => a - b);
  return { sent, accepted, refused, errors, skipped, ingressP50Ms: round(percentile(sorted, 50)), ingressP99Ms: round(percentile(sorted, 99)) };
}

const round = (x: number) => Math.round(x * 100) / 100;
const missing = (accepted: Set<string>, got: Map<string, number>) => {
  let n = 0;
  for (const id of accepted) if (!got.has(id)) n++;
  return n;
};
const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);

async function soakOne(kind: SoakKind, o: SoakOptions, sinks: Sinks, backends: { nats?: NatsServer; redis?: RedisServer }) {
  sinks.reset();
  const dir = mkdtempSync(join(tmpdir(), 'sluice-soak-'));
  let sluice: ChildProcess | undefined;
  try {
    writeFileSync(join(dir, 'soak.yaml'), yaml(kind, sinks));
    const port = await freePort();
    const adminPort = await freePort();
    const args = [...SLUICE_BIN, 'start', '-f', dir, '--host', '127.0.0.1', '--port', String(port), '--admin-port', String(adminPort), '--log-level', 'warn', '--log-format', 'json'];
    if (backends.nats) args.push('--nats-url', backends.nats.url);
    if (backends.redis) args.push('--redis-url', backends.redis.url);
    // Ready once the channel and its backend are (readiness covers the backends).
    sluice = await spawnUntil(args, async () => (await fetch(`http://127.0.0.1:${adminPort}/readyz`)).ok);
    const pid = sluice.pid!;
    const samples: Sample[] = [await sample(pid, adminPort, 0, 'load')];
    const started = performance.now();
    let phase: Sample['phase'] = 'load';
    let sampling = Promise.resolve();
    const sampler = setInterval(() => {
      sampling = sampling.then(async () => {
        samples.push(await sample(pid, adminPort, (performance.now() - started) / 1000, phase));
      });
    }, o.sampleSeconds * 1000);
    const load = await steadyLoad(`http://127.0.0.1:${port}/channels/default/soak-${kind}`, kind, o.rate, o.seconds);
    const loadEnded = performance.now();
    phase = 'drain';
    // Drain: until every accepted event reached the healthy and slow sinks and the dead-letter sink.
    const done = () => missing(load.accepted, sinks.healthy) === 0 && missing(load.accepted, sinks.slow) === 0 && missing(load.accepted, sinks.dead) === 0;
    while (!done() && performance.now() - loadEnded < o.drainSeconds * 1000) await new Promise((r) => setTimeout(r, 250));
    const drainSeconds = round((performance.now() - loadEnded) / 1000);
    clearInterval(sampler);
    await sampling;
    samples.push(await sample(pid, adminPort, (performance.now() - started) / 1000, 'drain'));
    const loadSamples = samples.filter((s) => s.phase === 'load');
    const lags = loadSamples.map((s) => s.loopLagP99Ms ?? NaN).filter((x, i) => i > 0);
    const accepted = load.accepted.size;
    const refusedTotal = Object.values(load.refused).reduce((a, b) => a + b, 0);
    const healthyUnique = [...sinks.healthy.keys()].filter((id) => load.accepted.has(id)).length;
    return {
      kind: KINDS[kind].kind,
      seconds: o.seconds,
      rate: o.rate,
      sent: load.sent,
      accepted,
      acceptedPerSec: round(accepted / o.seconds),
      refused: load.refused,
      refusedTotal,
      connectionErrors: load.errors,
      notSentGeneratorFull: load.skipped,
      ingressP50Ms: load.ingressP50Ms,
      ingressP99Ms: load.ingressP99Ms,
      drainSeconds,
      drainComplete: done(),
      healthy: { unique: healthyUnique, deliveries: total(sinks.healthy), duplicates: total(sinks.healthy) - sinks.healthy.size, extraIds: sinks.healthy.size - healthyUnique },
      slow: { unique: sinks.slow.size, deliveries: total(sinks.slow), missing: missing(load.accepted, sinks.slow), maxConcurrent: sinks.slowInFlightMax },
      failing: { attempts: sinks.failingAttempts, attemptsPerEvent: accepted ? round(sinks.failingAttempts / accepted) : 0 },
      deadLettered: { unique: sinks.dead.size, deliveries: total(sinks.dead), missing: missing(load.accepted, sinks.dead) },
      lost: missing(load.accepted, sinks.healthy),
      rssMiB: { ...stats(loadSamples.map((s) => s.rssMiB)), end: samples.at(-1)!.rssMiB },
      loopLagP99Ms: { median: stats(lags).median, max: stats(lags).max },
      samples,
    };
  } finally {
    await stop(sluice);
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchSoak(o: SoakOptions) {
  const sinks = new Sinks();
  await sinks.listen();
  const backends: { nats?: NatsServer; redis?: RedisServer } = {};
  const results = [];
  try {
    if (o.channels.includes('nats')) backends.nats = await startNatsServer();
    // AOF on (fsync every second, as a production Redis would run): a RedisChannel's 202 is then durable.
    if (o.channels.includes('redis')) backends.redis = await startRedisServer({ appendfsync: 'everysec' });
    for (const kind of o.channels) {
      console.log(`-- soak ${kind}: ${o.rate} events/s for ${o.seconds} s (drain up to ${o.drainSeconds} s)`);
      results.push(await soakOne(kind, o, sinks, backends));
    }
  } finally {
    await sinks.close();
    await backends.nats?.dispose();
    await backends.redis?.dispose();
  }
  printTable(results);
  const durableLost = results.filter((r) => r.kind !== 'InMemoryChannel').reduce((a, r) => a + r.lost, 0);
  // `runs` (with the sample series) goes to the results file; run.ts prints the rest.
  const summary = results.map(({ samples: _samples, ...r }) => r);
  return { name: 'soak', options: o, durableLost, ok: durableLost === 0, summary, runs: results };
}

type SoakResult = Awaited<ReturnType<typeof soakOne>>;

function printTable(results: SoakResult[]): void {
  const rows: Array<[string, (r: SoakResult) => string]> = [
    ['sent', (r) => String(r.sent)],
    ['accepted (202)', (r) => `${r.accepted} (${r.acceptedPerSec}/s)`],
    ['refused', (r) => (r.refusedTotal ? Object.entries(r.refused).map(([c, n]) => `${c}:${n}`).join(' ') : '0') + (r.connectionErrors ? ` err:${r.connectionErrors}` : '')],
    ['ingress p50/p99 ms', (r) => `${r.ingressP50Ms} / ${r.ingressP99Ms}`],
    ['healthy unique (dup)', (r) => `${r.healthy.unique} (${r.healthy.duplicates})`],
    ['slow unique (missing)', (r) => `${r.slow.unique} (${r.slow.missing})`],
    ['failing attempts/event', (r) => String(r.failing.attemptsPerEvent)],
    ['dead-lettered (missing)', (r) => `${r.deadLettered.unique} (${r.deadLettered.missing})`],
    ['LOST (healthy)', (r) => String(r.lost)],
    ['drain s (complete)', (r) => `${r.drainSeconds} (${r.drainComplete ? 'yes' : 'no'})`],
    ['RSS MiB min/med/max', (r) => `${r.rssMiB.min} / ${r.rssMiB.median} / ${r.rssMiB.max}`],
    ['RSS MiB series', (r) => r.samples.filter((s) => s.phase === 'load').map((s) => Math.round(s.rssMiB)).join(' ')],
    ['loop lag p99 ms med/max', (r) => `${r.loopLagP99Ms.median} / ${r.loopLagP99Ms.max}`],
  ];
  const head = ['', ...results.map((r) => r.kind)];
  const table = [head, ...rows.map(([label, f]) => [label, ...results.map(f)])];
  const widths = head.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  for (const row of table) console.log(row.map((c, i) => c.padEnd(widths[i]!)).join('  '));
}
