import type { ActivatorOptions } from '../../activator/activator.js';
import { ProcessScaler } from '../../activator/process-scaler.js';
import type { ReconcileContext } from '../../runtime/runtime.js';
import type { SinkBindingIndex } from './sinkbinding-index.js';

const SERVING_V1 = 'serving.knative.dev/v1';

/**
 * Activator options whose local replicas get `K_SINK`/`K_CE_OVERRIDES` from the
 * SinkBindings whose subject is their Service (by name, or by the Service's labels), as
 * Knative's SinkBinding webhook injects them into the pods. Read at each replica start,
 * so a binding applies to replicas started after it changed. A caller's own
 * `scalerFactory` is left alone.
 */
export function bindServices(options: Omit<ActivatorOptions, 'logger' | 'registry'> | undefined, index: SinkBindingIndex, runtime: Pick<ReconcileContext, 'list'>): Omit<ActivatorOptions, 'logger' | 'registry'> {
  if (options?.scalerFactory) return options;
  const process = options?.process;
  return {
    ...options,
    scalerFactory: (service, logger) =>
      new ProcessScaler({
        ...process,
        service,
        logger,
        extraEnv: () => {
          const labels = runtime.list('Service').find((r) => r.resource.metadata.namespace === service.namespace && r.resource.metadata.name === service.name)?.resource.metadata.labels;
          const bound = index.envFor({ apiVersion: SERVING_V1, kind: 'Service', namespace: service.namespace, name: service.name, ...(labels ? { labels } : {}) });
          return { ...process?.extraEnv?.(), ...bound };
        },
      }),
  };
}
