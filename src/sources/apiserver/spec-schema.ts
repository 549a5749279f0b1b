import { z } from 'zod';
import { ceOverridesSchema } from '../sinkbinding/ce-overrides.js';
import { destinationSchema } from '../../resources/common-schemas.js';

/** Kubernetes `metav1.LabelSelector`. */
export const labelSelectorSchema = z.strictObject({
  matchLabels: z.record(z.string().min(1), z.string()).optional(),
  matchExpressions: z
    .array(
      z
        .strictObject({
          key: z.string().min(1),
          operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']),
          values: z.array(z.string()).optional(),
        })
        .superRefine((r, ctx) => {
          const n = r.values?.length ?? 0;
          if ((r.operator === 'In' || r.operator === 'NotIn') && n === 0) {
            ctx.addIssue({ code: 'custom', path: ['values'], message: `operator ${r.operator} needs at least one value` });
          }
          if ((r.operator === 'Exists' || r.operator === 'DoesNotExist') && n > 0) {
            ctx.addIssue({ code: 'custom', path: ['values'], message: `operator ${r.operator} takes no values` });
          }
        }),
    )
    .optional(),
});

const apiVersionSchema = z.string().regex(/^([a-z0-9.-]+\/)?v[0-9]+((alpha|beta)[0-9]+)?$/, 'must be an apiVersion like v1 or apps/v1');

/**
 * `spec` of `sources.knative.dev/v1` ApiServerSource, field for field as Knative's API
 * (`resources[].selector`, not v1alpha1's `labelSelector`/`controller`).
 */
export const apiServerSourceSpecSchema = z.strictObject({
  resources: z
    .array(
      z.strictObject({
        apiVersion: apiVersionSchema,
        kind: z.string().regex(/^[A-Z][A-Za-z0-9]*$/, 'must be a Kubernetes kind like Pod or Deployment'),
        selector: labelSelectorSchema.optional(),
      }),
    )
    .min(1, 'at least one resource to watch is required'),
  owner: z
    .strictObject({ apiVersion: apiVersionSchema.optional(), kind: z.string().min(1).optional() })
    .optional(),
  mode: z.enum(['Reference', 'Resource']).default('Reference'),
  namespaceSelector: labelSelectorSchema.optional(),
  /** Meaningful only in a cluster; accepted so that Knative YAML loads unchanged. */
  serviceAccountName: z.string().min(1).optional(),
  sink: destinationSchema,
  ceOverrides: ceOverridesSchema.optional(),
});

export type ApiServerSourceSpec = z.infer<typeof apiServerSourceSpecSchema>;
/** The spec as written (before defaults). */
export type ApiServerSourceSpecInput = z.input<typeof apiServerSourceSpecSchema>;
