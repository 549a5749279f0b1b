import { z } from 'zod';
import { labelSelectorSchema } from '../apiserver/spec-schema.js';
import { ceOverridesSchema } from './ce-overrides.js';
import { destinationSchema } from '../../resources/common-schemas.js';

/** `spec` of `sources.knative.dev/v1` SinkBinding; `subject` is Knative's tracker.Reference. */
export const sinkBindingSpecSchema = z.strictObject({
  subject: z
    .strictObject({
      apiVersion: z.string().min(1),
      kind: z.string().min(1),
      /** Defaults to (and must equal) the SinkBinding's namespace. */
      namespace: z.string().min(1).optional(),
      name: z.string().min(1).optional(),
      selector: labelSelectorSchema.optional(),
    })
    .refine((s) => (s.name === undefined) !== (s.selector === undefined), { message: 'exactly one of name and selector is required' }),
  sink: destinationSchema,
  ceOverrides: ceOverridesSchema.optional(),
});

export type SinkBindingSpec = z.infer<typeof sinkBindingSpecSchema>;
export type SinkBindingSpecInput = z.input<typeof sinkBindingSpecSchema>;
