import type { ServiceConfig } from '../../activator/service-spec.js';
import type { ReconcileContext } from '../../runtime/runtime.js';
import type { SinkBindingIndex } from './sinkbinding-index.js';

const SERVING_V1 = 'serving.knative.dev/v1';

/**
 * The environment a Service's local replicas get from the SinkBindings whose subject is
 * the Service (by name, or by the Service's labels), as Knative's SinkBinding webhook
 * injects `K_SINK`/`K_CE_OVERRIDES` into the pods. Called at each replica start, so a
 * binding applies to replicas started after it changed.
 */
export function serviceBindingEnv(index: SinkBindingIndex, runtime: Pick<ReconcileContext, 'list'>): (service: ServiceConfig) => Record<string, string> {
  return (service) => {
    const labels = runtime.list('Service').find((r) => r.resource.metadata.namespace === service.namespace && r.resource.metadata.name === service.name)?.resource.metadata.labels;
    return index.envFor({ apiVersion: SERVING_V1, kind: 'Service', namespace: service.namespace, name: service.name, ...(labels ? { labels } : {}) }) ?? {};
  };
}
