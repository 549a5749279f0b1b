export { containerSourceKind } from './container-source-kind.js';
export { ContainerSource, type ContainerSourceOptions } from './container-source.js';
export { expandVars, missingEnvObject, resolveContainerEnv, type ResolveSecret, type SecretKeyRef } from './container-env.js';
export {
  containerSourceIssues,
  containerSourceRunner,
  containerSourceSpecSchema,
  ignoredFields,
  type ContainerSourceRunner,
  type ContainerSourceSpec,
  type ContainerSourceSpecInput,
  type ContainerSpec,
} from './spec-schema.js';
