import { defaultDestinationNamespace } from '../../resources/common-schemas.js';
import type { KindDefinition } from '../../resources/kind-registry.js';
import { containerSourceSpecSchema, type ContainerSourceSpec } from './spec-schema.js';

/** `sources.knative.dev/v1` ContainerSource, for the resource kind registry. */
export const containerSourceKind: KindDefinition<ContainerSourceSpec> = {
  apiVersion: 'sources.knative.dev/v1',
  kind: 'ContainerSource', shortNames: ['container'],
  spec: containerSourceSpecSchema,
  defaults(r) {
    defaultDestinationNamespace(r.spec.sink, r.metadata.namespace);
  },
};
