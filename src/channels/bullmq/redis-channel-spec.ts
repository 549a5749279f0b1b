import { z } from 'zod';
import { InvalidOptionError } from '../../errors.js';
import { defaultDestinationNamespace, deliverySpecSchema, isoDurationSchema } from '../../resources/common-schemas.js';
import type { KindDefinition } from '../../resources/kind-registry.js';
import { translateZodIssues } from '../../resources/zod-issues.js';
import type { DeliverySpec } from '../../subscriptions/delivery-spec.js';
import { parseIsoDuration } from '../../subscriptions/duration.js';

export const REDIS_CHANNEL_KIND = 'RedisChannel';
const SLUICE_MESSAGING_V1ALPHA1 = 'messaging.sluice.dev/v1alpha1';

/** `RedisChannel.spec` as written in YAML. */
export interface RedisChannelSpec {
  delivery?: DeliverySpec;
  /**
   * Publishes answer 429 once a subscription has this many unfinished events
   * (checked against stats refreshed every 2 s, so a bound, not an exact limit).
   * Default: no bound besides Redis's memory (`noeviction`: writes fail, 429).
   */
  maxBacklog?: number;
  /**
   * How long a delivery may run without its worker renewing the job's lock before another
   * replica takes it over (ISO-8601, default PT30S): after a `kill -9`, the dead replica's
   * in-flight deliveries are handed out again after about twice this.
   */
  ackWait?: string;
}

export const redisChannelSpecSchema: z.ZodType<RedisChannelSpec, unknown> = z
  .strictObject({
    delivery: deliverySpecSchema.optional(),
    maxBacklog: z.number().int().positive().optional(),
    ackWait: isoDurationSchema.optional(),
    subscribers: z.array(z.unknown()).optional(),
  })
  .transform(({ subscribers: _ignored, ...spec }) => spec);

/** `messaging.sluice.dev/v1alpha1` RedisChannel, for the resource kind registry. */
export const redisChannelKind: KindDefinition<RedisChannelSpec> = {
  apiVersion: SLUICE_MESSAGING_V1ALPHA1,
  kind: REDIS_CHANNEL_KIND, shortNames: ['redischannel'],
  spec: redisChannelSpecSchema,
  defaults(r) {
    defaultDestinationNamespace(r.spec.delivery?.deadLetterSink, r.metadata.namespace);
  },
};

export function parseRedisChannelSpec(spec: Readonly<Record<string, unknown>>, where: string): RedisChannelSpec {
  const r = redisChannelSpecSchema.safeParse(spec);
  if (!r.success) {
    const msg = translateZodIssues(r.error.issues, ['spec']).map((i) => `${i.path}: ${i.message}`).join('; ');
    throw new InvalidOptionError(`${where}: ${msg}`);
  }
  if (r.data.ackWait !== undefined && parseIsoDuration(r.data.ackWait) < 1000) throw new InvalidOptionError(`${where}: spec.ackWait must be at least 1 second`);
  return r.data;
}

/** The spec's `ackWait` in ms, if set (BullMQ's lock duration). */
export function redisAckWaitMs(spec: RedisChannelSpec): number | undefined {
  return spec.ackWait === undefined ? undefined : parseIsoDuration(spec.ackWait);
}
