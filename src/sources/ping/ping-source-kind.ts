import { defaultDestinationNamespace } from '../../resources/common-schemas.js';
import type { KindDefinition } from '../../resources/kind-registry.js';
import { pingSourceSpecSchema, type PingSourceSpec } from './spec-schema.js';

/**
 * `sources.knative.dev/v1` PingSource, for the resource kind registry. Knative still
 * serves v1beta2 (deprecated, same fields) and its docs' samples use it, so it is
 * accepted too.
 */
export const pingSourceKind: KindDefinition<PingSourceSpec> = {
  apiVersion: ['sources.knative.dev/v1', 'sources.knative.dev/v1beta2'],
  kind: 'PingSource', shortNames: ['ping'],
  spec: pingSourceSpecSchema,
  defaults(r) {
    defaultDestinationNamespace(r.spec.sink, r.metadata.namespace);
  },
};
