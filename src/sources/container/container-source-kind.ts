import { defaultDestinationNamespace } from '../../resources/common-schemas.js';
import type { KindDefinition } from '../../resources/kind-registry.js';
import { containerSourceIssues, containerSourceSpecSchema, type ContainerSourceSpec } from './spec-schema.js';

/** `sources.knative.dev/v1` ContainerSource, for the resource kind registry. */
export const containerSourceKind: KindDefinition<ContainerSourceSpec> = {
  apiVersion: 'sources.knative.dev/v1',
  kind: 'ContainerSource', shortNames: ['container'],
  spec: containerSourceSpecSchema,
  defaults(r) {
    defaultDestinationNamespace(r.spec.sink, r.metadata.namespace);
  },
  /** A command to run as a process, or an image to run as a container (the runner annotation decides). */
  validate: (r) => containerSourceIssues(r.spec, r.metadata.annotations),
};
