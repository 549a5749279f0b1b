import { z } from 'zod';
import { InvalidOptionError } from '../../errors.js';
import { defaultDestinationNamespace, deliverySpecSchema, isoDurationSchema } from '../../resources/common-schemas.js';
import type { KindDefinition } from '../../resources/kind-registry.js';
import { translateZodIssues } from '../../resources/zod-issues.js';
import type { DeliverySpec } from '../../subscriptions/delivery-spec.js';
import { parseIsoDuration } from '../../subscriptions/duration.js';

export const SLUICE_MESSAGING_V1ALPHA1 = 'messaging.sluice.dev/v1alpha1';
/** The apiVersion Knative's own NATS channel uses; Sluice accepts its YAML unchanged. */
export const KNATIVE_MESSAGING_V1ALPHA1 = 'messaging.knative.dev/v1alpha1';
export const NATS_JETSTREAM_CHANNEL_KIND = 'NatsJetStreamChannel';

/** `NatsJetStreamChannel.spec` as written in YAML. */
export interface NatsJetStreamChannelSpec {
  delivery?: DeliverySpec;
  /** How long the stream keeps an event nobody finished (ISO-8601, default P7D). */
  maxAge?: string;
  /** Stream size bound in bytes; publishes beyond it answer 429 (default: no bound). */
  maxBytes?: number;
  /** Stream bound in events; publishes beyond it answer 429 (default: no bound). */
  maxMessages?: number;
  /** Stream replicas in a NATS cluster (1..5, default 1). */
  replicas?: number;
  /** `file` (default: survives a NATS restart) or `memory`. */
  storage?: 'file' | 'memory';
  /** How long a delivery may go without an ack before NATS hands it to another replica (ISO-8601, default PT30S). */
  ackWait?: string;
}

const positiveOrUnbounded = z.number().int().refine((n) => n === -1 || n > 0, { message: 'must be a positive integer, or -1 for no bound' });

export const natsJetStreamChannelSpecSchema: z.ZodType<NatsJetStreamChannelSpec, unknown> = z
  .strictObject({
    delivery: deliverySpecSchema.optional(),
    maxAge: isoDurationSchema.optional(),
    maxBytes: positiveOrUnbounded.optional(),
    maxMessages: positiveOrUnbounded.optional(),
    replicas: z.number().int().min(1).max(5).optional(),
    storage: z.enum(['file', 'memory']).optional(),
    ackWait: isoDurationSchema.optional(),
    subscribers: z.array(z.unknown()).optional(),
  })
  .transform(({ subscribers: _ignored, ...spec }) => spec);

/** `messaging.knative.dev/v1alpha1` NatsJetStreamChannel (also accepted under sluice's own group). */
export const natsJetStreamChannelKind: KindDefinition<NatsJetStreamChannelSpec> = {
  apiVersion: [KNATIVE_MESSAGING_V1ALPHA1, SLUICE_MESSAGING_V1ALPHA1],
  kind: NATS_JETSTREAM_CHANNEL_KIND, shortNames: ['natschannel', 'jsc'],
  spec: natsJetStreamChannelSpecSchema,
  defaults(r) {
    defaultDestinationNamespace(r.spec.delivery?.deadLetterSink, r.metadata.namespace);
  },
};

/** The stream and consumer settings a channel runs with, durations in ms. */
export interface NatsStreamSettings {
  maxAgeMs: number;
  maxBytes: number;
  maxMessages: number;
  replicas: number;
  storage: 'file' | 'memory';
  ackWaitMs: number;
}

export const DEFAULT_MAX_AGE_MS = 7 * 24 * 3600 * 1000;
export const DEFAULT_ACK_WAIT_MS = 30_000;

/** Validates a spec (it may come from a factory caller that skipped the resource loader). */
export function natsStreamSettings(spec: Readonly<Record<string, unknown>>, where: string): NatsStreamSettings {
  const r = natsJetStreamChannelSpecSchema.safeParse(spec);
  if (!r.success) {
    const msg = translateZodIssues(r.error.issues, ['spec']).map((i) => `${i.path}: ${i.message}`).join('; ');
    throw new InvalidOptionError(`${where}: ${msg}`);
  }
  const s = r.data;
  const maxAgeMs = s.maxAge ? parseIsoDuration(s.maxAge) : DEFAULT_MAX_AGE_MS;
  const ackWaitMs = s.ackWait ? parseIsoDuration(s.ackWait) : DEFAULT_ACK_WAIT_MS;
  if (maxAgeMs < 1000) throw new InvalidOptionError(`${where}: spec.maxAge must be at least 1 second`);
  if (ackWaitMs < 1000) throw new InvalidOptionError(`${where}: spec.ackWait must be at least 1 second`);
  return {
    maxAgeMs,
    maxBytes: s.maxBytes ?? -1,
    maxMessages: s.maxMessages ?? -1,
    replicas: s.replicas ?? 1,
    storage: s.storage ?? 'file',
    ackWaitMs,
  };
}
