import type { Logger } from 'pino';
import { ResourceValidationError } from '../../errors.js';
import { nsKey, type Resource } from '../../resources/types.js';
import { DestinationError } from '../../runtime/addressing.js';
import type { ReconcileContext } from '../../runtime/runtime.js';
import { readyStatus } from '../../runtime/status.js';
import { sinkBindingKind, type SinkBindingIndex, type SinkBindingSpec } from '../sinkbinding/index.js';

/**
 * Keeps the SinkBindingIndex in step with the SinkBinding resources: each binding's sink
 * is resolved (to the local ingress address when it is one of Sluice's own, since the
 * bound processes run on this host) and indexed; the index notifies whoever runs bound
 * processes only when a binding really changed.
 */
export class SinkBindingSync {
  readonly #index: SinkBindingIndex;
  readonly #log: Logger;
  /** `namespace/name` -> what was indexed, to skip unchanged bindings. */
  readonly #indexed = new Map<string, string>();

  constructor(index: SinkBindingIndex, logger: Logger) {
    this.#index = index;
    this.#log = logger;
  }

  reconcile(runtime: ReconcileContext, localize: (url: string) => string): void {
    const desired = new Set<string>();
    for (const { resource } of runtime.list<SinkBindingSpec>(sinkBindingKind.kind)) {
      const { namespace, name } = resource.metadata;
      const id = nsKey(namespace, name);
      let url: string;
      try {
        url = runtime.addresses.resolve(resource.spec.sink, namespace, 'spec.sink').url;
      } catch (err) {
        if (!(err instanceof DestinationError)) throw err;
        runtime.setStatus(resource, readyStatus(false, 'SinkNotFound', err.message));
        continue;
      }
      desired.add(id);
      const sinkUrl = localize(url);
      const key = JSON.stringify([resource.spec, sinkUrl]);
      try {
        if (this.#indexed.get(id) !== key) {
          this.#index.set({ namespace, name, spec: resource.spec, sinkUrl });
          this.#indexed.set(id, key);
          this.#log.info({ binding: id, subject: resource.spec.subject, sink: url }, 'sink binding applied');
        }
      } catch (err) {
        if (!(err instanceof ResourceValidationError)) throw err;
        desired.delete(id);
        runtime.setStatus(resource, readyStatus(false, 'InvalidSpec', err.message));
        continue;
      }
      runtime.setStatus(resource as Resource<unknown>, readyStatus(true, 'SinkBindingReady', undefined, { sinkUri: url }));
    }
    for (const id of [...this.#indexed.keys()]) {
      if (desired.has(id)) continue;
      const [namespace = '', name = ''] = id.split('/');
      this.#index.remove(namespace, name);
      this.#indexed.delete(id);
    }
  }
}
