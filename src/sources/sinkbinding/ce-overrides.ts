import { z } from 'zod';

// Attribute names a ceOverride may not replace: the context attributes every event has
// and the data itself. Extensions are free, as in Knative (`kind`, `name`... included).
const RESERVED = new Set(['specversion', 'id', 'source', 'type', 'subject', 'time', 'datacontenttype', 'dataschema', 'data', 'data_base64']);

/** Knative's `spec.ceOverrides`: extensions added to every event the source sends. */
export const ceOverridesSchema = z.strictObject({
  extensions: z
    .record(z.string(), z.string())
    .superRefine((ext, ctx) => {
      // Checked here rather than as the record's key schema, whose failures zod reports
      // only as "Invalid key in record".
      for (const key of Object.keys(ext)) {
        if (!/^[a-z0-9]+$/.test(key)) {
          ctx.addIssue({ code: 'custom', path: [key], message: 'CloudEvents extension names are lower-case letters and digits only' });
        } else if (RESERVED.has(key)) {
          ctx.addIssue({ code: 'custom', path: [key], message: 'is a CloudEvents context attribute, not an extension' });
        }
      }
    })
    .optional(),
});

export type CeOverrides = z.infer<typeof ceOverridesSchema>;

/**
 * The `K_CE_OVERRIDES` value Knative gives a ContainerSource or SinkBinding subject:
 * `{"extensions":{...}}`; undefined when there is nothing to override (Knative then
 * does not set the variable).
 */
export function ceOverridesEnvValue(overrides: CeOverrides | undefined): string | undefined {
  if (!overrides) return undefined;
  return JSON.stringify({ extensions: overrides.extensions ?? {} });
}
