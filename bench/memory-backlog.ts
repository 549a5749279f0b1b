/**
 * Memory with a backlog (issue 14): the RSS of a Sluice process while a subscription is
 * far behind, against the same process's RSS in the same round with (almost) no backlog.
 *
 * - InMemoryChannel: 10,000 events of 1 KiB data held for a subscriber that never
 *   answers (requests held open). The memory channel must hold them, so the figure is the
 *   RSS growth per byte of event data held; the goal bounds it (see MEMORY_GOAL).
 * - NatsJetStreamChannel and RedisChannel: 100,000 events of 1 KiB data behind a
 *   subscriber that never answers. They live in nats-server / redis-server, so Sluice's
 *   RSS must not follow them: at most the subscription's in-flight limit (100 by default)
 *   may be in memory. The goal bounds RSS(100k behind) / RSS(1k behind) (see DURABLE_GOAL).
 *
 * Each round and kind gets a fresh Sluice process (and fresh private nats-server /
 * redis-server on free ports, never the machine's services). In every process a `warm`
 * channel whose subscriber answers at once carries 10,000 events first (ingress, JIT,
 * pools, sockets), so the baseline includes what any traffic brings. Events are POSTed in
 * batch mode (`application/cloudevents-batch+json`, 500 a request, 4 requests at a time).
 * Before each reading Sluice runs a full GC (asked through its inspector, `--inspect` on a
 * loopback port): otherwise the figures say mostly when V8 last collected the garbage
 * that ingress leaves (RSS deltas spread over 4..85 MiB without it). Besides RSS, the live
 * memory (V8 heap used + external, from Sluice's own metrics) shows where growth is.
 * About 20 s a round for memory, 20-60 s for each durable kind (publishing 100,000 events
 * dominates, and depends on the machine's load).
 * Env: BENCH_ROUNDS (default 3).
 */
import { createServer, type Server } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { ChildProcess } from 'node:child_process';
import { WebSocket } from 'undici';
import { freePort, median, spawnUntil, stop, SLUICE_BIN } from './lib/processes.js';
import { goal, type Goal } from './lib/goals.js';
import { startNatsServer, type ServerProcess } from '../test/helpers/nats-server.js';
import { startRedisServer } from '../test/helpers/redis-server.js';

const MiB = 1024 * 1024;
const DATA_BYTES = 1024;
const BATCH = 500;
const CONCURRENT_POSTS = 4;
/** Events through the `warm` channel before the baseline is read. */
const WARM_EVENTS = 10_000;
const MEMORY_BACKLOG = 10_000;
const DURABLE_BACKLOG = 100_000;
/** Durable baseline: this many behind already, so the in-flight deliveries (100) are in both figures. */
const DURABLE_BASE_BACKLOG = 1_000;

/**
 * In-memory goal: RSS growth <= 4x the event data held (10,000 x 1 KiB = 10 MiB -> at
 * most 40 MiB). A held event costs more than its data: its object, attribute strings and
 * queue slot (the channel's own estimate, sluice_channel_buffered_bytes, counts ~1.6 KiB
 * for these), and 100 of them are in flight to the hung subscriber, each with an open
 * request. Both RSS readings follow a full GC, and the backlog partly reuses pages the
 * warm-up's garbage left mapped, so the RSS growth can be below the live growth; the
 * second goal bounds that one too: live memory (V8 heap used + external, i.e. Buffers)
 * growth <= 2x the data (the channel's estimate is ~1.6x). A leak, or a copy per event,
 * would miss both.
 */
const MEMORY_GOAL = 4;
const MEMORY_LIVE_GOAL = 2;
/**
 * Durable goal: RSS(100k behind) <= 1.3 x RSS(1k behind). Pulling the backlog in would
 * add ~100 MiB of data alone (a ~170 MiB process -> ratio >= 1.55); 1.3 leaves room for
 * what ingesting 99,000 more events leaves in the allocator (the live heap does not grow:
 * see liveDeltaMiB).
 */
const DURABLE_GOAL = 1.3;

type Kind = 'memory' | 'nats' | 'redis';

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

/**
 * A full garbage collection in the Sluice process, through its inspector (started with
 * `--inspect` on a loopback port): without it the figures mostly say when V8 last
 * collected the garbage that publishing leaves, not what the process holds.
 */
