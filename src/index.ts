// Sluice as a library: the server, the contracts a backend implements, and the codecs.
export { SluiceServer, type SluiceServerOptions } from './server/sluice-server.js';
export type { Channel, ChannelBuildContext, ChannelFactory, ChannelStats, ChannelSubscription, DeliveryContext, DeliveryHandler, DeliveryResult, ShedReason, SubscriptionStats } from './channels/index.js';
export { ChannelRegistry } from './channels/index.js';
export { Dispatcher, type DispatcherOptions } from './dispatcher/index.js';
export * from './errors.js';
export { loadResources, parseResourcesText, type LoadResult, type ResourceLoadOptions } from './resources/index.js';
export { parseHttpEvents, toBinaryHttp, type HttpHeaders, type SluiceEvent } from './events/index.js';
export { fromCloudEvent, toCloudEvent } from './events/sdk-bridge.js';
export { createSluiceKinds, type KindEntry, type ReconciledKind } from './kinds.js';
export type { KindDefinition } from './resources/index.js';
export type { Reconciler, ReconcileContext } from './runtime/runtime.js';
export { parallelKind, sequenceKind, type ParallelSpec, type SequenceSpec } from './flows/index.js';
export { JobSinkReconciler, jobSinkKind, type JobRecord } from './jobsink/index.js';
export { JsonataTransform, TransformFailedError, TransformSinkError, eventTransformKind, type EventTransformSpec } from './transform/index.js';
