import { request } from 'node:http';
import { connect, createServer } from 'node:net';
import type { ReadinessProbe } from './service-spec.js';

/**
 * One readiness check against a replica: an HTTP GET that must answer 200-399 (as the
 * kubelet counts success; any status with `anyStatus`), or a TCP connect. Never throws:
 * anything else is "not ready".
 */
export function probeOnce(probe: ReadinessProbe, host: string, port: number): Promise<boolean> {
  const target = probe.port ?? port;
  return probe.kind === 'http' ? httpProbe(host, target, probe.path, probe.headers, probe.timeoutMs, probe.anyStatus ?? false) : tcpProbe(host, target, probe.timeoutMs);
}

function httpProbe(host: string, port: number, path: string, headers: Record<string, string>, timeoutMs: number, anyStatus: boolean): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host, port, path, method: 'GET', headers: { 'user-agent': 'sluice-probe', ...headers }, timeout: timeoutMs, agent: false }, (res) => {
      res.resume();
      const ok = anyStatus || ((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 400);
      res.once('end', () => resolve(ok));
      res.once('error', () => resolve(false));
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(false));
    req.end();
  });
}

function tcpProbe(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * How long a starting replica waits for its next readiness (or startup) probe, `elapsedMs`
 * after it was launched: `minMs` at first, then 1/32 of the time it has been
 * starting, never more than `maxMs`. So a replica is seen ready within about 3 % of its
 * own start time after it starts listening (within `minMs` for a fast one), and a slow
 * starter is not probed more than about 22 times per doubling of its start time. A
 * refused connect costs well under a millisecond, so the first, closely spaced probes
 * are cheap; waiting a fixed period instead (e.g. 50 ms) adds half of it to every cold
 * start on average.
 */
export function probeDelayMs(elapsedMs: number, maxMs: number, minMs = 1): number {
  const cap = Math.max(minMs, maxMs);
  return Math.min(cap, Math.max(minMs, Math.floor(Math.max(0, elapsedMs) / 32)));
}

/**
 * A free port picked without waiting for the event loop, so a replica's spawn is not held
 * up behind other work (deliveries, timers) that a turn of the loop would run first. It
 * binds the unspecified address (only that bind is synchronous in node: one to a given
 * host goes through a lookup), so the port is free on every interface, `host` included,
 * and closes it at once. Undefined when it cannot be had that way: use `freePort` then.
 */
export function freePortSync(): number | undefined {
  const server = createServer();
  server.unref();
  server.on('error', () => {}); // emitted on the next tick; the address check below is what counts
  try {
    server.listen(0);
    const addr = server.address();
    return typeof addr === 'object' && addr && addr.port > 0 ? addr.port : undefined;
  } catch {
    return undefined;
  } finally {
    // Closes the socket now (only the close callback is deferred): the port is free for the replica.
    server.close();
  }
}

/** A port nothing listens on right now (the kernel's pick), for a replica's `PORT`. */
export function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const addr = server.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}