async function collectGarbage(inspectPort: number): Promise<void> {
  const targets = (await (await fetch(`http://127.0.0.1:${inspectPort}/json/list`)).json()) as Array<{ webSocketDebuggerUrl: string }>;
  const ws = new WebSocket(targets[0]!.webSocketDebuggerUrl);
  try {
    await new Promise<void>((resolve, reject) => {
      ws.addEventListener('open', () => resolve());
      ws.addEventListener('error', () => reject(new Error('inspector connection failed')));
    });
    // Twice: the first pass runs finalizers whose objects the second one frees.
    for (const id of [1, 2]) {
      await new Promise<void>((resolve, reject) => {
        const onMessage = (m: { data: unknown }) => {
          if ((JSON.parse(String(m.data)) as { id?: number }).id === id) {
            ws.removeEventListener('message', onMessage);
            resolve();
          }
        };
        ws.addEventListener('message', onMessage);
        ws.addEventListener('close', () => reject(new Error('inspector closed')));
        ws.send(JSON.stringify({ id, method: 'HeapProfiler.collectGarbage' }));
      });
    }
  } finally {
    ws.close();
  }
}

/** RSS once the process settled: a full GC, then the median of 5 readings 200 ms apart. */
async function settledRss(pid: number, inspectPort: number): Promise<number> {
  await sleep(1000);
  await collectGarbage(inspectPort);
  await sleep(500);
  const samples: number[] = [];
  for (let i = 0; i < 5; i++) {
    samples.push(rssBytes(pid));
    await sleep(200);
  }
  return median(samples);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A metric summed over the series whose labels contain `labelMatch` (e.g. `resource="behind"`). */
async function metric(adminUrl: string, name: string, labelMatch: string): Promise<number> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => (l.startsWith(name + ' ') || l.startsWith(name + '{')) && l.includes(labelMatch))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

/** Polls a metric until `ok` says so; resolves with the last value (throws after `timeoutMs`). */
async function waitMetric(adminUrl: string, name: string, labelMatch: string, ok: (v: number) => boolean, timeoutMs = 60_000): Promise<number> {
  const started = Date.now();
  for (;;) {
    const v = await metric(adminUrl, name, labelMatch);
    if (ok(v)) return v;
    if (Date.now() - started > timeoutMs) throw new Error(`${name}{${labelMatch}} is ${v} after ${timeoutMs} ms`);
    await sleep(250);
  }
}

const DATA_B64 = Buffer.alloc(DATA_BYTES, 7).toString('base64');

function batchBody(prefix: string, from: number, n: number): string {
  const events: string[] = [];
  for (let i = from; i < from + n; i++) {
    events.push(`{"specversion":"1.0","id":"${prefix}${i}","source":"/bench/backlog","type":"bench.backlog","datacontenttype":"application/octet-stream","data_base64":"${DATA_B64}"}`);
  }
  return `[${events.join(',')}]`;
}

