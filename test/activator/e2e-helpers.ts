import { fileURLToPath } from 'node:url';
import type { Registry } from 'prom-client';
import type { SluiceServer } from '../../src/server/sluice-server.js';
import type { ReceivedRequest } from '../helpers/sink.js';

export const RELAY = fileURLToPath(new URL('./fixtures/relay-service.mjs', import.meta.url));

export interface ServiceYamlOptions {
  namespace?: string;
  annotations?: Record<string, string>;
  env?: Record<string, string>;
  containerConcurrency?: number;
}

/** A `serving.knative.dev/v1` Service that runs the relay fixture as a local process. */
export function relayServiceYaml(name: string, o: ServiceYamlOptions = {}): string {
  const annotations = { 'autoscaling.knative.dev/initial-scale': '0', ...o.annotations };
  const env = Object.entries(o.env ?? {});
  return `---
apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: ${name}${o.namespace ? `, namespace: ${o.namespace}` : ''}}
spec:
  template:
    metadata:
      annotations:
${Object.entries(annotations).map(([k, v]) => `        ${k}: "${v}"`).join('\n')}
    spec:
${o.containerConcurrency !== undefined ? `      containerConcurrency: ${o.containerConcurrency}\n` : ''}      containers:
        - command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(RELAY)}]
${env.length ? `          env:\n${env.map(([k, v]) => `            - {name: ${k}, value: ${JSON.stringify(v)}}`).join('\n')}\n` : ''}          readinessProbe:
            httpGet: {path: /healthz}
`;
}

/** A Subscription from an InMemoryChannel to a Service by ref. */
export function serviceSubscriptionYaml(name: string, channel: string, service: string, delivery = ''): string {
  return `---
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata: {name: ${name}}
spec:
  channel: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: ${channel}}
  subscriber:
    ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: ${service}}
${delivery}`;
}

/** Sum of a metric's samples whose labels include `labels`. */
export async function metricValue(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  // A histogram's `_count`/`_sum`/`_bucket` series live under the histogram's own name.
  const base = name.replace(/_(count|sum|bucket)$/, '');
  const m = registry.getSingleMetric(name) ?? registry.getSingleMetric(base);
  if (!m) return 0;
  const { values } = await m.get();
  return values
    .filter((v) => ((v as { metricName?: string }).metricName ?? name) === name && Object.entries(labels).every(([k, x]) => String((v.labels as Record<string, unknown>)[k]) === x))
    .reduce((sum, v) => sum + v.value, 0);
}

/** A relayed request as the fixture reports it. */
export interface Relayed {
  pid: number;
  version: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

export function relayed(r: ReceivedRequest): Relayed {
  return JSON.parse(r.body.toString()) as Relayed;
}

/** The admin API's view of one resource. */
export async function resourceStatus(server: SluiceServer, kind: string, name: string, namespace = 'default'): Promise<Record<string, unknown> & { conditions: Array<{ type: string; status: string; reason?: string; message?: string }> }> {
  const res = await fetch(`${server.adminUrl}/api/v1/resources/${kind}/${namespace}/${name}`);
  const body = (await res.json()) as { status: Record<string, unknown> & { conditions: Array<{ type: string; status: string; reason?: string; message?: string }> } };
  return body.status;
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function binaryEvent(id: string, data = `event ${id}`): { headers: Record<string, string>; body: string } {
  return {
    headers: { 'ce-specversion': '1.0', 'ce-id': id, 'ce-source': '/e2e', 'ce-type': 'dev.sluice.test', 'content-type': 'text/plain' },
    body: data,
  };
}
