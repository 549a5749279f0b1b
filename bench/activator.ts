/**
 * Activator benchmark (standalone: `node --import tsx bench/activator.ts`).
 *
 * 1. Cold-start overhead: for each round, the time from `acquire()` on a scaled-to-zero
 *    service to its first response, minus the service's own start-to-first-response time
 *    measured in the same round (just before and just after, averaged) by starting the
 *    same process directly and polling it every 2 ms. The difference is what the
 *    activator adds (spawn through the watchdog, readiness detection, routing).
 *    Goal: median <= 20 ms.
 * 1b. The same from outside (bench/activator-outside.ts): Sluice in its own process, an
 *    event POSTed to a channel whose Subscription targets a scaled-to-zero Service, until
 *    a sink has it, against the same direct start. Goal: median <= 20 ms.
 * 2. Throughput with scale-up from zero: closed-loop clients through acquire/release
 *    against a service that starts at zero replicas and scales to N.
 * 3. Container cold start (bench/activator-container.ts): the same for a Service run as a
 *    container, against the container's own start time.
 * 4. Inside a running broker (bench/activator-broker.ts): cold start end to end (event
 *    POSTed to a channel -> delivered to the scaled-to-zero Service) and the warm path
 *    (direct vs activator routing vs the /services/ proxy), each against its baseline.
 */
import { fileURLToPath, pathToFileURL } from 'node:url';
import { connect } from 'node:net';
import { request, Agent } from 'undici';
import { Activator, serviceConfigFrom, type ServiceConfig } from '../src/activator/index.js';
import { spawn } from 'node:child_process';
import { setMaxListeners } from 'node:events';
import { silentLogger } from '../src/observability/logger.js';
import { freePort } from '../src/activator/readiness-probe.js';
import { benchActivatorInBroker } from './activator-broker.js';
import { benchContainerColdStart } from './activator-container.js';
import { benchActivatorOutside } from './activator-outside.js';
import { goal } from './lib/goals.js';

const ECHO = fileURLToPath(new URL('../test/activator/fixtures/echo-service.mjs', import.meta.url));
const logger = silentLogger();
const agent = new Agent({ connections: 512 });

function service(name: string, annotations: Record<string, string>, containerConcurrency = 0): ServiceConfig {
  return serviceConfigFrom({
    apiVersion: 'serving.knative.dev/v1',
    kind: 'Service',
    metadata: { name, namespace: 'bench' },
    spec: {
      template: {
        metadata: { annotations: { 'autoscaling.knative.dev/initial-scale': '0', ...annotations } },
        spec: { containerConcurrency, containers: [{ command: [process.execPath, ECHO] }] },
      },
    },
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

function tcpUp(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => (s.destroy(), resolve(false)));
  });
}

/**
 * The service's own start-to-first-response time: spawned with a plain `spawn` (no
 * watchdog, so the watchdog's cost counts as activator overhead), polled every 2 ms.
 */
async function directStart(): Promise<number> {
  const port = await freePort('127.0.0.1');
  const t0 = performance.now();
  const proc = spawn(process.execPath, [ECHO], { env: { ...process.env, PORT: String(port) }, stdio: 'ignore' });
  const exited = new Promise((r) => proc.once('exit', r));
  while (!(await tcpUp(port))) await new Promise((r) => setTimeout(r, 2));
  const res = await request(`http://127.0.0.1:${port}/`, { dispatcher: agent });
  await res.body.dump();
  const ms = performance.now() - t0;
  proc.kill('SIGTERM');
  await exited;
  return ms;
}

async function activatorColdStart(activator: Activator, round: number): Promise<number> {
  const cfg = service(`cold-${round}`, {});
  await activator.apply(cfg);
  const t0 = performance.now();
  const lease = await activator.resolver(cfg.key).acquire(new AbortController().signal);
  const res = await request(lease.url, { dispatcher: agent });
  await res.body.dump();
  const ms = performance.now() - t0;
  lease.release();
  await activator.remove(cfg.key);
  return ms;
}