/** POSTs `count` events in batches; a 429/503 is retried after a pause (ids make a retry idempotent on durable channels). */
async function publish(url: string, prefix: string, from: number, count: number): Promise<void> {
  let next = from;
  const end = from + count;
  const worker = async () => {
    while (next < end) {
      const start = next;
      const n = Math.min(BATCH, end - start);
      next += n;
      const body = batchBody(prefix, start, n);
      for (let attempt = 0; ; attempt++) {
        const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/cloudevents-batch+json' }, body });
        const text = await res.text();
        if (res.status === 202) break;
        if ((res.status === 429 || res.status === 503) && attempt < 20) {
          await sleep(250);
          continue;
        }
        throw new Error(`POST ${url}: ${res.status} ${text.slice(0, 300)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENT_POSTS }, worker));
}

function channelYaml(kind: Kind, sinkUrl: string): string {
  const type =
    kind === 'memory'
      ? { apiVersion: 'messaging.knative.dev/v1', kind: 'InMemoryChannel', spec: '\nspec: {capacity: 20000}' }
      : kind === 'nats'
        ? { apiVersion: 'messaging.knative.dev/v1alpha1', kind: 'NatsJetStreamChannel', spec: '' }
        : { apiVersion: 'messaging.sluice.dev/v1alpha1', kind: 'RedisChannel', spec: '' };
  return ['warm', 'behind']
    .map(
      (name) => `---
apiVersion: ${type.apiVersion}
kind: ${type.kind}
metadata: {name: ${name}}${type.spec}
---
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata: {name: ${name}-sub}
spec:
  channel: {apiVersion: ${type.apiVersion}, kind: ${type.kind}, name: ${name}}
  subscriber: {uri: "${sinkUrl}${name === 'warm' ? 'ok' : 'hang'}"}
  delivery: {timeout: PT300S, retry: 0}
`,
    )
    .join('');
}

interface Run {
  kind: Kind;
  round: number;
  baselineBacklog: number;
  backlog: number;
  idleMiB: number;
  backlogMiB: number;
  deltaMiB: number;
  ratio: number;
  deltaBytesPerEvent: number;
  /** Event data the backlog adds (backlog - baseline backlog) x 1 KiB. */
  dataMiB: number;
  deltaPerDataByte: number;
  /** In-memory only: what the channel says it holds (sluice_channel_buffered_bytes). */
  heldMiB?: number;
  inFlight: number;
  publishSeconds: number;
  roundSeconds: number;
  /** Live memory: V8 heap used + external (Buffers), from Sluice's own metrics right after the GC. */
  liveIdleMiB: number;
  liveBacklogMiB: number;
  liveDeltaMiB: number;
  liveDeltaPerDataByte: number;
  heap: { idle: HeapFigures; backlog: HeapFigures };
}

/** The Sluice process's V8 heap in use and its memory outside the heap (Buffers), from its own metrics. */
interface HeapFigures {
  heapTotalMiB: number;
  heapUsedMiB: number;
  externalMiB: number;
}

async function heapMiB(adminUrl: string): Promise<HeapFigures> {
  return {
    heapTotalMiB: (await metric(adminUrl, 'sluice_process_nodejs_heap_size_total_bytes', '')) / MiB,
    heapUsedMiB: (await metric(adminUrl, 'sluice_process_nodejs_heap_size_used_bytes', '')) / MiB,
    externalMiB: (await metric(adminUrl, 'sluice_process_nodejs_external_memory_bytes', '')) / MiB,
  };
}

/** `release` answers the held deliveries (and any later one), so that Sluice stops at once instead of draining them. */
async function measure(kind: Kind, round: number, sinkUrl: string, release: () => void): Promise<Run> {
  let server: ServerProcess | undefined;
  let sluice: ChildProcess | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-backlog-'));
  const started = performance.now();
  try {
    const flags: string[] = [];
    if (kind === 'nats') {
      const nats = await startNatsServer();
      server = nats;
      flags.push('--nats-url', nats.url);
    } else if (kind === 'redis') {
      const redis = await startRedisServer({ appendfsync: 'everysec' });
      server = redis;
      flags.push('--redis-url', redis.url);
    }
    writeFileSync(join(dir, 'backlog.yaml'), channelYaml(kind, sinkUrl));
    const port = await freePort();
    const adminPort = await freePort();
    const inspectPort = await freePort();
    const adminUrl = `http://127.0.0.1:${adminPort}`;
    sluice = await spawnUntil(
      [`--inspect=127.0.0.1:${inspectPort}`, ...SLUICE_BIN, 'start', '-f', dir, '--port', String(port), '--admin-port', String(adminPort), '--log-level', 'warn', '--log-format', 'json', '--data-dir', join(dir, 'data'), ...flags],
      async () => (await fetch(`${adminUrl}/readyz`)).ok,
    );
    const pid = sluice.pid!;
    const channelUrl = (name: string) => `http://127.0.0.1:${port}/channels/default/${name}`;
    const backlogOf = (name: string) => `resource="${name}"`;

    // Warm-up through a channel whose subscriber answers, until it delivered everything.
    await publish(channelUrl('warm'), `w${round}-`, 0, WARM_EVENTS);
    await waitMetric(adminUrl, 'sluice_subscription_backlog_events', backlogOf('warm'), (v) => v === 0);

    const baselineBacklog = kind === 'memory' ? 0 : DURABLE_BASE_BACKLOG;
    const target = kind === 'memory' ? MEMORY_BACKLOG : DURABLE_BACKLOG;
    if (baselineBacklog) {
      await publish(channelUrl('behind'), `b${round}-`, 0, baselineBacklog);
      await waitMetric(adminUrl, 'sluice_subscription_backlog_events', backlogOf('behind'), (v) => v >= baselineBacklog);
    }
    const idle = await settledRss(pid, inspectPort);
    const idleHeap = await heapMiB(adminUrl);

    const publishStarted = performance.now();
    await publish(channelUrl('behind'), `b${round}-`, baselineBacklog, target - baselineBacklog);
    const publishSeconds = (performance.now() - publishStarted) / 1000;
    // Durable backlogs are read from the server every few seconds: wait until it shows them all.
    const backlog = await waitMetric(adminUrl, 'sluice_subscription_backlog_events', backlogOf('behind'), (v) => v >= target);
    const withBacklog = await settledRss(pid, inspectPort);
    const backlogHeap = await heapMiB(adminUrl);
    const inFlight = await metric(adminUrl, 'sluice_subscription_in_flight_events', backlogOf('behind'));
    const held = kind === 'memory' ? await metric(adminUrl, 'sluice_channel_buffered_bytes', backlogOf('behind')) : undefined;
    const data = (target - baselineBacklog) * DATA_BYTES;
    const live = (h: { heapUsedMiB: number; externalMiB: number }) => h.heapUsedMiB + h.externalMiB;
    return {
      kind,
      round,
      baselineBacklog,
      backlog,
      idleMiB: idle / MiB,
      backlogMiB: withBacklog / MiB,
      deltaMiB: (withBacklog - idle) / MiB,
      ratio: withBacklog / idle,
      deltaBytesPerEvent: (withBacklog - idle) / (target - baselineBacklog),
      dataMiB: data / MiB,
      deltaPerDataByte: (withBacklog - idle) / data,
      liveIdleMiB: live(idleHeap),
      liveBacklogMiB: live(backlogHeap),
      liveDeltaMiB: live(backlogHeap) - live(idleHeap),
      liveDeltaPerDataByte: ((live(backlogHeap) - live(idleHeap)) * MiB) / data,
      ...(held !== undefined ? { heldMiB: held / MiB } : {}),
      inFlight,
      publishSeconds,
      roundSeconds: (performance.now() - started) / 1000,
      heap: { idle: idleHeap, backlog: backlogHeap },
    };
  } finally {
    release();
    await stop(sluice);
    await server?.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchMemoryBacklog(options: { rounds?: number } = {}) {
  const rounds = options.rounds ?? 3;
  // The subscriber: `/ok` answers at once (warm-up); `/hang` is held open while `holding`.
  // Once a round is measured, it answers everything (held or new), so Sluice stops at once.
  let holding = true;
  const hung = new Set<() => void>();
  const sink: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const answer = () => void res.writeHead(202).end();
      if (req.url === '/ok' || !holding) return answer();
      hung.add(answer);
      res.on('close', () => hung.delete(answer));
    });
  });
  sink.keepAliveTimeout = 65_000;
  await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
  const sinkUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}/`;
  const release = () => {
    holding = false;
    for (const h of [...hung]) h();
    hung.clear();
  };
  const runs: Run[] = [];
  try {
    for (let round = 0; round < rounds; round++) {
      for (const kind of ['memory', 'nats', 'redis'] as const) {
        holding = true;
        runs.push(await measure(kind, round, sinkUrl, release));
      }
    }
  } finally {
    sink.closeAllConnections();
    await new Promise<void>((r) => sink.close(() => r()));
  }

  const of = (kind: Kind) => runs.filter((r) => r.kind === kind);
  const summary = (kind: Kind) => {
    const rs = of(kind);
    const m = (k: keyof Run) => median(rs.map((r) => Number(r[k])));
    return {
      baselineBacklog: rs[0]?.baselineBacklog,
      backlog: m('backlog'),
      rssIdleMiB: m('idleMiB'),
      rssWithBacklogMiB: m('backlogMiB'),
      deltaMiB: m('deltaMiB'),
      ratio: m('ratio'),
      deltaBytesPerEvent: m('deltaBytesPerEvent'),
      dataMiB: m('dataMiB'),
      deltaPerDataByte: m('deltaPerDataByte'),
      liveIdleMiB: m('liveIdleMiB'),
      liveBacklogMiB: m('liveBacklogMiB'),
      liveDeltaMiB: m('liveDeltaMiB'),
      liveDeltaPerDataByte: m('liveDeltaPerDataByte'),
      ...(kind === 'memory' ? { channelHeldMiB: m('heldMiB') } : {}),
      inFlight: m('inFlight'),
      publishSeconds: m('publishSeconds'),
    };
  };
  const goals: Goal[] = [
    goal('InMemoryChannel RSS growth / data held, 10k x 1 KiB backlogged', of('memory').map((r) => r.deltaPerDataByte), '<=', MEMORY_GOAL),
    goal('InMemoryChannel live heap+external growth / data held', of('memory').map((r) => r.liveDeltaPerDataByte), '<=', MEMORY_LIVE_GOAL),
    goal('NatsJetStreamChannel RSS 100k behind / 1k behind', of('nats').map((r) => r.ratio), '<=', DURABLE_GOAL),
    goal('RedisChannel RSS 100k behind / 1k behind', of('redis').map((r) => r.ratio), '<=', DURABLE_GOAL),
  ];
  return {
    name: 'memory-backlog',
    eventDataBytes: DATA_BYTES,
    rounds,
    warmEvents: WARM_EVENTS,
    goal: { memoryDeltaPerDataByte: MEMORY_GOAL, memoryLiveDeltaPerDataByte: MEMORY_LIVE_GOAL, durableRatio: DURABLE_GOAL },
    median: { memory: summary('memory'), nats: summary('nats'), redis: summary('redis') },
    goals,
    runs,
  };
}
