/**
 * Channel benchmark (issue #2): CloudEvents POSTed to an InMemoryChannel with one
 * subscriber, against a baseline in the same run: a minimal fastify server forwarding each
 * request with undici to the same sink (the cost of the two HTTP hops alone).
 * Rounds alternate baseline and sluice so machine noise hits both; medians are reported.
 */
import autocannon from 'autocannon';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, median, percentile, spawnNode, spawnUntil, stop, SLUICE_BIN } from './lib/processes.js';
import { goal } from './lib/goals.js';

/** Subscriptions on the fan-out channel, all to the same sink. */
const FAN_OUT = 10;

export interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  delivered: number;
  deliveredPerSec: number;
  e2eP50: number;
  e2eP99: number;
}

/** The `bench` InMemoryChannel (room for a whole run) with one subscription to `sinkUrl`: the channel path every channel benchmark measures. */
export function benchChannelYaml(sinkUrl: string): string {
  return `apiVersion: messaging.knative.dev/v1
kind: InMemoryChannel
metadata: {name: bench}
spec: {capacity: 200000}
---
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata: {name: bench-sub}
spec:
  channel: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: bench}
  subscriber: {uri: "${sinkUrl}"}
`;
}

const BODY = JSON.stringify({ message: 'hello', n: 42, tags: ['a', 'b', 'c'] });

async function sinkStats(sinkUrl: string): Promise<{ count: number; latencies: number[] }> {
  const r = await fetch(new URL('/stats', sinkUrl));
  return (await r.json()) as { count: number; latencies: number[] };
}

