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
