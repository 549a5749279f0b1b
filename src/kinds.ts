import { channelKind, inMemoryChannelKind, ResourceKindRegistry, secretKind, subscriptionKind, type KindDefinition } from './resources/index.js';
import { eventDisplayKind } from './display/index.js';
import { natsJetStreamChannelKind } from './channels/nats/nats-channel-spec.js';
import { redisChannelKind } from './channels/bullmq/redis-channel-spec.js';
import { gitHubRunner } from './sources/runners/github-runner.js';
import { pingRunner } from './sources/runners/ping-runner.js';
import { apiServerRunner } from './sources/runners/apiserver-runner.js';
import { containerRunner } from './sources/runners/container-runner.js';
import type { SourceRunner } from './sources/runners/source-runner.js';
import type { Reconciler } from './runtime/runtime.js';
import { sinkBindingKind } from './sources/sinkbinding/sinkbinding-kind.js';
import { serviceKind } from './activator/service-spec.js';
import { brokerKind, triggerKind } from './broker/broker-kinds.js';
import { configMapKind } from './broker/config-map-kind.js';
import { parallelKind, sequenceKind } from './flows/index.js';
import { jobSinkKind } from './jobsink/jobsink-kind.js';
import { eventTransformEntry } from './transform/index.js';

/**
 * Every kind `sluice` understands, in registration order (the order `sluice get all` and
 * `GET /api/v1/kinds` list them): each a module in its feature's folder with its schema,
 * defaults, validation and short names. A source kind is listed by its runner, which
 * carries its definition. The loader, `sluice validate`, the admin API and the
 * SourcesReconciler all read this one list. Adding a kind: its module, and one entry here.
 */
export const SLUICE_KINDS: readonly KindEntry[] = [
  inMemoryChannelKind, channelKind, subscriptionKind, secretKind, eventDisplayKind, natsJetStreamChannelKind, redisChannelKind,
  gitHubRunner, pingRunner, apiServerRunner, containerRunner, sinkBindingKind,
  brokerKind, triggerKind, configMapKind, serviceKind, jobSinkKind, sequenceKind, parallelKind,
  eventTransformEntry,
];

/**
 * A kind that brings its own control loop: the server adds `reconciler()` to its runtime
 * (phase `address` for things others reference, `consumer` for things that send), so a
 * new kind with a reconciler is still one module and one entry in a list: SLUICE_KINDS,
 * or an embedder's `SluiceServerOptions.kinds`.
 */
export interface ReconciledKind<Spec = unknown> {
  readonly definition: KindDefinition<Spec>;
  reconciler(): Reconciler;
}

/** An entry of a kinds list: a plain definition, a source's runner, or a kind with a reconciler. */
export type KindEntry = KindDefinition | SourceRunner | ReconciledKind;

function definitionOf(k: KindEntry): KindDefinition {
  return 'definition' in k ? k.definition : k;
}

/** The source kinds' runners, for the SourcesReconciler. */
export const sourceRunners = (extra: readonly KindEntry[] = []): SourceRunner[] =>
  [...SLUICE_KINDS, ...extra].filter((k): k is SourceRunner => 'definition' in k && 'build' in k);

/** The reconcilers that kinds bring themselves (built once per call). */
export const kindReconcilers = (extra: readonly KindEntry[] = []): Reconciler[] =>
  [...SLUICE_KINDS, ...extra].filter((k): k is ReconciledKind => 'definition' in k && 'reconciler' in k).map((k) => k.reconciler());

/** The registry of every kind, plus `extra` ones (an embedder's). */
export function createSluiceKinds(extra: readonly KindEntry[] = []): ResourceKindRegistry {
  const registry = new ResourceKindRegistry();
  for (const k of [...SLUICE_KINDS, ...extra]) registry.register(definitionOf(k));
  return registry;
}
