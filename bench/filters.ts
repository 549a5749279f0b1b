/**
 * Trigger filter evaluation cost: `node --import tsx bench/filters.ts`.
 * Evaluates one compiled filter and then 50 (every dialect, CESQL included) against one
 * event, as a broker does for each event it routes, and prints ns per evaluation next to
 * a baseline (an empty predicate call) measured in the same run.
 * Env: BENCH_ROUNDS (default 5), BENCH_ITERATIONS (default 200000 per round).
 */
import { pathToFileURL } from 'node:url';
import { compileTriggerFilter, type CompiledFilter, type TriggerFilterSpec } from '../src/broker/filters/index.js';

const EVENT: Readonly<Record<string, string>> = Object.freeze({
  specversion: '1.0',
  id: '9b0f4c1e-6a3b-4d5e-8f70-123456789abc',
  source: 'https://github.com/acme/shop',
  type: 'dev.knative.source.github.pull_request',
  subject: '1347',
  time: '2026-11-24T10:00:00Z',
  datacontenttype: 'application/json',
  owner: 'acme',
  repository: 'shop',
  sender: 'octocat',
  action: 'opened',
  knativebrokerttl: '254',
});

/** 10 shapes of Trigger filter; the 50 Triggers cycle through them with different values. */
function triggerSpec(i: number): TriggerFilterSpec {
  const n = String(i);
  switch (i % 10) {
    case 0:
      return { filter: { attributes: { type: 'dev.knative.source.github.pull_request', repository: i === 0 ? 'shop' : `repo${n}` } } };
    case 1:
      return { filters: [{ exact: { type: 'dev.knative.source.github.push', owner: 'acme' } }] };
    case 2:
      return { filters: [{ prefix: { type: 'dev.knative.source.github.' } }, { suffix: { source: `/shop${i > 10 ? n : ''}` } }] };
    case 3:
      return { filters: [{ any: [{ exact: { action: 'opened' } }, { exact: { action: `reopened${n}` } }] }] };
    case 4:
      return { filters: [{ not: { suffix: { sender: '[bot]' } } }, { exact: { owner: 'acme' } }] };
    case 5:
      return { filters: [{ cesql: `type LIKE 'dev.knative.source.github.%' AND action IN ('opened', 'synchronize', 'x${n}')` }] };
    case 6:
      return { filters: [{ cesql: `INT(subject) > ${1000 + i} AND knativebrokerttl > 0` }] };
    case 7:
      return { filters: [{ cesql: `LOWER(sender) = 'octocat' OR EXISTS label${n}` }] };
    case 8:
      return {
        filters: [
          { all: [{ prefix: { source: 'https://github.com/' } }, { any: [{ not: { exact: { sender: 'dependabot[bot]' } } }, { cesql: 'FALSE' }] }] },
        ],
      };
    default:
      return { filters: [{ exact: { repository: 'shop' } }, { cesql: `subject LIKE '1%${i % 7}' XOR action = 'closed'` }] };
  }
}

type Case = { name: string; filters: CompiledFilter[] };

let sink = 0; // consumed so that the JIT cannot drop the evaluations

function timeOne(filters: CompiledFilter[], iterations: number): number {
  const event = EVENT;
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) {
    for (let j = 0; j < filters.length; j++) if ((filters[j] as CompiledFilter)(event)) sink++;
  }
  return Number(process.hrtime.bigint() - start) / iterations;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

export async function benchFilters(opts: { rounds?: number; iterations?: number } = {}): Promise<Record<string, unknown>> {
  const rounds = opts.rounds ?? 5;
  const iterations = opts.iterations ?? 200_000;
  const fifty = Array.from({ length: 50 }, (_, i) => compileTriggerFilter(triggerSpec(i)));
  const cases: Case[] = [
    { name: 'baseline: empty predicate', filters: [() => true] },
    { name: '1 filter: exact', filters: [compileTriggerFilter(triggerSpec(1))] },
    { name: '1 filter: CESQL LIKE + IN', filters: [compileTriggerFilter(triggerSpec(5))] },
    { name: '1 filter: CESQL INT + compare', filters: [compileTriggerFilter(triggerSpec(6))] },
    { name: '50 filters, mixed dialects', filters: fifty },
  ];
  const matching = fifty.filter((f) => f(EVENT)).length;
  const runs: Record<string, number[]> = {};
  for (const c of cases) timeOne(c.filters, Math.min(iterations, 20_000)); // warm up every case before measuring any
  for (let r = 0; r < rounds; r++) {
    for (const c of cases) (runs[c.name] ??= []).push(timeOne(c.filters, c.filters.length > 1 ? Math.ceil(iterations / 10) : iterations));
  }
  const results = cases.map((c) => {
    const ns = median(runs[c.name] as number[]);
    return { case: c.name, filters: c.filters.length, nsPerEvent: Math.round(ns * 10) / 10, nsPerFilter: Math.round((ns / c.filters.length) * 10) / 10 };
  });
  return { rounds, iterations, triggersMatchingOf50: matching, results, runs, sink };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const out = await benchFilters({
    rounds: Number(process.env.BENCH_ROUNDS ?? 5),
    iterations: Number(process.env.BENCH_ITERATIONS ?? 200_000),
  });
  console.log(`Trigger filters: ${String(out.triggersMatchingOf50)} of 50 match the event; median of ${String(out.rounds)} rounds`);
  console.table(out.results);
}
