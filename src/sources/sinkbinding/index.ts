export { sinkBindingKind } from './sinkbinding-kind.js';
export { SinkBindingIndex, type BindingSubject, type BoundSinkBinding, type SinkBindingInput } from './sinkbinding-index.js';
export { sinkBindingSpecSchema, type SinkBindingSpec, type SinkBindingSpecInput } from './spec-schema.js';
export { ceOverridesSchema, ceOverridesEnvValue, type CeOverrides } from './ce-overrides.js';
