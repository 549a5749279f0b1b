import { z } from 'zod';
import { destinationSchema } from '../../resources/common-schemas.js';
import { ceOverridesSchema } from '../sinkbinding/ce-overrides.js';
import { PingSchedule, checkTimezone } from './ping-schedule.js';

export const DEFAULT_PING_SCHEDULE = '* * * * *';

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Standard padded base64, as Go's `base64.StdEncoding` (Knative) decodes it; line breaks ignored. */
export function decodeBase64Strict(text: string): Buffer | undefined {
  const compact = text.replace(/[\r\n]/g, '');
  return BASE64.test(compact) ? Buffer.from(compact, 'base64') : undefined;
}

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** `spec` of `sources.knative.dev/v1` PingSource, field for field as Knative's API. */
export const pingSourceSpecSchema = z
  .strictObject({
    schedule: z.string().default(DEFAULT_PING_SCHEDULE),
    timezone: z
      .string()
      .superRefine((tz, ctx) => {
        try {
          checkTimezone(tz);
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: messageOf(err) });
        }
      })
      .optional(),
    /** Media type of the data; Knative sets no datacontenttype when it is empty. */
    contentType: z.string().min(1).optional(),
    data: z.string().optional(),
    dataBase64: z
      .string()
      .superRefine((s, ctx) => {
        if (decodeBase64Strict(s) === undefined) ctx.addIssue({ code: 'custom', message: 'is not valid (padded, standard) base64' });
      })
      .optional(),
    sink: destinationSchema,
    ceOverrides: ceOverridesSchema.optional(),
  })
  .superRefine((spec, ctx) => {
    if (spec.data !== undefined && spec.dataBase64 !== undefined && spec.data !== '' && spec.dataBase64 !== '') {
      ctx.addIssue({ code: 'custom', path: ['dataBase64'], message: 'data and dataBase64 are mutually exclusive: set one of them' });
    }
    try {
      checkTimezone(spec.timezone ?? 'UTC');
    } catch {
      return; // already reported on timezone
    }
    try {
      new PingSchedule(spec.schedule, spec.timezone);
    } catch (err) {
      ctx.addIssue({ code: 'custom', path: ['schedule'], message: messageOf(err) });
    }
  });

export type PingSourceSpec = z.infer<typeof pingSourceSpecSchema>;
/** The spec as written (before defaults). */
export type PingSourceSpecInput = z.input<typeof pingSourceSpecSchema>;
