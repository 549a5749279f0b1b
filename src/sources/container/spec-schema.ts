import { z } from 'zod';
import { ceOverridesSchema } from '../sinkbinding/ce-overrides.js';
import { destinationSchema } from '../../resources/common-schemas.js';

const envVarSchema = z
  .strictObject({
    name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, 'must be an environment variable name'),
    value: z.string().optional(),
    valueFrom: z
      .strictObject({
        secretKeyRef: z.strictObject({
          name: z.string().min(1),
          key: z.string().min(1),
          optional: z.boolean().optional(),
        }),
      })
      .optional(),
  })
  .refine((e) => !(e.value !== undefined && e.valueFrom !== undefined), { message: 'value and valueFrom are exclusive' });

/**
 * The container fields Sluice can honour when it runs the container as a local
 * process. Others (ports, resources, probes...) are refused by name rather than
 * silently ignored.
 */
const containerSchema = z.strictObject({
  name: z.string().min(1).optional(),
  /** Accepted for Knative YAML compatibility; there is no container runtime to pull it. */
  image: z.string().min(1).optional(),
  command: z.array(z.string()).optional(),
  args: z.array(z.string()).optional(),
  env: z.array(envVarSchema).optional(),
  workingDir: z.string().min(1).optional(),
  imagePullPolicy: z.enum(['Always', 'IfNotPresent', 'Never']).optional(),
});

/** `spec` of `sources.knative.dev/v1` ContainerSource. */
export const containerSourceSpecSchema = z.strictObject({
  template: z.strictObject({
    metadata: z
      .strictObject({
        labels: z.record(z.string(), z.string()).optional(),
        annotations: z.record(z.string(), z.string()).optional(),
      })
      .optional(),
    spec: z.strictObject({
      containers: z
        .array(containerSchema)
        .min(1, 'one container is required')
        .superRefine((containers, ctx) => {
          if (containers.length > 1) {
            ctx.addIssue({ code: 'custom', message: `has ${containers.length} containers: Sluice runs one container per ContainerSource (as a local process)` });
          }
          const c = containers[0];
          if (c && (!c.command || c.command.length === 0)) {
            ctx.addIssue({
              code: 'custom',
              path: [0, 'command'],
              message: c.image
                ? `is required: Sluice has no container runtime, so image ${JSON.stringify(c.image)} alone cannot run; give the command (and args) to run as a local process`
                : 'is required: the program to run (with args)',
            });
          }
          for (const [i, e] of (c?.env ?? []).entries()) {
            if (e.name === 'K_SINK' || e.name === 'K_CE_OVERRIDES') {
              ctx.addIssue({ code: 'custom', path: [0, 'env', i, 'name'], message: `${e.name} is set by Sluice from spec.sink and spec.ceOverrides` });
            }
          }
        }),
    }),
  }),
  sink: destinationSchema,
  ceOverrides: ceOverridesSchema.optional(),
});

export type ContainerSourceSpec = z.infer<typeof containerSourceSpecSchema>;
export type ContainerSourceSpecInput = z.input<typeof containerSourceSpecSchema>;
export type ContainerSpec = z.infer<typeof containerSchema>;
