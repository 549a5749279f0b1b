/**
 * The resource model: Knative-shaped objects as loaded from YAML (after defaults).
 * These types are the contract between the loader/validator and the rest of Sluice;
 * the schemas in this folder check input against them.
 */
import type { ResourceOrigin, ResourceValidationError } from '../errors.js';

export interface ObjectMeta {
  name: string;
  /** Defaults to `default`. */
  namespace: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** Assigned by Sluice when the resource is stored. */
  uid?: string;
  generation?: number;
  creationTimestamp?: string;
}

export interface KReference {
  apiVersion: string;
  kind: string;
  name: string;
  /** Defaults to the referring resource's namespace. */
  namespace?: string;
}

/** Knative duck type Destination: `ref` and/or `uri` (relative to the ref's address when both). */
export interface Destination {
  ref?: KReference;
  uri?: string;
}

export type BackoffPolicy = 'exponential' | 'linear';

/** Knative's `delivery` block (DeliverySpec) as written in YAML; subscriptions/ parses it into a DeliveryPolicy. */
export interface DeliverySpec {
  deadLetterSink?: Destination;
  retry?: number;
  backoffPolicy?: BackoffPolicy;
  backoffDelay?: string;
  timeout?: string;
  retryAfterMax?: string;
}

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastTransitionTime: string;
}

export interface ResourceStatus {
  observedGeneration?: number;
  conditions: Condition[];
  address?: { url: string };
  [key: string]: unknown;
}

/** Any resource after validation. `spec` is kind-specific. */
export interface Resource<Spec = Record<string, unknown>> {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec: Spec;
}

/** A resource together with where it came from (file#document) when loaded from disk. */
export interface LoadedResource<Spec = Record<string, unknown>> {
  resource: Resource<Spec>;
  origin?: ResourceOrigin;
  /** The document as written (before validation and defaults): what the Kubernetes-shaped API shows and patches. */
  raw?: Record<string, unknown>;
}

// ---- kinds of the core (messaging.knative.dev/v1, v1 Secret) ----

export interface InMemoryChannelSpec {
  delivery?: DeliverySpec;
  /** Sluice extension: events the channel holds before ingress answers 429. */
  capacity?: number;
  /** Sluice extension: bytes the channel holds before ingress answers 429 (default 64 MiB). */
  capacityBytes?: number;
}

export interface ChannelTemplate {
  apiVersion: string;
  kind: string;
  spec?: Record<string, unknown>;
}

export interface ChannelSpec {
  /** Defaults to `{apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel}` (or --default-channel). */
  channelTemplate?: ChannelTemplate;
  delivery?: DeliverySpec;
}

export interface SubscriptionSpec {
  /** Same namespace as the Subscription. */
  channel: KReference;
  subscriber: Destination;
  reply?: Destination;
  delivery?: DeliverySpec;
}

export interface SecretResource {
  apiVersion: 'v1';
  kind: 'Secret';
  metadata: ObjectMeta;
  /** Decoded values (from `data` base64 and `stringData`, the latter winning). */
  data: Record<string, Buffer>;
  type?: string;
}

/** What loading files or text yields: valid documents are kept even when others fail. */
export interface LoadResult {
  resources: LoadedResource[];
  secrets: SecretResource[];
  errors: ResourceValidationError[];
}

/** The `namespace/name` key that names a resource within its kind, in every map and message. */
export function nsKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}
