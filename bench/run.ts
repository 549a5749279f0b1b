/**
 * `npm run bench`: every benchmark against a baseline measured in the same run.
 * Usage: npm run bench [-- channel ...] (default: all but soak). Results go to bench/results/.
 * `npm run bench -- soak [--duration 60] [--channels memory,nats,redis] [--rate 500]`: see bench/soak.ts.
 * `npm run bench -- channel-profile`: CPU per event and where it goes, see bench/channel-profile.ts.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { benchChannel } from './channel.js';
import { benchChannelProfile } from './channel-profile.js';
import { benchDurableChannels } from './channels-durable.js';
import { benchFilters } from './filters.js';
import { benchActivator } from './activator.js';
import { benchBroker } from './broker.js';
import { benchSoak, soakOptionsFromArgs } from './soak.js';
import { benchMemoryBound } from './memory-bound.js';
import { benchMemoryBacklog } from './memory-backlog.js';
import { benchTransform } from './transform.js';
import { formatGoal, type Goal } from './lib/goals.js';

type Bench = () => Promise<Record<string, unknown>>;
const benches: Record<string, Bench> = {
  channel: () => benchChannel({ seconds: Number(process.env.BENCH_SECONDS ?? 5), rounds: Number(process.env.BENCH_ROUNDS ?? 3) }),
  'channels-durable': () => benchDurableChannels({ seconds: Number(process.env.BENCH_SECONDS ?? 5), rounds: Number(process.env.BENCH_ROUNDS ?? 3) }),
  filters: () => benchFilters({ rounds: Number(process.env.BENCH_ROUNDS ?? 3) }),
  activator: () => benchActivator({ rounds: Number(process.env.BENCH_ROUNDS ?? 3) }),
  broker: () => benchBroker({ seconds: Number(process.env.BENCH_SECONDS ?? 5), rounds: Number(process.env.BENCH_ROUNDS ?? 3) }),
  'memory-bound': () => benchMemoryBound({ rounds: Number(process.env.BENCH_ROUNDS ?? 3) }),
  'memory-backlog': () => benchMemoryBacklog({ rounds: Number(process.env.BENCH_ROUNDS ?? 3) }),
  transform: () => benchTransform({ rounds: Number(process.env.BENCH_ROUNDS ?? 3) }),
  soak: () => benchSoak(soakOptionsFromArgs(process.argv.slice(2))),
  'channel-profile': () => benchChannelProfile({ seconds: Number(process.env.BENCH_SECONDS ?? 5), rounds: Number(process.env.BENCH_ROUNDS ?? 3) }),
};
/** Minutes long, or not a comparison with a baseline: run only when named. */
const onlyWhenNamed = new Set(['soak', 'channel-profile']);

// Names are the arguments that are neither flags nor a flag's value (`--duration 20`).
const argv = process.argv.slice(2);
const wanted = argv.filter((a, i) => !a.startsWith('-') && !(i > 0 && argv[i - 1]!.startsWith('--') && !argv[i - 1]!.includes('=')));
const names = wanted.length ? wanted : Object.keys(benches).filter((n) => !onlyWhenNamed.has(n));
mkdirSync('bench/results', { recursive: true });
const judged: Goal[] = [];
for (const name of names) {
  const bench = benches[name];
  if (!bench) {
    console.error(`unknown benchmark ${name}; known: ${Object.keys(benches).join(', ')}`);
    process.exit(2);
  }
  console.log(`== ${name}`);
  const result = await bench();
  const { runs: _runs, ...shown } = result as Record<string, unknown> & { runs?: unknown };
  console.log(JSON.stringify(shown, null, 2));
  const file = `bench/results/${name}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
  writeFileSync(file, JSON.stringify(result, null, 2));
  console.log(`written ${file}`);
  const goals = (result as { goals?: Goal[] }).goals ?? [];
  for (const g of goals) console.log(formatGoal(g));
  judged.push(...goals);
}
if (judged.length) {
  console.log('== goals (ratio against the same run\'s baseline; ok~: short of the goal by less than the run\'s own noise)');
  for (const g of judged) console.log(formatGoal(g));
  const missed = judged.filter((g) => g.verdict === 'missed');
  if (missed.length) {
    console.error(`${missed.length} goal(s) missed by more than the measured noise`);
    process.exitCode = 1;
  }
}
