// EventTransform (eventing.knative.dev/v1alpha1): JSONata transformations of CloudEvents,
// served at `/transforms/<ns>/<name>`.
import type { Reconciler } from '../runtime/runtime.js';
import { eventTransformKind } from './event-transform-kind.js';
import { EventTransformReconciler } from './transform-reconciler.js';

export { eventTransformKind, EVENT_TRANSFORM_KIND, EVENTING_V1ALPHA1, type EventTransformSpec, type JsonataSpec, type TransformReplySpec } from './event-transform-kind.js';
export { JsonataTransform, TransformFailedError, jsonataInput, jsonataSyntaxError } from './jsonata-expression.js';
export { TransformEndpoint, TransformSinkError, MAX_SINK_REPLY_BYTES } from './transform-endpoint.js';
export { EventTransformReconciler, transformPath } from './transform-reconciler.js';

/** The entry for `SLUICE_KINDS` (a ReconciledKind: the kind and its reconciler). */
export const eventTransformEntry = {
  definition: eventTransformKind,
  reconciler: (): Reconciler => new EventTransformReconciler(),
};
