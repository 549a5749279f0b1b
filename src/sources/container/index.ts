export { containerSourceKind } from './container-source-kind.js';
export { ContainerSource, expandVars, type ContainerSourceOptions, type ResolveSecret, type SecretKeyRef } from './container-source.js';
export { containerSourceSpecSchema, type ContainerSourceSpec, type ContainerSourceSpecInput, type ContainerSpec } from './spec-schema.js';
