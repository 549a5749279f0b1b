// Readiness is detected as soon as a replica listens: the probe schedule starts at 1 ms
// and backs off in proportion to the time the replica has been starting (never a fixed
// period that every cold start pays half of on average), and the first probe that
// connects makes the replica ready. Deterministic: the schedule is checked as numbers,
// the scaler against a launcher whose "replica" is a server in this process, with a
// probe period so long that any wait for it would time the test out.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { ProcessScaler } from '../../src/activator/process-scaler.js';
import { freePortSync, probeDelayMs } from '../../src/activator/readiness-probe.js';
import type { ReplicaLauncher } from '../../src/activator/replica-launcher.js';
import type { SupervisedProcess, ProcessExit } from '../../src/process/index.js';
import { silentLogger } from '../../src/observability/logger.js';
import { echoService } from './helpers.js';

/** When a replica that starts listening `listenAt` ms after launch is first probed (probes take no time). */
function detectedAt(listenAt: number, maxMs: number): { at: number; probes: number } {
  let t = 0;
  let probes = 0;
  for (;;) {
    t += probeDelayMs(t, maxMs);
    probes++;
    if (t >= listenAt) return { at: t, probes };
  }
}

describe('readiness probe schedule', () => {
  test('starts at 1-2 ms, never shrinks, and is capped by the configured period', () => {
    assert.ok(probeDelayMs(0, 50) <= 2, `first delay ${probeDelayMs(0, 50)} ms`);
    assert.ok(probeDelayMs(10, 50) <= 2, `delay after 10 ms: ${probeDelayMs(10, 50)} ms`);
    let prev = 0;
    for (let t = 0; t <= 10_000; t += 7) {
      const d = probeDelayMs(t, 50);
      assert.ok(d >= 1, `a delay is at least 1 ms (${d} at ${t})`);
      assert.ok(d >= prev, `the schedule backs off, it never speeds up (${prev} then ${d} at ${t} ms)`);
      assert.ok(d <= 50, `capped at the period (${d} at ${t} ms)`);
      prev = d;
    }
    assert.equal(probeDelayMs(60_000, 50), 50);
    assert.equal(probeDelayMs(-5, 50), 1, 'a clock step back is not a negative delay');
  });

  test('a replica is seen ready within a small fraction of its own start time after it listens', () => {
    // A fixed 50 ms period would be up to 50 ms late (25 ms on average) at every start time.
    for (let listenAt = 0; listenAt <= 3000; listenAt += 1) {
      const { at } = detectedAt(listenAt, 50);
      const late = at - listenAt;
      const bound = Math.max(1, listenAt / 32) + 1;
      assert.ok(late <= bound, `listening at ${listenAt} ms was seen at ${at} ms (${late} ms late; bound ${bound.toFixed(1)} ms)`);
    }
    const typical = detectedAt(100, 50);
    assert.ok(typical.at - 100 <= 4, `a node service listening at 100 ms is seen by ${typical.at} ms`);
  });

  test('backing off keeps the probe count modest for slow starters', () => {
    // Closely spaced probes are cheap (a refused connect), but a 30 s start must not cost thousands.
    assert.ok(detectedAt(200, 50).probes <= 120, `${detectedAt(200, 50).probes} probes for a 200 ms start`);
    assert.ok(detectedAt(30_000, 50).probes <= 800, `${detectedAt(30_000, 50).probes} probes for a 30 s start`);
  });
});

describe('ProcessScaler readiness', () => {
  const servers: Server[] = [];
  const scalers: ProcessScaler[] = [];
  after(async () => {
    await Promise.all(scalers.map((s) => s.close()));
    for (const s of servers) s.close();
  });

  /** A launcher whose replica is a TCP server here that starts listening `listenAfterMs` after launch. */
  function inProcessLauncher(listenAfterMs: number): { launcher: ReplicaLauncher; connections: () => number; launched: () => number } {
    let connections = 0;
    let launches = 0;
    const launcher: ReplicaLauncher = {
      kind: 'process',
      launch() {
        launches++;
        const port = freePortSync();
        assert.ok(port, 'a free port, picked synchronously');
        const server = createServer((socket) => {
          connections++;
          socket.destroy();
        });
        servers.push(server);
        setTimeout(() => server.listen(port, '127.0.0.1'), listenAfterMs);
        let exit!: (e: ProcessExit) => void;
        const exited = new Promise<ProcessExit>((r) => (exit = r));
        const proc: SupervisedProcess = {
          pid: -1,
          exited,
          async stop() {
            server.close();
            exit({ code: 0, signal: null });
            await exited;
          },
        };
        return Promise.resolve({ port, proc });
      },
    };
    return { launcher, connections: () => connections, launched: () => launches };
  }

  for (const listenAfterMs of [0, 120]) {
    test(`the first probe that connects makes the replica ready, without waiting for a period (listening after ${listenAfterMs} ms)`, async () => {
      const { launcher, connections, launched } = inProcessLauncher(listenAfterMs);
      // A period of 10 minutes: any wait for one would time this test out.
      const scaler = new ProcessScaler({ service: echoService(`ready-${listenAfterMs}`), logger: silentLogger(), launcher, probeIntervalMs: 600_000 });
      scalers.push(scaler);
      scaler.attach({ endpointsChanged: () => {}, drain: () => Promise.resolve() });
      const ac = new AbortController();
      const timer = setTimeout(() => ac.abort(new Error('not ready within 20 s: readiness waited for a probe period')), 20_000);
      try {
        const ep = await scaler.ensureReady(ac.signal);
        assert.match(ep.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
      } finally {
        clearTimeout(timer);
      }
      assert.equal(launched(), 1);
      assert.equal(connections(), 1, 'exactly one successful probe: it alone made the replica ready');
      assert.deepEqual({ ready: scaler.status().ready, starting: scaler.status().starting }, { ready: 1, starting: 0 });
    });
  }

  test('a startup probe still gates readiness, on the same fast schedule', async () => {
    const { launcher, connections } = inProcessLauncher(80);
    const svc = echoService('startup-gated');
    const withStartup = { ...svc, container: { ...svc.container, startupProbe: { kind: 'tcp' as const, timeoutMs: 1000 } } };
    const scaler = new ProcessScaler({ service: withStartup, logger: silentLogger(), launcher, probeIntervalMs: 600_000 });
    scalers.push(scaler);
    scaler.attach({ endpointsChanged: () => {}, drain: () => Promise.resolve() });
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(new Error('not ready within 20 s')), 20_000);
    try {
      await scaler.ensureReady(ac.signal);
    } finally {
      clearTimeout(timer);
    }
    assert.equal(connections(), 2, 'one startup probe, then one readiness probe');
  });
});
