/**
 * Cold start measured from outside: Sluice runs as its own process (`bin/sluice.js start`,
 * built by `npm run bench`), as a user runs it; this process is the load generator and
 * the sink. For each round, one event is POSTed to an InMemoryChannel whose Subscription
 * targets a scaled-to-zero Knative Service (initial-scale 0) running the relay fixture,
 * which relays the event to the sink here; the time is from the POST to the sink having
 * it. Baseline, in the same round: the same fixture started directly (plain `spawn`, no
 * watchdog; its port polled every 2 ms), sent the same event, until the sink has it --
 * once before and once after the Sluice path, averaged.
 * Overhead = e2e - baseline per round: Sluice's share of a cold start (spawn through
 * the watchdog, readiness detection, routing, connection setup). Every round has its own
 * fresh Service.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { freePort, median, spawnUntil, stop, SLUICE_BIN } from './lib/processes.js';
import { directColdStart, EVENT_HEADERS, RELAY, startRelaySink, type RelaySink } from './activator-broker.js';

function roundYaml(name: string, sinkUrl: string): string {
  return `---
apiVersion: messaging.knative.dev/v1
kind: InMemoryChannel
metadata: {name: ${name}}
---
apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: ${name}}
spec:
  template:
    metadata:
      annotations:
        autoscaling.knative.dev/initial-scale: "0"
    spec:
      containers:
        - command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(RELAY)}]
          env:
            - {name: RELAY_TO, value: ${JSON.stringify(sinkUrl)}}
---
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata: {name: ${name}}
spec:
  channel: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: ${name}}
  subscriber: {ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: ${name}}}
  delivery: {retry: 0}
`;
}

/** POST one event to channel `name` of the Sluice process; resolves once the sink has it. */
async function sluiceColdStart(ingress: string, sink: RelaySink, name: string, agent: Agent): Promise<number> {
  const id = `o-${name}`;
  const got = sink.next(id);
  const t0 = performance.now();
  const res = await request(`${ingress}/channels/default/${name}`, { method: 'POST', headers: { ...EVENT_HEADERS, 'ce-id': id }, body: id, dispatcher: agent });
  await res.body.dump();
  if (res.statusCode !== 202) throw new Error(`channel ${name} answered ${res.statusCode}`);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`event ${id} not delivered within 30 s`)), 30_000)));
  try {
    return (await Promise.race([got, timeout])) - t0;
  } finally {
    clearTimeout(timer);
  }
}

export interface OutsideColdStart {
  rounds: number;
  serviceOwnStartMedianMs: number;
  viaSluiceMedianMs: number;
  overheadMedianMs: number;
  /** Per round: e2e - baseline (ms). */
  overheadRounds: number[];
  /**
   * Per round, each path minus its own replica's start-to-listen time (the fixture reports
   * it), then e2e - baseline: the same overhead without the difference between two
   * process starts, which on a loaded machine varies by more than the overhead itself.
   */
  startCorrectedOverheadRounds: number[];
  startCorrectedOverheadMedianMs: number;
  runs: { direct: number[]; viaSluice: number[]; directOwnStart: number[]; viaSluiceOwnStart: number[] };
}

export async function benchActivatorOutside(options: { rounds?: number } = {}): Promise<OutsideColdStart> {
  const rounds = options.rounds ?? 7;
  const agent = new Agent({ connections: 64, keepAliveTimeout: 10_000 });
  const sink = await startRelaySink();
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-activator-'));
  // One fresh scaled-to-zero Service per round (plus a warm-up one), so each is a real cold start.
  const names = ['warmup', ...Array.from({ length: rounds }, (_, i) => `cold-${i}`)];
  writeFileSync(join(dir, 'services.yaml'), names.map((n) => roundYaml(n, sink.url)).join(''));
  const port = await freePort();
  const adminPort = await freePort();
  let sluice;
  try {
    sluice = await spawnUntil(
      [...SLUICE_BIN, 'start', '-f', dir, '--port', String(port), '--admin-port', String(adminPort), '--log-level', 'warn', '--log-format', 'json'],
      async () => (await fetch(`http://127.0.0.1:${adminPort}/readyz`)).ok,
    );
    const ingress = `http://127.0.0.1:${port}`;
    // Warm-up, not counted: node's first spawns, both paths' connection pools and JIT.
    await directColdStart(sink, 'warmup-direct', agent);
    await sluiceColdStart(ingress, sink, 'warmup', agent);
    const direct: number[] = [];
    const viaSluice: number[] = [];
    const directOwn: number[] = [];
    const viaSluiceOwn: number[] = [];
    const runDirect = async (id: string): Promise<[number, number]> => {
      const ms = await directColdStart(sink, id, agent);
      return [ms, sink.ownStartMs(id) ?? NaN];
    };
    for (let i = 0; i < rounds; i++) {
      // The baseline brackets the measured path (direct, Sluice, direct; its figure is the
      // mean of both), so load that rises or falls during the round hits both alike.
      const before = await runDirect(`d-${i}-a`);
      viaSluice.push(await sluiceColdStart(ingress, sink, `cold-${i}`, agent));
      viaSluiceOwn.push(sink.ownStartMs(`o-cold-${i}`) ?? NaN);
      const after = await runDirect(`d-${i}-b`);
      direct.push((before[0] + after[0]) / 2);
      directOwn.push((before[1] + after[1]) / 2);
    }
    const overheadRounds = viaSluice.map((v, i) => round(v - direct[i]!));
    const startCorrectedOverheadRounds = viaSluice.map((v, i) => round(v - viaSluiceOwn[i]! - (direct[i]! - directOwn[i]!)));
    return {
      rounds,
      serviceOwnStartMedianMs: round(median(direct)),
      viaSluiceMedianMs: round(median(viaSluice)),
      overheadMedianMs: round(median(overheadRounds)),
      overheadRounds,
      startCorrectedOverheadRounds,
      startCorrectedOverheadMedianMs: round(median(startCorrectedOverheadRounds)),
      runs: { direct: direct.map(round), viaSluice: viaSluice.map(round), directOwnStart: directOwn.map(round), viaSluiceOwnStart: viaSluiceOwn.map(round) },
    };
  } finally {
    await stop(sluice);
    await sink.close();
    await agent.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

if (process.argv[1]?.endsWith('activator-outside.ts')) {
  console.log(JSON.stringify(await benchActivatorOutside({ rounds: Number(process.env.BENCH_ROUNDS ?? 7) }), null, 2));
}