/** `idPrefix` keeps ce-ids unique across calls (a durable channel deduplicates by source and id). */
export async function load(url: string, sinkUrl: string, seconds: number, connections: number, idPrefix = ''): Promise<LoadResult> {
  await sinkStats(sinkUrl);
  let n = 0;
  const started = Date.now();
  const result = await autocannon({
    url,
    method: 'POST',
    connections,
    duration: seconds,
    headers: { 'content-type': 'application/json', 'ce-specversion': '1.0', 'ce-type': 'bench.event', 'ce-source': '/bench' },
    body: BODY,
    requests: [
      {
        setupRequest: (req) => {
          // Sub-millisecond stamps: end-to-end p99s of a few ms are compared as ratios.
          const headers = { ...(req.headers ?? {}), 'ce-id': `${idPrefix}${++n}`, 'ce-benchsent': (performance.timeOrigin + performance.now()).toFixed(3) };
          return { ...req, headers };
        },
      },
    ],
  });
  // Deliveries may lag ingress (sluice answers 202 once stored): wait until the sink is quiet.
  let total = 0;
  let latencies: number[] = [];
  let lastChange = Date.now();
  let lastDelivery = Date.now();
  for (;;) {
    const s = await sinkStats(sinkUrl);
    if (s.count > 0) {
      lastChange = Date.now();
      lastDelivery = Date.now();
    }
    total += s.count;
    latencies = latencies.concat(s.latencies);
    if (Date.now() - lastChange > 500) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const sorted = latencies.sort((a, b) => a - b);
  const ok = result.requests.total - result.non2xx;
  return {
    rps: ok / seconds,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    delivered: total,
    deliveredPerSec: total / Math.max(seconds, (lastDelivery - started) / 1000),
    e2eP50: percentile(sorted, 50),
    e2eP99: percentile(sorted, 99),
  };
}

export async function benchChannel(options: { seconds?: number; rounds?: number; connections?: number } = {}) {
  const seconds = options.seconds ?? 5;
  const rounds = options.rounds ?? 3;
  const connections = options.connections ?? 50;
  const sinkPort = await freePort();
  const sink = await spawnNode(['bench/lib/counting-sink.mjs', String(sinkPort)], 'sink ready');
  const sinkUrl = `http://127.0.0.1:${sinkPort}/`;
  const fwdPort = await freePort();
  const fwd = await spawnNode(['bench/lib/forwarder.mjs', String(fwdPort), sinkUrl], 'forwarder ready');
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-'));
  writeFileSync(
    join(dir, 'bench.yaml'),
    `${benchChannelYaml(sinkUrl)}---
apiVersion: messaging.knative.dev/v1
kind: InMemoryChannel
metadata: {name: fanout}
spec: {capacity: 200000}
${Array.from({ length: FAN_OUT }, (_, i) => `---
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata: {name: fanout-${i}}
spec:
  channel: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: fanout}
  subscriber: {uri: "${sinkUrl}"}
`).join('')}`,
  );
  const port = await freePort();
  const adminPort = await freePort();
  const sluice = await spawnUntil(
    [...SLUICE_BIN, 'start', '-f', dir, '--port', String(port), '--admin-port', String(adminPort), '--log-level', 'warn', '--log-format', 'json'],
    async () => (await fetch(`http://127.0.0.1:${adminPort}/readyz`)).ok,
  ).catch(async (err) => {
    await stop(sink);
    await stop(fwd);
    throw err;
  });
  const baseline: LoadResult[] = [];
  const sluiceRuns: LoadResult[] = [];
  const fanOutRuns: LoadResult[] = [];
  const fanOutUrl = `http://127.0.0.1:${port}/channels/default/fanout`;
  try {
    // Warm-up every path (JIT, connection pools), not counted.
    await load(`http://127.0.0.1:${fwdPort}/`, sinkUrl, 1, connections);
    await load(`http://127.0.0.1:${port}/channels/default/bench`, sinkUrl, 1, connections);
    await load(fanOutUrl, sinkUrl, 1, connections);
    for (let i = 0; i < rounds; i++) {
      baseline.push(await load(`http://127.0.0.1:${fwdPort}/`, sinkUrl, seconds, connections));
      sluiceRuns.push(await load(`http://127.0.0.1:${port}/channels/default/bench`, sinkUrl, seconds, connections));
      fanOutRuns.push(await load(fanOutUrl, sinkUrl, seconds, connections));
    }
  } finally {
    await stop(sluice);
    await stop(fwd);
    await stop(sink);
    rmSync(dir, { recursive: true, force: true });
  }
  const m = (runs: LoadResult[], k: keyof LoadResult) => median(runs.map((r) => r[k]));
  const summary = {
    name: 'channel-1-subscriber',
    seconds,
    rounds,
    connections,
    baseline: { rps: m(baseline, 'rps'), deliveredPerSec: m(baseline, 'deliveredPerSec'), p50: m(baseline, 'p50'), p99: m(baseline, 'p99'), e2eP50: m(baseline, 'e2eP50'), e2eP99: m(baseline, 'e2eP99') },
    sluice: {
      rps: m(sluiceRuns, 'rps'),
      deliveredPerSec: m(sluiceRuns, 'deliveredPerSec'),
      p50: m(sluiceRuns, 'p50'),
      p99: m(sluiceRuns, 'p99'),
      e2eP50: m(sluiceRuns, 'e2eP50'),
      e2eP99: m(sluiceRuns, 'e2eP99'),
      non2xx: sluiceRuns.reduce((a, r) => a + r.non2xx, 0),
      lost: sluiceRuns.reduce((a, r) => a + Math.max(0, Math.round(r.rps * seconds) - r.delivered), 0),
    },
    fanOut: { subscriptions: FAN_OUT, rps: m(fanOutRuns, 'rps'), deliveredPerSec: m(fanOutRuns, 'deliveredPerSec'), e2eP50: m(fanOutRuns, 'e2eP50'), e2eP99: m(fanOutRuns, 'e2eP99') },
    ratio: 0,
    ratioDelivered: 0,
    ratioFanOut: 0,
    /**
     * Sent -> at the sink, p99, against the forwarder's (no goal: informational). The
     * forwarder holds at most its 50 client requests; Sluice up to 100 deliveries in flight
     * per subscription plus what the clients send meanwhile, so its event loop serves more
     * at once and each event waits longer in it.
     */
    e2eP99Ratio: median(sluiceRuns.map((r, i) => r.e2eP99 / baseline[i]!.e2eP99)),
    // Per round, against the baseline of the same round: the forwarder for the channel
    // path, the 1-subscription channel for the fan-out.
    goals: [
      goal('channel, 1 subscription: delivered/s vs bare forwarder', sluiceRuns.map((r, i) => r.deliveredPerSec / baseline[i]!.deliveredPerSec), '>=', 0.9),
      // The load generator's p99 (what a producer waits for its answer), as the issue measured it.
      goal('channel, 1 subscription: client p99 vs bare forwarder', sluiceRuns.map((r, i) => r.p99 / baseline[i]!.p99), '<=', 1.5),
      goal(`channel, ${FAN_OUT} subscriptions: deliveries/s vs 1 subscription`, fanOutRuns.map((r, i) => r.deliveredPerSec / sluiceRuns[i]!.deliveredPerSec), '>=', 0.8),
    ],
    runs: { baseline, sluice: sluiceRuns, fanOut: fanOutRuns },
  };
  summary.ratio = summary.sluice.rps / summary.baseline.rps;
  summary.ratioDelivered = summary.sluice.deliveredPerSec / summary.baseline.deliveredPerSec;
  summary.ratioFanOut = summary.fanOut.deliveredPerSec / summary.sluice.deliveredPerSec;
  return summary;
}