export async function benchActivator(options: { rounds?: number; seconds?: number; clients?: number; maxScale?: number } = {}): Promise<Record<string, unknown>> {
  const rounds = options.rounds ?? 10;
  // Cold starts vary by more than the overhead on a loaded machine: never fewer than 7 rounds.
  const coldRounds = Math.max(7, rounds);
  const activator = new Activator({ logger, process: { stopGraceMs: 2000 } });
  try {
    // Warm up node's own caches (first spawn is slower) before measuring.
    await directStart();
    const direct: number[] = [];
    const viaActivator: number[] = [];
    for (let i = 0; i < coldRounds; i++) {
      // The baseline brackets the measured path (direct, activator, direct; its figure is
      // the mean of both), so machine load that changes during the round hits both alike.
      const before = await directStart();
      viaActivator.push(await activatorColdStart(activator, i));
      direct.push((before + (await directStart())) / 2);
    }
    const overhead = viaActivator.map((v, i) => v - direct[i]!);

    // Throughput with scale-up from zero.
    const seconds = options.seconds ?? 5;
    const clients = options.clients ?? 64;
    const maxScale = options.maxScale ?? 4;
    const cfg = service('throughput', { 'autoscaling.knative.dev/target': String(clients / maxScale), 'autoscaling.knative.dev/max-scale': String(maxScale) }, clients / maxScale);
    const svc = await activator.apply(cfg);
    const resolver = activator.resolver(cfg.key);
    let done = 0;
    let failed = 0;
    let firstReadyAt = 0;
    let allReadyAt = 0;
    const t0 = performance.now();
    const deadline = t0 + seconds * 1000;
    const never = new AbortController().signal;
    setMaxListeners(0, never); // one signal shared by every client of the loop
    const watch = setInterval(() => {
      const r = svc.status().replicas.ready;
      if (r > 0 && !firstReadyAt) firstReadyAt = performance.now() - t0;
      if (r >= maxScale && !allReadyAt) allReadyAt = performance.now() - t0;
    }, 5);
    await Promise.all(
      Array.from({ length: clients }, async () => {
        while (performance.now() < deadline) {
          const lease = await resolver.acquire(never);
          try {
            const res = await request(lease.url, { method: 'POST', body: 'x', dispatcher: agent });
            await res.body.dump();
            done++;
          } catch {
            failed++;
          } finally {
            lease.release();
          }
        }
      }),
    );
    clearInterval(watch);
    const elapsed = (performance.now() - t0) / 1000;
    const warmSeconds = elapsed - (allReadyAt || elapsed * 1000) / 1000;
    const throughput = { done, failed, elapsed, firstReadyAt, allReadyAt, warmSeconds, replicasAtEnd: svc.status().replicas.ready };
    await activator.remove(cfg.key);
    const { brokerRuns, ...inBroker } = await benchActivatorInBroker({ rounds, seconds: Math.max(3, seconds) });
    const outside = await benchActivatorOutside({ rounds: coldRounds });
    const containerColdStart = await benchContainerColdStart(rounds);
    const { runs: outsideRuns, ...coldStartOutside } = outside;
    return {
      goals: [
        goal('activator cold start overhead, in process (acquire -> response, vs direct start)', overhead, '<=', 20, 'ms'),
        goal('activator cold start overhead, outside (Sluice process: channel -> Service -> sink, vs direct start)', outside.overheadRounds, '<=', 20, 'ms'),
        goal('activator cold start overhead, outside, each minus its replica own start-to-listen', outside.startCorrectedOverheadRounds, '<=', 20, 'ms'),
      ],
      coldStart: {
        rounds: coldRounds,
        serviceOwnStartMedianMs: round(median(direct)),
        viaActivatorMedianMs: round(median(viaActivator)),
        overheadMedianMs: round(median(overhead)),
        overheadTargetMs: 20,
        withinTarget: median(overhead) <= 20,
      },
      coldStartOutside: { ...coldStartOutside, overheadTargetMs: 20 },
      scaleUpThroughput: {
        clients,
        maxScale,
        seconds: round(elapsed),
        requests: throughput.done,
        failed: throughput.failed,
        requestsPerSecond: round(throughput.done / throughput.elapsed),
        firstReplicaReadyMs: round(throughput.firstReadyAt),
        allReplicasReadyMs: throughput.allReadyAt ? round(throughput.allReadyAt) : null,
        replicasAtEnd: throughput.replicasAtEnd,
        warmSeconds: round(throughput.warmSeconds),
      },
      ...inBroker,
      containerColdStart,
      runs: { direct: direct.map(round), viaActivator: viaActivator.map(round), broker: brokerRuns, outside: outsideRuns },
    };
  } finally {
    await activator.close();
    await agent.close();
  }
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await benchActivator({ rounds: Number(process.env.BENCH_ROUNDS ?? 10), seconds: Number(process.env.BENCH_SECONDS ?? 5) });
  console.log(JSON.stringify(result, null, 2));
}
