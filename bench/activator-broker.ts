/**
 * The activator inside a running broker (a SluiceServer in this process), each figure
 * against a baseline measured in the same run:
 *
 * 1. Cold start, end to end: from the POST of a CloudEvent to a channel whose
 *    Subscription targets a scaled-to-zero Service, to the moment the service has the
 *    event (it relays it to a local sink) -- minus the same service's own time when
 *    started directly (plain spawn, TCP polled every 2 ms) and sent the same event.
 * 2. Warm path: closed-loop requests to a warm replica, directly (baseline), through the
 *    activator's in-process routing (the dispatcher's path: acquire, POST, release), and
 *    through the public `/services/<ns>/<name>/` proxy (one more HTTP hop by design).
 *    Reported as requests/s and the ratio direct / path (1.0 = no overhead).
 */
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { setMaxListeners } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { SluiceServer } from '../src/server/sluice-server.js';
import { parseResourcesText } from '../src/resources/index.js';
import { createSluiceKinds } from '../src/kinds.js';
import { silentLogger } from '../src/observability/logger.js';
import { freePort, median } from './lib/processes.js';

export const RELAY = fileURLToPath(new URL('../test/activator/fixtures/relay-service.mjs', import.meta.url));
export const EVENT_HEADERS = { 'ce-specversion': '1.0', 'ce-source': '/bench', 'ce-type': 'dev.sluice.bench', 'content-type': 'text/plain' };

export interface RelaySink {
  url: string;
  /** Resolves with `performance.now()` at the moment the relayed event `id` arrived. */
  next(id: string): Promise<number>;
  /** The relaying replica's own start-to-listen time (ms) for event `id`, once it arrived. */
  ownStartMs(id: string): number | undefined;
  close(): Promise<void>;
}

/** A sink that resolves a waiter per relayed event id. */
export async function startRelaySink(): Promise<RelaySink> {
  const waiters = new Map<string, (t: number) => void>();
  const ownStart = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const t = performance.now();
      const rec = JSON.parse(Buffer.concat(chunks).toString()) as { headers: Record<string, string>; startedAt?: number; listeningAt?: number };
      const id = rec.headers['ce-id'] ?? '';
      if (rec.startedAt && rec.listeningAt) ownStart.set(id, rec.listeningAt - rec.startedAt);
      waiters.get(id)?.(t);
      waiters.delete(id);
      res.statusCode = 204;
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/`,
    next: (id) => new Promise<number>((resolve) => waiters.set(id, resolve)),
    ownStartMs: (id) => ownStart.get(id),
    close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
}

function tcpUp(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => (s.destroy(), resolve(false)));
  });
}

function serviceYaml(name: string, env: Record<string, string>, annotations: Record<string, string>): string {
  return `---
apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: ${name}, namespace: bench}
spec:
  template:
    metadata:
      annotations:
${Object.entries(annotations).map(([k, v]) => `        ${k}: "${v}"`).join('\n')}
    spec:
      containers:
        - command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(RELAY)}]
          env:
${Object.entries(env).map(([k, v]) => `            - {name: ${k}, value: ${JSON.stringify(v)}}`).join('\n')}
          readinessProbe: {tcpSocket: {}}
`;
}

async function apply(server: SluiceServer, yaml: string): Promise<void> {
  const loaded = parseResourcesText(yaml, 'bench.yaml', { registry: createSluiceKinds() });
  if (loaded.errors.length) throw new Error(loaded.errors.map((e) => e.message).join('\n'));
  await server.runtime.apply(loaded.resources);
}

/** The service started directly: spawn, poll its port, POST the event, until the sink has it. */
export async function directColdStart(sink: RelaySink, id: string, agent: Agent): Promise<number> {
  const port = await freePort();
  const t0 = performance.now();
  const proc = spawn(process.execPath, [RELAY], { env: { ...process.env, PORT: String(port), RELAY_TO: sink.url }, stdio: 'ignore' });
  const exited = new Promise((r) => proc.once('exit', r));
  while (!(await tcpUp(port))) await new Promise((r) => setTimeout(r, 2));
  const got = sink.next(id);
  const res = await request(`http://127.0.0.1:${port}/`, { method: 'POST', headers: { ...EVENT_HEADERS, 'ce-id': id }, body: id, dispatcher: agent });
  await res.body.dump();
  const ms = (await got) - t0;
  proc.kill('SIGTERM');
  await exited;
  return ms;
}

