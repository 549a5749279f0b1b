// The resource model: Knative-shaped YAML in, validated resources out.
export type {
  ChannelSpec,
  ChannelTemplate,
  Condition,
  Destination,
  InMemoryChannelSpec,
  KReference,
  LoadedResource,
  LoadResult,
  ObjectMeta,
  Resource,
  ResourceStatus,
  SecretResource,
  SubscriptionSpec,
} from './types.js';
export { nsKey } from './types.js';
export {
  defaultDestinationNamespace,
  deliverySpecSchema,
  destinationSchema,
  goDurationSchema,
  isoDurationSchema,
  kReferenceSchema,
  namespaceSchema,
  objectMetaSchema,
  resourceNameSchema,
  SERVER_SET_METADATA_FIELDS,
  stringMapSchema,
} from './common-schemas.js';
export { apiGroup, ResourceKindRegistry, type KindContext, type KindDefinition } from './kind-registry.js';
export { channelKind, createCoreKinds, DEFAULT_CHANNEL_TEMPLATE, inMemoryChannelKind, MESSAGING_V1, subscriptionKind } from './core-kinds.js';
export { isSecretResource, secretKind, toSecretResource, type SecretContent } from './secret-kind.js';
export { kindContext, validateResourceObject, type ResourceLoadOptions, type ValidatedObject } from './validate-resource.js';
export { loadResources, parseResourcesText } from './load-resources.js';
export { dropNullFields } from './drop-null-fields.js';
export { isReady, readyCondition, readyStatus } from './status.js';
export { describeValue, formatPath, parseWith, translateZodIssues, type PathSegment } from './zod-issues.js';
