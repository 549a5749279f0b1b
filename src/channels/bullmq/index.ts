import type { ChannelBuildContext, ChannelFactory } from '../channel.js';
import type { Logger } from '../../observability/logger.js';
import type { Metrics } from '../../observability/metrics.js';
import { parseRedisChannelSpec, redisAckWaitMs } from './redis-channel-spec.js';
import type { RedisConnectionManager } from './redis-connection.js';
import { RedisChannel } from './redis-channel.js';

export { RedisChannel, type RedisChannelOptions } from './redis-channel.js';
export { RedisConnectionManager, redisClientOptions, type RedisConnectionOptions, type RedisConnectionListener } from './redis-connection.js';
export { redisChannelKind, redisChannelSpecSchema, parseRedisChannelSpec, REDIS_CHANNEL_KIND, type RedisChannelSpec } from './redis-channel-spec.js';
export { queueNameFor, subscriptionsKeyFor } from './redis-names.js';
export { assessPersistence, checkRedisPersistence, type PersistenceAssessment, type RedisPersistence } from './redis-durability.js';

/**
 * Factory for kind RedisChannel. Every channel shares `connection`; the spec is
 * validated here too (InvalidOptionError naming the field) for callers that skip the loader.
 */
export function createRedisChannelFactory(
  connection: RedisConnectionManager,
  options: { logger?: Logger; metrics?: Metrics; lockDurationMs?: number } = {},
): ChannelFactory {
  return (ctx: ChannelBuildContext) => {
    const spec = parseRedisChannelSpec(ctx.spec, `RedisChannel ${ctx.namespace}/${ctx.name}`);
    // The channel's own ackWait wins over the broker-wide default.
    const lockDurationMs = redisAckWaitMs(spec) ?? options.lockDurationMs;
    return new RedisChannel({
      connection,
      namespace: ctx.namespace,
      name: ctx.name,
      ...(spec.maxBacklog !== undefined ? { maxBacklog: spec.maxBacklog } : {}),
      ...(lockDurationMs !== undefined ? { lockDurationMs } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
      ...(options.metrics ? { metrics: options.metrics } : {}),
    });
  };
}
