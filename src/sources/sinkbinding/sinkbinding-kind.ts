import type { ResourceIssue } from '../../errors.js';
import { defaultDestinationNamespace } from '../../resources/common-schemas.js';
import type { KindDefinition } from '../../resources/kind-registry.js';
import { sinkBindingSpecSchema, type SinkBindingSpec } from './spec-schema.js';

/** `sources.knative.dev/v1` SinkBinding, for the resource kind registry. */
export const sinkBindingKind: KindDefinition<SinkBindingSpec> = {
  apiVersion: 'sources.knative.dev/v1',
  kind: 'SinkBinding', shortNames: ['binding'],
  spec: sinkBindingSpecSchema,
  defaults(r) {
    defaultDestinationNamespace(r.spec.sink, r.metadata.namespace);
  },
  validate(r): ResourceIssue[] {
    const ns = r.spec.subject.namespace;
    return ns !== undefined && ns !== r.metadata.namespace
      ? [{ path: 'spec.subject.namespace', message: `must be the SinkBinding's own namespace (${r.metadata.namespace})` }]
      : [];
  },
};
