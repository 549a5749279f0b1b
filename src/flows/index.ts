// Knative's flows (flows.knative.dev/v1): Sequence and Parallel, wired from Sluice's own
// channels and subscriptions, each an addressable kind with its own reconciler.
import type { KindDefinition } from '../resources/kind-registry.js';
import type { Reconciler } from '../runtime/runtime.js';
import { parallelDefinition, sequenceDefinition, type ParallelSpec, type SequenceSpec } from './flow-kinds.js';
import { ParallelReconciler } from './parallel-reconciler.js';
import { SequenceReconciler } from './sequence-reconciler.js';

export { FLOWS_V1, PARALLEL_KIND, SEQUENCE_KIND, parallelDefinition, sequenceDefinition } from './flow-kinds.js';
export type { ParallelBranch, ParallelSpec, SequenceSpec, SequenceStep } from './flow-kinds.js';
export { ParallelReconciler, parallelPath } from './parallel-reconciler.js';
export { SequenceReconciler, sequencePath } from './sequence-reconciler.js';

/** A kind with its own reconciler (the shape of kinds.ts's ReconciledKind, not imported: kinds.ts imports this folder). */
export interface FlowKind<Spec> {
  readonly definition: KindDefinition<Spec>;
  reconciler(): Reconciler;
}

/** `flows.knative.dev/v1` Sequence: steps chained through channels. */
export const sequenceKind: FlowKind<SequenceSpec> = {
  definition: sequenceDefinition,
  reconciler: () => new SequenceReconciler(),
};

/** `flows.knative.dev/v1` Parallel: branches fanned out from one ingress channel. */
export const parallelKind: FlowKind<ParallelSpec> = {
  definition: parallelDefinition,
  reconciler: () => new ParallelReconciler(),
};
