import { z } from 'zod';
import type { ResourceIssue } from '../errors.js';
import { defaultDestinationNamespace, destinationSchema } from '../resources/common-schemas.js';
import type { KindDefinition } from '../resources/kind-registry.js';
import type { Destination } from '../resources/types.js';
import { jsonataSyntaxError } from './jsonata-expression.js';

export const EVENTING_V1ALPHA1 = 'eventing.knative.dev/v1alpha1';
export const EVENT_TRANSFORM_KIND = 'EventTransform';

export interface JsonataSpec {
  expression: string;
}

/** `EventTransform.spec.reply`: what happens to the sink's reply (only with a sink). */
export interface TransformReplySpec {
  jsonata?: JsonataSpec;
  /** Answer the caller with no event, whatever the sink replied. */
  discard?: boolean;
}

/** `EventTransform.spec` (eventing.knative.dev/v1alpha1), JSONata transformations. */
export interface EventTransformSpec {
  /** Where the transformed event goes; without it, the transformed event is the HTTP response. */
  sink?: Destination;
  jsonata?: JsonataSpec;
  reply?: TransformReplySpec;
}

const jsonataSchema = z.strictObject({ expression: z.string() });

const eventTransformSpecSchema: z.ZodType<EventTransformSpec, unknown> = z.strictObject({
  sink: destinationSchema.optional(),
  jsonata: jsonataSchema.optional(),
  reply: z.strictObject({ jsonata: jsonataSchema.optional(), discard: z.boolean().optional() }).optional(),
});

function expressionIssues(spec: JsonataSpec, path: string): ResourceIssue[] {
  if (spec.expression.trim() === '') return [{ path, message: 'must not be empty' }];
  const syntax = jsonataSyntaxError(spec.expression);
  return syntax ? [{ path, message: syntax }] : [];
}

/**
 * Knative's EventTransform with a JSONata expression. The expressions are compiled here
 * too, so `sluice validate` and the admin API report a syntax error with its position.
 */
export const eventTransformKind: KindDefinition<EventTransformSpec> = {
  apiVersion: EVENTING_V1ALPHA1,
  kind: EVENT_TRANSFORM_KIND,
  shortNames: ['et'],
  spec: eventTransformSpecSchema,
  defaults(r) {
    defaultDestinationNamespace(r.spec.sink, r.metadata.namespace);
  },
  validate(r) {
    const issues: ResourceIssue[] = [];
    const { jsonata, reply, sink } = r.spec;
    if (!jsonata) issues.push({ path: 'spec.jsonata', message: 'required: an EventTransform needs a transformation (spec.jsonata.expression); JSONata is the one Knative defines' });
    else issues.push(...expressionIssues(jsonata, 'spec.jsonata.expression'));
    if (reply) {
      if (!sink) issues.push({ path: 'spec.reply', message: 'needs spec.sink: without a sink the transformed event is itself the reply' });
      if (reply.jsonata && reply.discard) issues.push({ path: 'spec.reply', message: 'jsonata and discard: true are mutually exclusive' });
      if (!reply.jsonata && reply.discard === undefined) issues.push({ path: 'spec.reply', message: 'set jsonata.expression (transform the reply) or discard: true' });
      if (reply.jsonata) issues.push(...expressionIssues(reply.jsonata, 'spec.reply.jsonata.expression'));
    }
    return issues;
  },
};
