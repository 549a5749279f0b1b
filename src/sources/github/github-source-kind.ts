import { defaultDestinationNamespace } from '../../resources/common-schemas.js';
import type { KindDefinition } from '../../resources/kind-registry.js';
import { gitHubSourceSpecSchema, type GitHubSourceSpec } from './spec-schema.js';

export const SOURCES_V1ALPHA1 = 'sources.knative.dev/v1alpha1';

/** `sources.knative.dev/v1alpha1` GitHubSource, for the resource kind registry. */
export const gitHubSourceKind: KindDefinition<GitHubSourceSpec> = {
  apiVersion: SOURCES_V1ALPHA1,
  kind: 'GitHubSource', shortNames: ['github'],
  spec: gitHubSourceSpecSchema,
  defaults(r) {
    defaultDestinationNamespace(r.spec.sink, r.metadata.namespace);
  },
};
