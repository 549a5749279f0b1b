import { z } from 'zod';
import { InvalidOptionError } from '../../errors.js';
import { defaultDestinationNamespace, deliverySpecSchema } from '../../resources/common-schemas.js';
import type { KindDefinition } from '../../resources/kind-registry.js';
import { translateZodIssues } from '../../resources/zod-issues.js';
import type { DeliverySpec } from '../../subscriptions/delivery-spec.js';

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
}

export const redisChannelSpecSchema: z.ZodType<RedisChannelSpec, unknown> = z
  .strictObject({
    delivery: deliverySpecSchema.optional(),
    maxBacklog: z.number().int().positive().optional(),
    subscribers: z.array(z.unknown()).optional(),
  })
  .transform(({ subscribers: _ignored, ...spec }) => spec);

/** `messaging.sluice.dev/v1alpha1` RedisChannel, for the resource kind registry. */
export const redisChannelKind: KindDefinition<RedisChannelSpec> = {
  apiVersion: SLUICE_MESSAGING_V1ALPHA1,
  kind: REDIS_CHANNEL_KIND,
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
  return r.data;
}
