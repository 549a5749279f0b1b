export { apiServerSourceKind, SOURCES_V1 } from './apiserver-source-kind.js';
export { ApiServerSource, type ApiServerSourceOptions } from './apiserver-source.js';
export { loadKubeConfig, type LoadKubeConfigOptions } from './kubeconfig.js';
export {
  apiServerSourceSpecSchema,
  labelSelectorSchema,
  type ApiServerSourceSpec,
  type ApiServerSourceSpecInput,
} from './spec-schema.js';
export { makeApiServerEvent, selfLink, API_SERVER_EVENT_TYPES, type EventMode, type ApiServerEventInput } from './apiserver-events.js';
export { ApiDiscovery, collectionPath, groupPathOf, type ResolvedKind } from './api-discovery.js';
export { KubeClient, type KubeObject, type KubeList, type WatchEvent, type WatchHandle } from './kube-client.js';
export { ResourceWatcher, type ResourceWatcherOptions, type ChangeType, type ChangeHandler } from './resource-watcher.js';
export { EmitQueue, type EmitQueueOptions } from './emit-queue.js';
export { matchesSelector, selectorToString, isEmptySelector, type LabelSelector, type LabelSelectorRequirement } from './label-selector.js';
