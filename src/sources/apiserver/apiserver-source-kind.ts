import { defaultDestinationNamespace } from '../../resources/common-schemas.js';
import type { KindDefinition } from '../../resources/kind-registry.js';
import { apiServerSourceSpecSchema, type ApiServerSourceSpec } from './spec-schema.js';

export const SOURCES_V1 = 'sources.knative.dev/v1';

/** `sources.knative.dev/v1` ApiServerSource, for the resource kind registry. */
export const apiServerSourceKind: KindDefinition<ApiServerSourceSpec> = {
  apiVersion: SOURCES_V1,
  kind: 'ApiServerSource', shortNames: ['apiserver'],
  spec: apiServerSourceSpecSchema,
  defaults(r) {
    defaultDestinationNamespace(r.spec.sink, r.metadata.namespace);
  },
};
