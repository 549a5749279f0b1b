/**
 * Broker benchmark (issue #6): CloudEvents POSTed to a Broker with 1 Trigger, and to one
 * with 50 Triggers of which only one matches (the other 49 mix every filter dialect and
 * CESQL), against the plain channel path (InMemoryChannel + one Subscription) measured in
 * the same run, by the same Sluice process, to the same sink.
 * Rounds alternate the three paths so machine noise hits all of them; medians are reported.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchChannelYaml, load, type LoadResult } from './channel.js';
import { freePort, median, spawnNode, spawnUntil, stop, SLUICE_BIN } from './lib/processes.js';
import { goal } from './lib/goals.js';

/** Filters that never match the benchmark's events (type `bench.event`, source `/bench`), one dialect after another. */
function nonMatchingFilter(i: number): string {
  switch (i % 7) {
    case 0:
      return `  filter: {attributes: {type: bench.other.${i}}}`;
    case 1:
      return `  filters: [{exact: {type: bench.event, source: /other${i}}}]`;
    case 2:
      return `  filters: [{prefix: {type: dev.knative.${i}.}}]`;
    case 3:
      return `  filters: [{suffix: {source: /s${i}}}]`;
    case 4:
      return `  filters: [{any: [{exact: {type: x${i}}}, {all: [{prefix: {source: /bench}}, {exact: {region: r${i}}}]}]}]`;
    case 5:
      return `  filters: [{not: {prefix: {type: bench.}}}]`;
    default:
      return `  filters: [{cesql: "type LIKE 'bench.%' AND source = '/s${i}'"}]`;
  }
}

function trigger(name: string, broker: string, sinkUrl: string, filter: string): string {
  return `---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: ${name}}
spec:
  broker: ${broker}
  subscriber: {uri: "${sinkUrl}"}
${filter}
`;
}

function config(sinkUrl: string, replierUrl: string): string {
  const matching = '  filters: [{exact: {type: bench.event}}]';
  let yaml = `${benchChannelYaml(sinkUrl)}---
apiVersion: v1
kind: ConfigMap
metadata: {name: bench-channel}
data:
  channel-template-spec: |
    apiVersion: messaging.knative.dev/v1
    kind: InMemoryChannel
    spec: {capacity: 200000}
`;
  for (const b of ['one', 'fifty', 'chain']) {
    yaml += `---
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {name: ${b}}
spec:
  config: {apiVersion: v1, kind: ConfigMap, name: bench-channel}
`;
  }
  yaml += trigger('one-match', 'one', sinkUrl, matching);
  // The matching Trigger sits in the middle of the 50.
  for (let i = 0; i < 50; i++) yaml += trigger(`fifty-${i}`, 'fifty', sinkUrl, i === 25 ? matching : nonMatchingFilter(i));
  // A reply chain: the subscriber's reply re-enters the broker and meets the second Trigger.
  yaml += trigger('chain-ask', 'chain', replierUrl, matching);
  yaml += trigger('chain-answer', 'chain', sinkUrl, '  filters: [{exact: {type: bench.reply}}]');
  return yaml;
}

export async function benchBroker(options: { seconds?: number; rounds?: number; connections?: number } = {}) {
  const seconds = options.seconds ?? 5;
  const rounds = options.rounds ?? 3;
  const connections = options.connections ?? 50;
  const sinkPort = await freePort();
  const sink = await spawnNode(['bench/lib/counting-sink.mjs', String(sinkPort)], 'sink ready');
  const sinkUrl = `http://127.0.0.1:${sinkPort}/`;
  const replierPort = await freePort();
  const replier = await spawnNode(['bench/lib/reply-sink.mjs', String(replierPort)], 'replier ready');
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-broker-'));
  writeFileSync(join(dir, 'bench.yaml'), config(sinkUrl, `http://127.0.0.1:${replierPort}/`));
  const port = await freePort();
  const adminPort = await freePort();
  const sluice = await spawnUntil(
    [...SLUICE_BIN, 'start', '-f', dir, '--port', String(port), '--admin-port', String(adminPort), '--log-level', 'warn', '--log-format', 'json'],
    async () => (await fetch(`http://127.0.0.1:${adminPort}/readyz`)).ok,
  ).catch(async (err) => {
    await stop(sink);
    await stop(replier);
    throw err;
  });
  const paths = {
    channel: `http://127.0.0.1:${port}/channels/default/bench`,
    broker1: `http://127.0.0.1:${port}/default/one`,
    broker50: `http://127.0.0.1:${port}/default/fifty`,
    brokerReply: `http://127.0.0.1:${port}/default/chain`,
  };
  const runs: Record<keyof typeof paths, LoadResult[]> = { channel: [], broker1: [], broker50: [], brokerReply: [] };
  try {
    for (const url of Object.values(paths)) await load(url, sinkUrl, 1, connections); // warm-up, not counted
    for (let i = 0; i < rounds; i++) {
      for (const [name, url] of Object.entries(paths) as Array<[keyof typeof paths, string]>) runs[name].push(await load(url, sinkUrl, seconds, connections));
    }
  } finally {
    await stop(sluice);
    await stop(sink);
    await stop(replier);
    rmSync(dir, { recursive: true, force: true });
  }
  const m = (rs: LoadResult[], k: keyof LoadResult) => median(rs.map((r) => r[k]));
  const summarize = (rs: LoadResult[]) => ({
    rps: m(rs, 'rps'),
    deliveredPerSec: m(rs, 'deliveredPerSec'),
    p50: m(rs, 'p50'),
    p99: m(rs, 'p99'),
    e2eP50: m(rs, 'e2eP50'),
    e2eP99: m(rs, 'e2eP99'),
    non2xx: rs.reduce((a, r) => a + r.non2xx, 0),
    lost: rs.reduce((a, r) => a + Math.max(0, Math.round(r.rps * seconds) - r.delivered), 0),
  });
  const channel = summarize(runs.channel);
  const broker1 = summarize(runs.broker1);
  const broker50 = summarize(runs.broker50);
  const brokerReply = summarize(runs.brokerReply);
  return {
    name: 'broker-1-and-50-triggers-vs-channel',
    seconds,
    rounds,
    connections,
    channel,
    broker1,
    broker50,
    brokerReply,
    ratio1: broker1.rps / channel.rps,
    ratio50: broker50.rps / channel.rps,
    ratioDelivered1: broker1.deliveredPerSec / channel.deliveredPerSec,
    ratioDelivered50: broker50.deliveredPerSec / channel.deliveredPerSec,
    /** Replies delivered per second through a Trigger -> replier -> broker -> Trigger chain, against the 1-Trigger broker. */
    ratioReplyChain: brokerReply.deliveredPerSec / broker1.deliveredPerSec,
    // Each round's ratio against the channel path of the same round (the same Sluice process and sink).
    goals: [
      goal('broker, 50 triggers (1 matching): delivered/s vs channel path', perRound(runs.broker50, runs.channel), '>=', 0.8),
      goal('broker, 1 trigger: delivered/s vs channel path', perRound(runs.broker1, runs.channel), '>=', 0.8),
    ],
    runs,
  };
}

function perRound(path: readonly LoadResult[], baseline: readonly LoadResult[]): number[] {
  return path.map((r, i) => r.deliveredPerSec / baseline[i]!.deliveredPerSec);
}
