import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { serviceConfigFrom, type ServiceConfig } from '../../src/activator/index.js';

export const ECHO = fileURLToPath(new URL('./fixtures/echo-service.mjs', import.meta.url));

export interface EchoOptions {
  annotations?: Record<string, string>;
  containerConcurrency?: number;
  env?: Record<string, string>;
  readinessPath?: string;
}

/** A Service running the echo fixture, parsed through the real schema. */
export function echoService(name: string, o: EchoOptions = {}): ServiceConfig {
  return serviceConfigFrom({
    apiVersion: 'serving.knative.dev/v1',
    kind: 'Service',
    metadata: { name, namespace: 'default' },
    spec: {
      template: {
        metadata: { annotations: { 'autoscaling.knative.dev/initial-scale': '0', ...o.annotations } },
        spec: {
          ...(o.containerConcurrency !== undefined ? { containerConcurrency: o.containerConcurrency } : {}),
          containers: [
            {
              command: [process.execPath, ECHO],
              env: Object.entries(o.env ?? {}).map(([n, value]) => ({ name: n, value })),
              ...(o.readinessPath ? { readinessProbe: { httpGet: { path: o.readinessPath } } } : {}),
            },
          ],
        },
      },
    },
  });
}

export interface EchoReply {
  pid: number;
  method: string;
  url: string;
  body: string;
  header: string | null;
}

/** One request to a replica base URL; resolves with the echo. */
export async function call(base: string, path = '/', body?: string): Promise<EchoReply> {
  const res = await request(new URL(path.replace(/^\//, ''), base), { method: body === undefined ? 'GET' : 'POST', ...(body !== undefined ? { body } : {}) });
  return (await res.body.json()) as EchoReply;
}

export async function waitUntil(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
