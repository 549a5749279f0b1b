/**
 * Durable channel benchmark (issue #3): CloudEvents POSTed by autocannon to a
 * NatsJetStreamChannel and to a RedisChannel, each with one subscriber (a counting sink),
 * against a raw baseline measured in the same run with the same load:
 * - NATS: a minimal fastify server publishing each request straight to JetStream
 *   (@nats-io/jetstream, PubAck awaited) and a raw pull consumer forwarding to the sink;
 * - Redis: the same server doing BullMQ Queue.add, and a BullMQ Worker forwarding.
 * Private nats-server and redis-server (AOF, fsync every second) on free ports. Rounds
 * alternate baseline and Sluice so machine noise hits both; medians are reported, with
 * events/s accepted and delivered end to end, p99 latencies and the ratios to the raw
 * baselines. Targets: >= 0.6 of the raw rate for both backends.
 * Env: BENCH_SECONDS (default 5), BENCH_ROUNDS (default 3).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { load, type LoadResult } from './channel.js';
import { freePort, median, spawnNode, spawnUntil, stop, SLUICE_BIN } from './lib/processes.js';
import { startNatsServer } from '../test/helpers/nats-server.js';
import { startRedisServer } from '../test/helpers/redis-server.js';

interface Side {
  rps: number;
  deliveredPerSec: number;
  p50: number;
  p99: number;
  e2eP50: number;
  e2eP99: number;
  non2xx: number;
  lost: number;
}

function summarise(runs: LoadResult[], seconds: number): Side {
  const m = (k: keyof LoadResult) => median(runs.map((r) => r[k]));
  return {
    rps: m('rps'),
    deliveredPerSec: m('deliveredPerSec'),
    p50: m('p50'),
    p99: m('p99'),
    e2eP50: m('e2eP50'),
    e2eP99: m('e2eP99'),
    non2xx: runs.reduce((a, r) => a + r.non2xx, 0),
    // Accepted (2xx) but never seen by the sink: must be 0.
    lost: runs.reduce((a, r) => a + Math.max(0, Math.round(r.rps * seconds) - r.delivered), 0),
  };
}

function yaml(sinkUrl: string): string {
  return `apiVersion: messaging.knative.dev/v1alpha1
kind: NatsJetStreamChannel
metadata: {name: bench-nats}
---
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata: {name: bench-nats-sub}
spec:
  channel: {apiVersion: messaging.knative.dev/v1alpha1, kind: NatsJetStreamChannel, name: bench-nats}
  subscriber: {uri: "${sinkUrl}"}
---
apiVersion: messaging.sluice.dev/v1alpha1
kind: RedisChannel
metadata: {name: bench-redis}
---
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata: {name: bench-redis-sub}
spec:
  channel: {apiVersion: messaging.sluice.dev/v1alpha1, kind: RedisChannel, name: bench-redis}
  subscriber: {uri: "${sinkUrl}"}
`;
}

export async function benchDurableChannels(options: { seconds?: number; rounds?: number; connections?: number } = {}) {
  const seconds = options.seconds ?? 5;
  const rounds = options.rounds ?? 3;
  const connections = options.connections ?? 50;
  const nats = await startNatsServer();
  const redis = await startRedisServer({ appendfsync: 'everysec' });
  const children: ChildProcess[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-durable-'));
  try {
    const sinkPort = await freePort();
    children.push(await spawnNode(['bench/lib/counting-sink.mjs', String(sinkPort)], 'sink ready'));
    const sinkUrl = `http://127.0.0.1:${sinkPort}/`;
    const rawNatsPort = await freePort();
    children.push(await spawnNode(['bench/lib/raw-jetstream.mjs', String(rawNatsPort), sinkUrl, nats.url], 'raw jetstream ready'));
    const rawRedisPort = await freePort();
    children.push(await spawnNode(['bench/lib/raw-bullmq.mjs', String(rawRedisPort), sinkUrl, redis.url], 'raw bullmq ready'));
    writeFileSync(join(dir, 'bench.yaml'), yaml(sinkUrl));
    const port = await freePort();
    const adminPort = await freePort();
    // Ready once both channels are connected (readiness covers the backends).
    children.push(
      await spawnUntil(
        [...SLUICE_BIN, 'start', '-f', dir, '--port', String(port), '--admin-port', String(adminPort), '--log-level', 'warn', '--log-format', 'json', '--nats-url', nats.url, '--redis-url', redis.url],
        async () => (await fetch(`http://127.0.0.1:${adminPort}/readyz`)).ok,
      ),
    );

    const targets = {
      rawNats: `http://127.0.0.1:${rawNatsPort}/`,
      sluiceNats: `http://127.0.0.1:${port}/channels/default/bench-nats`,
      rawRedis: `http://127.0.0.1:${rawRedisPort}/`,
      sluiceRedis: `http://127.0.0.1:${port}/channels/default/bench-redis`,
    };
    const runs: Record<keyof typeof targets, LoadResult[]> = { rawNats: [], sluiceNats: [], rawRedis: [], sluiceRedis: [] };
    const names = Object.keys(targets) as Array<keyof typeof targets>;
    // Warm-up (JIT, connection pools, streams and queues), not counted.
    for (const name of names) await load(targets[name], sinkUrl, 1, connections, `warm-${name}-`);
    for (let i = 0; i < rounds; i++) {
      for (const name of names) runs[name].push(await load(targets[name], sinkUrl, seconds, connections, `r${i}-${name}-`));
    }
    const s = Object.fromEntries(names.map((n) => [n, summarise(runs[n], seconds)])) as Record<keyof typeof targets, Side>;
    const ratio = (a: Side, b: Side) => ({ accepted: a.rps / b.rps, delivered: a.deliveredPerSec / b.deliveredPerSec });
    return {
      name: 'durable-channels-1-subscriber',
      seconds,
      rounds,
      connections,
      nats: { baseline: s.rawNats, sluice: s.sluiceNats, ratio: ratio(s.sluiceNats, s.rawNats), target: 0.6 },
      redis: { baseline: s.rawRedis, sluice: s.sluiceRedis, ratio: ratio(s.sluiceRedis, s.rawRedis), target: 0.6 },
      runs,
    };
  } finally {
    for (const c of children.reverse()) await stop(c);
    await nats.dispose();
    await redis.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}
