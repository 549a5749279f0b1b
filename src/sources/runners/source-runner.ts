import { createHash } from 'node:crypto';
import type { ContainerSupport } from '../../container/container-support.js';
import type { EnvLookup } from '../../runtime/env-resolver.js';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { KindDefinition } from '../../resources/kind-registry.js';
import type { Condition, Resource } from '../../resources/types.js';
import type { SinkBindingIndex } from '../sinkbinding/index.js';
import type { SinkEmitter } from '../sink-emitter.js';
import type { Source, WebhookSource } from '../source.js';

// The seam between the SourcesReconciler and each source kind: a runner knows how to
// build one kind's adapter from its resource, what besides the spec and the sink must
// restart it, and what it adds to the status. The reconciler owns everything else
// (sink resolution, start, retries, restarts, deletion), the same way for every kind.

/** What a runner gets to build one source of its kind. */
export interface SourceContext<Spec = unknown> {
  /** Validated by the runner's kind definition: the runtime holds only resources that passed it. */
  readonly resource: Resource<Spec>;
  /** The sink, resolved; `emit` POSTs to it. */
  readonly emitter: SinkEmitter;
  readonly logger: Logger;
  /** Sluice's public base URL (`--public-url`), for addresses given to others (GitHub). */
  readonly publicUrl: string;
  /** `--kubeconfig`, when given. */
  readonly kubeconfigPath: string | undefined;
  /** Kubernetes access given in code, used when there is no `kubeconfigPath`. */
  readonly kubeConfig: (() => KubeConfig) | undefined;
  readonly sinkBindings: SinkBindingIndex;
  /** Folder of the YAML file the resource came from: relative paths (workingDir) resolve from it. */
  readonly baseDir: string | undefined;
  /** GitHubSource tuning (`SluiceServerOptions.sources.github`): tests shorten the waits. */
  readonly github: { registrationRetryInitialMs?: number; registrationRetryMaxMs?: number; dedupWindowMs?: number } | undefined;
  /** A key of a v1 Secret in the resource's namespace; undefined when either is missing. */
  secret(name: string, key: string): Buffer | undefined;
  /** Secrets and ConfigMaps for `env[].valueFrom` and `envFrom` (any namespace; callers pass the resource's). */
  readonly envLookup: EnvLookup;
  /** The container runtime for sources with an image; undefined when the server has none configured. */
  readonly containers: ContainerSupport | undefined;
}

/** A condition that holds Ready below True although the adapter runs (a webhook not yet registered). */
export interface HeldReady {
  status: 'False' | 'Unknown';
  reason: string;
  message?: string | undefined;
}

/** What an adapter adds to its resource's status. */
export interface AdapterStatus {
  /** Knative's extra conditions (`SecretsProvided`, `WebhookConfigured`...). */
  conditions?: Condition[];
  /** Extra status fields (`webhookIDKey`, `ceAttributes`...); may override `sinkUri`. */
  fields?: Record<string, unknown>;
  notReady?: HeldReady | undefined;
}

/** One built adapter, owned by the reconciler until it is retired. */
export interface RunningSource {
  readonly source: Source;
  /** Set for sources that take HTTP requests on `/sources/<ns>/<name>`. */
  readonly webhook?: WebhookSource;
  status?(): AdapterStatus;
  /**
   * Takes the adapter out of service: `deleted` (the resource is gone: a GitHubSource
   * removes its webhook), `replaced` (by `next` after a change, or by nothing while the
   * sink is missing) or `shutdown`. Defaults to `source.stop()`.
   */
  retire?(why: RetireReason, next?: RunningSource): Promise<void>;
  /** Condition reason for a failed `start` (default `StartFailed`). */
  failureReason?(err: unknown): string;
}

export type RetireReason = 'deleted' | 'replaced' | 'shutdown';

/**
 * How one source kind runs, listed in `src/kinds.ts` in place of its definition: typed by
 * that kind's spec, which the runtime's resources of this kind were validated against.
 */
export interface SourceRunner<Spec = unknown> {
  readonly definition: KindDefinition<Spec>;
  /** Takes HTTP requests on `/sources/<ns>/<name>`: answered 503 while the source cannot run. */
  readonly webhook?: boolean;
  /** Besides the spec and the sink URL, what restarts the source when it changes. */
  restartKey?(ctx: Omit<SourceContext<Spec>, 'emitter'>): unknown;
  /** Builds the adapter; throws for a spec it cannot run (reported as InvalidSpec, not retried). */
  build(ctx: SourceContext<Spec>): RunningSource;
}

/** A digest of a secret value, so that a restart key notices a change without holding the secret. */
export function secretDigest(value: Buffer | undefined): string | undefined {
  return value === undefined ? undefined : createHash('sha256').update(value).digest('base64url').slice(0, 16);
}
