import { z } from 'zod';
import { isIsoDuration, parseGoDuration, parseIsoDuration } from '../subscriptions/duration.js';
import type { DeliverySpec } from '../subscriptions/delivery-spec.js';
import type { Destination, KReference, ObjectMeta } from './types.js';

// The sub-schemas every kind shares (metadata, KReference, Destination, DeliverySpec),
// following Knative's validation rules. Objects are strict: a field Sluice does not know
// is reported by name instead of being silently ignored. Messages are written for the
// YAML author; zod-issues.ts words the rest.

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_LABEL = DNS1123_SUBDOMAIN;

/** `metadata.name`: Knative object names end up in hostnames and URL paths. */
export const resourceNameSchema = z.string().superRefine((s, ctx) => {
  if (s.length > 253 || !DNS1123_SUBDOMAIN.test(s)) {
    ctx.addIssue({
      code: 'custom',
      message: `${JSON.stringify(s)} is not a valid name: use lowercase letters, digits and '-', starting and ending with a letter or digit, at most 253 characters`,
    });
  }
});

/** `metadata.namespace`: a DNS-1123 label, as Kubernetes requires. */
export const namespaceSchema = z.string().superRefine((s, ctx) => {
  if (s.length > 63 || !DNS1123_LABEL.test(s)) {
    ctx.addIssue({
      code: 'custom',
      message: `${JSON.stringify(s)} is not a valid namespace: use lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters`,
    });
  }
});

export const stringMapSchema = z.record(z.string().min(1), z.string());

/** An ISO-8601 duration string (`PT0.2S`, `PT1M`), checked with the parser the dispatcher uses. */
export const isoDurationSchema = z.string().superRefine((s, ctx) => {
  if (!isIsoDuration(s)) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(s)} is not an ISO-8601 duration` });
});

/**
 * A Go duration string (`24h`, `1h30m`, `500ms`), as Kubernetes objects of controllers
 * written in Go take them (metav1.Duration, e.g. eventing-natss's `maxAge`).
 */
export const goDurationSchema = z.string().superRefine((s, ctx) => {
  if (parseGoDuration(s) === undefined) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(s)} is not a duration (use Go's form, e.g. 24h or 1h30m)` });
});

const positiveIsoDurationSchema = isoDurationSchema.superRefine((s, ctx) => {
  if (isIsoDuration(s) && parseIsoDuration(s) <= 0) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(s)} must be longer than zero` });
});

/**
 * Fields the API server writes and `kubectl get -o yaml` prints. Accepted so that such
 * output can be applied unchanged, then dropped: Sluice assigns its own uid/generation.
 */
export const SERVER_SET_METADATA_FIELDS = [
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'managedFields',
  'selfLink',
  'finalizers',
  'ownerReferences',
] as const;

const serverSet = Object.fromEntries(SERVER_SET_METADATA_FIELDS.map((f) => [f, z.unknown().optional()])) as Record<
  (typeof SERVER_SET_METADATA_FIELDS)[number],
  z.ZodOptional<z.ZodUnknown>
>;

/** `metadata` of any resource; `namespace` defaults to `default`, server-set fields are dropped. */
export const objectMetaSchema: z.ZodType<ObjectMeta, unknown> = z
  .strictObject({
    name: resourceNameSchema,
    namespace: namespaceSchema.default('default'),
    labels: stringMapSchema.optional(),
    annotations: stringMapSchema.optional(),
    ...serverSet,
  })
  .transform((m): ObjectMeta => {
    const out: ObjectMeta = { name: m.name, namespace: m.namespace };
    if (m.labels) out.labels = m.labels;
    if (m.annotations) out.annotations = m.annotations;
    return out;
  });

/** Knative KReference: what a `ref` names. `namespace` defaults to the referrer's. */
export const kReferenceSchema: z.ZodType<KReference, unknown> = z.strictObject({
  apiVersion: z.string().min(1),
  kind: z.string().min(1),
  name: z.string().min(1),
  namespace: namespaceSchema.optional(),
});

function absoluteHttpUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.host !== '';
  } catch {
    return false;
  }
}

/**
 * Knative Destination: `ref` and/or `uri`. Without a ref the uri must be an absolute
 * http(s) URL; with a ref it is a path resolved against the ref's address, so Knative
 * refuses an absolute one there.
 */
export const destinationSchema: z.ZodType<Destination, unknown> = z
  .strictObject({
    ref: kReferenceSchema.optional(),
    uri: z.string().min(1).optional(),
  })
  .superRefine((d, ctx) => {
    if (!d.ref && d.uri === undefined) {
      ctx.addIssue({ code: 'custom', message: 'needs ref or uri' });
      return;
    }
    if (d.uri === undefined) return;
    if (!d.ref && !absoluteHttpUrl(d.uri)) {
      ctx.addIssue({
        code: 'custom',
        path: ['uri'],
        message: `${JSON.stringify(d.uri)} is not an absolute http(s) URL (a relative uri needs a ref)`,
      });
    } else if (d.ref && /^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(d.uri)) {
      ctx.addIssue({ code: 'custom', path: ['uri'], message: `${JSON.stringify(d.uri)} must be a relative path when ref is set` });
    }
  });

/** Knative DeliverySpec (`spec.delivery`). */
export const deliverySpecSchema: z.ZodType<DeliverySpec, unknown> = z.strictObject({
  deadLetterSink: destinationSchema.optional(),
  retry: z.number().int().min(0).optional(),
  backoffPolicy: z.enum(['exponential', 'linear']).optional(),
  backoffDelay: isoDurationSchema.optional(),
  timeout: positiveIsoDurationSchema.optional(),
  retryAfterMax: isoDurationSchema.optional(),
});

/** Knative's defaulting: a ref without a namespace points into the referring object's namespace. */
export function defaultDestinationNamespace(dest: Destination | undefined, namespace: string): void {
  if (dest?.ref && !dest.ref.namespace) dest.ref.namespace = namespace;
}
