/**
 * Container cold start (part of `npm run bench -- activator`): for a Service run as a
 * container, the time from `acquire()` on a scaled-to-zero service to its first
 * response, against the container's own start time measured in the same run:
 * the same foreground `run --rm` of the image, spawned plainly, polled every 2 ms until it answers. The
 * difference is Sluice's share (the foreground CLI under the watchdog, probing, routing).
 */
import { execFile, spawn } from 'node:child_process';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import { request } from 'undici';
import { Activator, serviceConfigFrom } from '../src/activator/index.js';
import { ContainerLauncher } from '../src/activator/container-launcher.js';
import { ProcessScaler } from '../src/activator/process-scaler.js';
import { freePort } from '../src/activator/readiness-probe.js';
import { ContainerRuntime } from '../src/container/index.js';
import { silentLogger } from '../src/observability/logger.js';
import { testContainerRuntime } from '../test/helpers/container-image.js';

const run = promisify(execFile);
const logger = silentLogger();

function tcpUp(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => (s.destroy(), resolve(false)));
  });
}

/** Polls until an HTTP answer comes (a published port may accept before the server listens). */
async function firstResponse(url: string, port: number): Promise<void> {
  for (;;) {
    if (await tcpUp(port)) {
      try {
        const res = await request(url);
        await res.body.dump();
        return;
      } catch {
        // not serving yet
      }
    }
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** The same foreground `run --rm` Sluice uses, spawned plainly (no watchdog, no wrapper). */
async function directStart(cli: string, image: string, round: number): Promise<number> {
  const port = await freePort('127.0.0.1');
  const name = `sluice-bench-direct-${process.pid}-${round}`;
  const t0 = performance.now();
  const child = spawn(cli, ['run', '--rm', '--pull=never', '--name', name, '-e', 'PORT=8080', '-p', `127.0.0.1:${port}:8080`, image], { stdio: 'ignore' });
  const exited = new Promise((r) => child.once('exit', r));
  await firstResponse(`http://127.0.0.1:${port}/`, port);
  const ms = performance.now() - t0;
  await run(cli, cli === 'podman' ? ['rm', '-f', '-t', '0', name] : ['rm', '-f', name]);
  await exited;
  return ms;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const round = (n: number) => Math.round(n * 10) / 10;

export async function benchContainerColdStart(rounds: number): Promise<Record<string, unknown>> {
  const rt = await testContainerRuntime().catch((err: Error) => ({ skip: err.message }));
  if ('skip' in rt) return { skipped: rt.skip };
  const runtime = new ContainerRuntime({ name: rt.cli, logger });
  const activator = new Activator({
    logger,
    // Stop at once between rounds (busybox httpd as PID 1 ignores SIGTERM).
    scalerFactory: (service, log) => new ProcessScaler({ service, logger: log, launcher: new ContainerLauncher({ service, runtime, logger: log, stopGraceSeconds: 0 }) }),
  });
  const direct: number[] = [];
  const via: number[] = [];
  try {
    await directStart(rt.cli, rt.image, -1); // warm the engine's caches
    for (let i = 0; i < rounds; i++) {
      direct.push(await directStart(rt.cli, rt.image, i));
      const cfg = serviceConfigFrom({
        apiVersion: 'serving.knative.dev/v1',
        kind: 'Service',
        metadata: { name: `cold-${i}`, namespace: 'bench' },
        spec: { template: { metadata: { annotations: { 'autoscaling.knative.dev/initial-scale': '0' } }, spec: { containers: [{ image: rt.image }] } } },
      });
      await activator.apply(cfg);
      const t0 = performance.now();
      const lease = await activator.resolver(cfg.key).acquire(new AbortController().signal);
      const res = await request(lease.url);
      await res.body.dump();
      via.push(performance.now() - t0);
      lease.release();
      await activator.remove(cfg.key);
    }
  } finally {
    await activator.close();
  }
  const overhead = via.map((v, i) => v - direct[i]!);
  return {
    runtime: rt.cli,
    rounds,
    containerOwnStartMedianMs: round(median(direct)),
    viaActivatorMedianMs: round(median(via)),
    sluiceShareMedianMs: round(median(overhead)),
    ratio: Number((median(via) / median(direct)).toFixed(3)),
    runs: { direct: direct.map(round), viaActivator: via.map(round) },
  };
}
