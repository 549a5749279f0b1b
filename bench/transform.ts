/**
 * EventTransform per-event cost: `node --import tsx bench/transform.ts`.
 * One real GitHub `push` payload as a binary-mode CloudEvent, three cases in the same run:
 * (a) the compiled JSONata expression evaluated alone (`JsonataTransform.apply`: input
 * object, async evaluation, result read back as a CloudEvent); (b) a POST to Sluice's
 * `/transforms/<ns>/<name>` (no sink: the transformed event is the response); (c) the
 * baseline, a POST of the same event to an InMemoryChannel with no subscription (ingress
 * only). Sluice runs in this process, the client is an undici Pool on loopback: both POST
 * cases pay the same client cost, so their ratio is what the transform adds.
 * Env: BENCH_ROUNDS (default 3), BENCH_EVENTS (default 5000 per round), BENCH_CONCURRENCY (default 16).
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Pool } from 'undici';
import { SluiceServer } from '../src/server/sluice-server.js';
import { parseResourcesText } from '../src/resources/index.js';
import { silentLogger } from '../src/observability/logger.js';
import { createSluiceKinds } from '../src/kinds.js';
import { JsonataTransform } from '../src/transform/index.js';
import type { SluiceEvent } from '../src/events/index.js';

const EXPRESSION = `{
  'specversion': specversion,
  'id': id,
  'type': 'com.example.push.summary',
  'source': source,
  'data': { 'repo': data.repository.full_name, 'commits': $count(data.commits) }
}`;

interface Example { name: string; examples: unknown[] }
const PUSH = (createRequire(import.meta.url)('@octokit/webhooks-examples') as Example[]).find((g) => g.name === 'push')!.examples[0];
const BODY = Buffer.from(JSON.stringify(PUSH));
const HEADERS = {
  'ce-specversion': '1.0',
  'ce-id': 'bench-1',
  'ce-type': 'dev.knative.source.github.push',
  'ce-source': 'https://github.com/Codertocat/Hello-World',
  'content-type': 'application/json',
};
const EVENT: SluiceEvent = { attributes: { specversion: '1.0', id: 'bench-1', type: 'dev.knative.source.github.push', source: 'https://github.com/Codertocat/Hello-World', datacontenttype: 'application/json' }, data: BODY };

const YAML = `apiVersion: eventing.knative.dev/v1alpha1
kind: EventTransform
metadata: {name: summary}
spec:
  jsonata:
    expression: ${JSON.stringify(EXPRESSION)}
---
apiVersion: messaging.knative.dev/v1
kind: InMemoryChannel
metadata: {name: baseline}
`;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

interface Round { eventsPerSec: number; medianUs: number }

/** `n` calls of `one`, `concurrency` at a time; per-call latency and overall rate. */
async function drive(n: number, concurrency: number, one: () => Promise<void>): Promise<Round> {
  const lat: number[] = [];
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < n) {
        const t = performance.now();
        await one();
        lat.push((performance.now() - t) * 1000);
      }
    }),
  );
  return { eventsPerSec: Math.round(n / ((performance.now() - start) / 1000)), medianUs: Math.round(median(lat) * 10) / 10 };
}

export async function benchTransform(opts: { rounds?: number; events?: number; concurrency?: number } = {}): Promise<Record<string, unknown>> {
  const rounds = opts.rounds ?? 3;
  const events = opts.events ?? 5000;
  const concurrency = opts.concurrency ?? 16;
  const server = new SluiceServer({ logger: silentLogger(), port: 0, adminPort: 0, host: '127.0.0.1', drainTimeoutMs: 2000 });
  await server.listen();
  const loaded = parseResourcesText(YAML, 'bench.yaml', { registry: createSluiceKinds() });
  if (loaded.errors.length) throw new Error(loaded.errors.map((e) => e.message).join('\n'));
  await server.runtime.apply(loaded.resources);
  const pool = new Pool(server.ingressUrl, { connections: concurrency });
  const transform = new JsonataTransform(EXPRESSION, 'spec.jsonata.expression');
  const post = (path: string, expect: number) => async () => {
    const res = await pool.request({ path, method: 'POST', headers: HEADERS, body: BODY });
    await res.body.dump();
    if (res.statusCode !== expect) throw new Error(`${path} answered ${res.statusCode}`);
  };
  const cases: Array<{ name: string; one: () => Promise<void>; concurrency: number }> = [
    { name: '(a) expression alone', one: async () => void (await transform.apply(EVENT)), concurrency: 1 },
    { name: '(b) POST /transforms (no sink)', one: post('/transforms/default/summary', 200), concurrency },
    { name: '(c) baseline: POST /channels, no transform', one: post('/channels/default/baseline', 202), concurrency },
  ];
  const runs: Record<string, Round[]> = {};
  try {
    for (const c of cases) await drive(Math.min(events, 1000), c.concurrency, c.one); // warm up every case first
    for (let r = 0; r < rounds; r++) for (const c of cases) (runs[c.name] ??= []).push(await drive(events, c.concurrency, c.one));
  } finally {
    await pool.close();
    await server.close();
  }
  const results = cases.map((c) => ({
    case: c.name,
    concurrency: c.concurrency,
    eventsPerSec: median(runs[c.name]!.map((x) => x.eventsPerSec)),
    medianUsPerEvent: median(runs[c.name]!.map((x) => x.medianUs)),
    // What each event costs at that rate (1e6 / events per second): GC and queueing included.
    usPerEventAtRate: Math.round(1e7 / median(runs[c.name]!.map((x) => x.eventsPerSec))) / 10,
  }));
  const b = results[1]!;
  const base = results[2]!;
  return {
    rounds,
    events,
    payloadBytes: BODY.length,
    results,
    transformVsChannel: {
      throughputRatio: Math.round((b.eventsPerSec / base.eventsPerSec) * 100) / 100,
      latencyRatio: Math.round((b.medianUsPerEvent / base.medianUsPerEvent) * 100) / 100,
    },
    runs,
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const out = await benchTransform({
    rounds: Number(process.env.BENCH_ROUNDS ?? 3),
    events: Number(process.env.BENCH_EVENTS ?? 5000),
    concurrency: Number(process.env.BENCH_CONCURRENCY ?? 16),
  });
  console.log(`EventTransform, ${String(out.payloadBytes)}-byte GitHub push; median of ${String(out.rounds)} rounds of ${String(out.events)} events`);
  console.table(out.results);
  console.log('transform vs channel:', out.transformVsChannel);
}