/** A fresh scaled-to-zero Service behind a channel: POST the event, until the sink has it. */
async function brokerColdStart(server: SluiceServer, sink: RelaySink, round: number, agent: Agent): Promise<number> {
  const name = `cold-${round}`;
  await apply(
    server,
    `apiVersion: messaging.knative.dev/v1
kind: InMemoryChannel
metadata: {name: ${name}, namespace: bench}
` +
      serviceYaml(name, { RELAY_TO: sink.url }, { 'autoscaling.knative.dev/initial-scale': '0' }) +
      `---
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata: {name: ${name}, namespace: bench}
spec:
  channel: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: ${name}}
  subscriber: {ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: ${name}}}
`,
  );
  const id = `b-${round}`;
  const got = sink.next(id);
  const t0 = performance.now();
  const res = await request(`${server.ingressUrl}/channels/bench/${name}`, { method: 'POST', headers: { ...EVENT_HEADERS, 'ce-id': id }, body: id, dispatcher: agent });
  await res.body.dump();
  if (res.statusCode !== 202) throw new Error(`channel answered ${res.statusCode}`);
  const ms = (await got) - t0;
  for (const kind of ['Subscription', 'Service', 'InMemoryChannel']) await server.runtime.delete(kind, 'bench', name);
  return ms;
}

/** Closed loop: `clients` concurrent callers for `seconds`; requests/s. */
async function closedLoop(seconds: number, clients: number, one: () => Promise<void>): Promise<number> {
  let done = 0;
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < deadline) {
        await one();
        done++;
      }
    }),
  );
  return done / ((performance.now() - t0) / 1000);
}

export async function benchActivatorInBroker(options: { rounds?: number; seconds?: number; clients?: number } = {}): Promise<Record<string, unknown>> {
  const rounds = options.rounds ?? 5;
  const seconds = options.seconds ?? 3;
  const clients = options.clients ?? 16;
  const agent = new Agent({ connections: 256, keepAliveTimeout: 10_000 });
  const sink = await startRelaySink();
  const server = new SluiceServer({ logger: silentLogger(), port: 0, adminPort: 0, host: '127.0.0.1', drainTimeoutMs: 2000 });
  await server.listen();
  try {
    await directColdStart(sink, 'warmup', agent); // node's first spawn is slower
    const direct: number[] = [];
    const viaBroker: number[] = [];
    for (let i = 0; i < rounds; i++) {
      // Interleaved so that machine load affects both the same way.
      direct.push(await directColdStart(sink, `d-${i}`, agent));
      viaBroker.push(await brokerColdStart(server, sink, i, agent));
    }
    const overhead = viaBroker.map((v, i) => v - direct[i]!);

    // Warm path: one warm replica (min-scale 1), no relay (answers 202 at once).
    await apply(server, serviceYaml('warm', { VERSION: 'warm' }, { 'autoscaling.knative.dev/min-scale': '1', 'autoscaling.knative.dev/initial-scale': '1' }));
    const resolver = server.services.activator.resolver('bench/warm');
    const never = new AbortController().signal;
    setMaxListeners(0, never);
    const first = await resolver.acquire(never);
    const replicaUrl = first.url;
    first.release();
    const post = async (url: string) => {
      const res = await request(url, { method: 'POST', headers: { ...EVENT_HEADERS, 'ce-id': 'w' }, body: 'w', dispatcher: agent });
      await res.body.dump();
    };
    const runs = { direct: [] as number[], activator: [] as number[], proxy: [] as number[] };
    // Many short alternating slices: load from other processes hits all three paths alike.
    const slices = 8;
    const slice = Math.max(0.25, seconds / slices);
    for (let i = 0; i < slices; i++) {
      runs.direct.push(await closedLoop(slice, clients, () => post(replicaUrl)));
      runs.activator.push(
        await closedLoop(slice, clients, async () => {
          const lease = await resolver.acquire(never);
          try {
            await post(lease.url);
          } finally {
            lease.release();
          }
        }),
      );
      runs.proxy.push(await closedLoop(slice, clients, () => post(`${server.ingressUrl}/services/bench/warm/`)));
    }
    const rps = { direct: median(runs.direct), activator: median(runs.activator), proxy: median(runs.proxy) };
    // Ratios per slice pair, then the median: robust to one slow slice.
    const ratio = (path: number[]) => median(path.map((x, i) => runs.direct[i]! / x));
    return {
      coldStartEndToEnd: {
        rounds,
        serviceOwnStartMedianMs: round(median(direct)),
        viaBrokerMedianMs: round(median(viaBroker)),
        overheadMedianMs: round(median(overhead)),
        overheadTargetMs: 20,
        withinTarget: median(overhead) <= 20,
      },
      warmPath: {
        clients,
        directRps: round(rps.direct),
        activatorRps: round(rps.activator),
        proxyRps: round(rps.proxy),
        activatorOverheadRatio: round2(ratio(runs.activator)),
        proxyOverheadRatio: round2(ratio(runs.proxy)),
      },
      brokerRuns: { direct: direct.map(round), viaBroker: viaBroker.map(round), warm: { direct: runs.direct.map(round), activator: runs.activator.map(round), proxy: runs.proxy.map(round) } },
    };
  } finally {
    await server.close();
    await sink.close();
    await agent.close();
  }
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
