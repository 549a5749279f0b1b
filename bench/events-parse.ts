/**
 * Micro-benchmark: Sluice's CloudEvents HTTP codec against the cloudevents SDK on the
 * same requests, in the same run. `node --import tsx bench/events-parse.ts`
 * Env: BENCH_SECONDS (per measurement, default 1), BENCH_ROUNDS (default 3; best round counts).
 */
import { CloudEvent, HTTP } from 'cloudevents';
import { parseHttpEvents, toBinaryHttp, toStructuredJson } from '../src/events/index.js';

const seconds = Number(process.env.BENCH_SECONDS ?? 1);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);

// A typical webhook-sized event: ~600 bytes of JSON data, a few extensions.
const data = Buffer.from(JSON.stringify({
  action: 'opened', number: 42, repository: { full_name: 'octo/hello', private: false, id: 1296269 },
  sender: { login: 'octocat', id: 1, type: 'User' }, labels: ['bug', 'triage'], body: 'x'.repeat(400),
}));
const attributes = {
  specversion: '1.0', id: 'b7a1f3c2-5d4e-4c1b-9a8f-0e2d3c4b5a69', source: 'https://github.com/octo/hello',
  type: 'dev.knative.source.github.pull_request', time: '2024-05-01T12:34:56.789Z', subject: '42',
  datacontenttype: 'application/json', owner: 'octo', repository: 'hello', action: 'opened',
};
const binary = toBinaryHttp({ attributes, data });
const binaryHeaders = { ...binary.headers, 'content-length': String(data.length), host: 'localhost:8080', 'user-agent': 'bench' };
const structuredBody = Buffer.from(toStructuredJson({ attributes, data }));
const structuredHeaders = { 'content-type': 'application/cloudevents+json; charset=utf-8', 'content-length': String(structuredBody.length), host: 'localhost:8080' };

// Sanity: both sides accept both requests before anything is timed.
for (const [h, b] of [[binaryHeaders, data], [structuredHeaders, structuredBody]] as const) {
  if (parseHttpEvents(h, b).events[0]?.attributes.id !== attributes.id) throw new Error('codec failed');
  const ce = HTTP.toEvent({ headers: h, body: b.toString('utf8') }) as CloudEvent;
  ce.validate();
  if (ce.id !== attributes.id) throw new Error('sdk failed');
}

let sink = 0;
function measure(fn: () => void): number {
  for (let i = 0; i < 2000; i++) fn(); // warm up the JIT
  let ops = 0;
  const start = process.hrtime.bigint();
  const end = start + BigInt(Math.round(seconds * 1e9));
  let now = start;
  while (now < end) {
    for (let i = 0; i < 500; i++) fn();
    ops += 500;
    now = process.hrtime.bigint();
  }
  return ops / (Number(now - start) / 1e9);
}

const cases = {
  'binary': {
    sluice: () => { sink += parseHttpEvents(binaryHeaders, data).events.length; },
    // A real SDK receiver passes the body as text (its JSON parser only reads strings).
    sdk: () => { const ce = HTTP.toEvent({ headers: binaryHeaders, body: data.toString('utf8') }) as CloudEvent; ce.validate(); sink++; },
  },
  'structured': {
    sluice: () => { sink += parseHttpEvents(structuredHeaders, structuredBody).events.length; },
    sdk: () => { const ce = HTTP.toEvent({ headers: structuredHeaders, body: structuredBody.toString('utf8') }) as CloudEvent; ce.validate(); sink++; },
  },
};

console.log(`events-parse: ${data.length} B JSON data, best of ${rounds} rounds x ${seconds}s, node ${process.version}`);
for (const [name, c] of Object.entries(cases)) {
  let bestSluice = 0;
  let bestSdk = 0;
  // Interleave the two so that machine load affects both alike.
  for (let r = 0; r < rounds; r++) {
    bestSluice = Math.max(bestSluice, measure(c.sluice));
    bestSdk = Math.max(bestSdk, measure(c.sdk));
  }
  const fmt = (n: number): string => Math.round(n).toLocaleString('en-US').padStart(10);
  console.log(`${name.padEnd(11)} sluice ${fmt(bestSluice)} ops/s (${(1e6 / bestSluice).toFixed(2)} us)   sdk toEvent+validate ${fmt(bestSdk)} ops/s (${(1e6 / bestSdk).toFixed(2)} us)   ratio ${(bestSluice / bestSdk).toFixed(1)}x`);
}
if (sink === 0) console.log('');
