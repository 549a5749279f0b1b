import { CloudEvent, HTTP, emitterFor, httpTransport, Mode } from 'cloudevents';
import type { ReceivedRequest } from '../helpers/sink.js';
import type { startSluice } from '../helpers/sluice.js';
import { waitUntil } from '../helpers/sluice.js';

export type Sluice = Awaited<ReturnType<typeof startSluice>>;

export function brokerYaml(name: string, more = ''): string {
  return `---
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {name: ${name}}
${more}`;
}

/** A Trigger; `spec` lines are indented by two spaces under `spec:`. */
export function triggerYaml(name: string, broker: string, subscriber: string, spec = ''): string {
  return `---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: ${name}}
spec:
  broker: ${broker}
  subscriber: {uri: "${subscriber}"}
${spec ? spec + '\n' : ''}`;
}

/** An emitter (the CloudEvents SDK's HTTP transport) for a broker's address. */
export function emitTo(url: string, mode: Mode = Mode.BINARY) {
  const emit = emitterFor(httpTransport(url), { mode });
  // The SDK's binary mode cannot send an event without data: give every event some.
  return (attrs: Record<string, unknown>) => emit(new CloudEvent({ source: '/test', type: 'dev.test', data: { test: true }, ...attrs } as ConstructorParameters<typeof CloudEvent>[0]));
}

export function asEvent(req: ReceivedRequest): CloudEvent<unknown> {
  return HTTP.toEvent({ headers: req.headers as Record<string, string>, body: req.body.length ? req.body.toString() : undefined }) as CloudEvent<unknown>;
}

/** The broker's channel has nothing left to do for any Trigger (every event filtered or delivered). */
export async function waitIdle(s: Sluice, broker: string, namespace = 'default'): Promise<void> {
  await waitUntil(
    () => {
      const inst = s.brokers.instances.get(`${namespace}/${broker}`);
      if (!inst) return true;
      const { subscriptions } = inst.channel.stats();
      return Object.values(subscriptions).every((x) => x.backlog === 0);
    },
    10_000,
    `broker ${broker} idle`,
  );
}

/** ce-id values received per request path (one path per Trigger). */
export function idsByPath(requests: readonly ReceivedRequest[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const r of requests) (out[r.url] ??= []).push(String(r.headers['ce-id']));
  for (const k of Object.keys(out)) out[k]!.sort();
  return out;
}

export async function metricValue(s: Sluice, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = (await s.metrics.registry.getSingleMetric(name)?.get())?.values ?? [];
  return m.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((a, v) => a + v.value, 0);
}
