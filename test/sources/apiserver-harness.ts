// Shared set-up for the ApiServerSource tests (not a test file itself).
import { KubeConfig } from '@kubernetes/client-node';
import type { SluiceEvent } from '../../src/events/types.js';
import { ApiServerSource, type ApiServerSourceSpecInput } from '../../src/sources/apiserver/index.js';
import { startFakeKubeApi, waitUntil, type FakeKubeApi } from '../helpers/fake-kube-api.js';

export const TOKEN = 'sa-token-3f9c';

export interface Harness {
  api: FakeKubeApi;
  source: ApiServerSource;
  events: SluiceEvent[];
  /** Waits until `n` events arrived in total. */
  waitEvents(n: number): Promise<void>;
  /** Type + name of each event, compact for assertions. */
  summary(from?: number): string[];
  close(): Promise<void>;
}

export function kubeConfigFor(api: FakeKubeApi, token = TOKEN): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(api.kubeconfigYaml(token));
  return kc;
}

export async function startHarness(
  spec: ApiServerSourceSpecInput,
  options: { seed?: (api: FakeKubeApi) => void; emitExisting?: boolean; namespace?: string } = {},
): Promise<Harness> {
  const api = await startFakeKubeApi({ token: TOKEN });
  options.seed?.(api);
  const events: SluiceEvent[] = [];
  const source = new ApiServerSource({
    name: 'k8s-events',
    namespace: options.namespace ?? 'default',
    spec,
    kubeConfig: kubeConfigFor(api),
    emitExisting: options.emitExisting,
    retryInitialMs: 20,
    retryMaxMs: 200,
  });
  try {
    await source.start(async (e) => {
      events.push(e);
    });
  } catch (err) {
    await api.close();
    throw err;
  }
  return {
    api,
    source,
    events,
    waitEvents: (n) => waitUntil(() => events.length >= n, 10_000, () => `${n} events (have ${events.length}: ${summarize(events).join(' | ')})`),
    summary: (from = 0) => summarize(events.slice(from)),
    close: async () => {
      await source.stop();
      await api.close();
    },
  };
}

export function summarize(events: SluiceEvent[]): string[] {
  return events.map((e) => `${(e.attributes.type ?? '').replace('dev.knative.apiserver.', '')} ${e.attributes.namespace ? e.attributes.namespace + '/' : ''}${e.attributes.name}`);
}

export function dataOf(e: SluiceEvent | undefined): Record<string, unknown> {
  if (!e?.data) throw new Error('event has no data');
  return JSON.parse(e.data.toString('utf8')) as Record<string, unknown>;
}

