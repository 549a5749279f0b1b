import { z } from 'zod';
import { goDurationSchema } from '../../resources/common-schemas.js';

// The fields of eventing-natss's own NatsJetStreamChannel (knative-extensions/eventing-natss:
// pkg/apis/messaging/v1alpha1/nats_jetstream_types.go and its CRD,
// config/jetstream/302-jsm-channel.yaml), so that its YAML runs on Sluice unchanged.
// Values are checked as natss's CRD and JetStream would check them; which ones Sluice
// honours, and what it says about the others, is natss-settings.ts's job.
//
// As with Go's `omitempty`, a zero value (0, "", "0") means "not set": natss's
// controller passes it to JetStream, which then applies its default.

/** JetStream limits: -1 (no limit), 0 (not set) or a positive number. */
const limit = z
  .number()
  .int()
  .refine((n) => n >= -1, { message: 'must be -1 (no limit), 0 (not set) or a positive number' });

/** metav1.Time: an RFC 3339 timestamp such as 2024-05-01T00:00:00Z. */
const rfc3339 = z.string().superRefine((s, ctx) => {
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)$/i.test(s) || Number.isNaN(Date.parse(s))) {
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(s)} is not an RFC 3339 time (e.g. 2024-05-01T00:00:00Z)` });
  }
});

/** JetStream refuses these in stream names: whitespace, `.`, `*`, `>`, path separators, control characters. */
const streamName = z.string().superRefine((s, ctx) => {
  const control = [...s].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f);
  if (s !== '' && (s.length > 255 || control || /[\s.*>/\\]/.test(s))) {
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(s)} is not a JetStream stream name: no whitespace, '.', '*', '>', '/' or '\\', at most 255 characters` });
  }
});

/** natss's `sampleFrequency`: a percentage, "30" or "30%" (a YAML number is taken too). */
const sampleFrequency = z.union([z.string(), z.number()]).superRefine((v, ctx) => {
  const m = /^(\d{1,3})%?$/.exec(String(v).trim());
  if (String(v).trim() !== '' && (!m || Number(m[1]) > 100)) {
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(v)} is not a percentage from 0 to 100 (e.g. "30" or "30%")` });
  }
});

const streamSource = z.strictObject({
  name: z.string().optional(),
  optStartSeq: z.number().int().min(0).optional(),
  optStartTime: rfc3339.optional(),
  filterSubject: z.string().optional(),
});

/** `spec.stream.config`: natss's StreamConfig. */
export const natssStreamConfigSchema = z.strictObject({
  additionalSubjects: z.array(z.string()).optional(),
  // natss's names; `WorkQueue` is JetStream's own name for natss's `Work`.
  retention: z.enum(['Limits', 'Interest', 'Work', 'WorkQueue']).optional(),
  maxConsumers: limit.optional(),
  maxMsgs: limit.optional(),
  maxBytes: limit.optional(),
  discard: z.enum(['Old', 'New']).optional(),
  maxAge: goDurationSchema.optional(),
  maxMsgSize: limit.optional(),
  storage: z.enum(['File', 'Memory']).optional(),
  replicas: z.number().int().min(0).max(5).optional(),
  noAck: z.boolean().optional(),
  duplicateWindow: goDurationSchema.optional(),
  placement: z.strictObject({ cluster: z.string().optional(), tags: z.array(z.string()).optional() }).optional(),
  mirror: streamSource.optional(),
  sources: z.array(streamSource).optional(),
});

/** `spec.stream`. */
export const natssStreamSchema = z.strictObject({
  overrideName: streamName.optional(),
  config: natssStreamConfigSchema.optional(),
});

/** `spec.consumerConfigTemplate`: how natss creates each subscription's consumer. */
export const natssConsumerConfigTemplateSchema = z.strictObject({
  deliverPolicy: z.enum(['All', 'Last', 'New', 'ByStartSequence', 'ByStartTime']).optional(),
  optStartSeq: z.number().int().min(0).optional(),
  optStartTime: rfc3339.optional(),
  ackWait: goDurationSchema.optional(),
  maxDeliver: limit.optional(),
  filterSubject: z.string().optional(),
  replayPolicy: z.enum(['Instant', 'Original']).optional(),
  rateLimitBPS: z.number().int().min(0).optional(),
  sampleFrequency: sampleFrequency.optional(),
  maxAckPending: limit.optional(),
  consumerType: z.enum(['Push', 'Pull']).optional(),
  fetchMaxWait: z.number().int().min(0).optional(),
  fetchBatchSize: z.number().int().min(1).optional(),
});

/**
 * `spec.deploymentSpecTemplate`: the Deployment natss runs per channel (affinity,
 * nodeSelector, resources...). Cluster-only: accepted whole and reported as ignored.
 */
export const natssDeploymentSpecTemplateSchema = z.record(z.string(), z.unknown());

export type NatssStream = z.infer<typeof natssStreamSchema>;
export type NatssStreamConfig = z.infer<typeof natssStreamConfigSchema>;
export type NatssConsumerConfigTemplate = z.infer<typeof natssConsumerConfigTemplateSchema>;
