import { InvalidOptionError } from '../../errors.js';
import type { ChannelBuildContext } from '../channel.js';
import type { ChannelBackendModule } from '../backend-module.js';
import { REDIS_CHANNEL_KIND } from './redis-channel-spec.js';
import { createRedisChannelFactory, redisClientOptions, RedisConnectionManager, type RedisConnectionOptions } from './index.js';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/** Where RedisChannels live (`--redis-url`); url defaults to DEFAULT_REDIS_URL. */
export type RedisBackendOptions = Omit<RedisConnectionOptions, 'logger'> & {
  /** BullMQ lock on active jobs: how soon a dead replica's in-flight deliveries go to another (default 30 s). */
  lockDurationMs?: number;
};

/** commander's values of the `--redis-*` flags. */
interface RedisFlags {
  redisUrl?: string;
  redisPassword?: string;
  redisPrefix?: string;
  redisRequireAof?: boolean;
}

/** RedisChannel: Redis through BullMQ, `--redis-*`. */
export const redisBackend: ChannelBackendModule<RedisBackendOptions, 'redis'> = {
  name: 'redis',
  kind: REDIS_CHANNEL_KIND,
  template: { apiVersion: 'messaging.sluice.dev/v1alpha1', kind: REDIS_CHANNEL_KIND },
  flags: [
    { flags: '--redis-url <url>', description: 'Redis server of RedisChannels (redis:// or rediss:// for TLS); dialled only when such a channel exists', env: 'SLUICE_REDIS_URL', default: DEFAULT_REDIS_URL },
    { flags: '--redis-password <password>', description: 'Redis password (instead of putting it in --redis-url)', env: 'SLUICE_REDIS_PASSWORD' },
    { flags: '--redis-prefix <prefix>', description: 'prefix of every Redis key Sluice writes', env: 'SLUICE_REDIS_PREFIX', default: 'sluice' },
    // Boolean: commander would turn it on for any value of its variable, even "false", so
    // SLUICE_REDIS_REQUIRE_AOF is read in options() instead.
    {
      flags: '--redis-require-aof',
      description: 'refuse events (RedisChannels not Ready, ingress 503) unless Redis runs with appendonly yes; by default only a warning is logged (env SLUICE_REDIS_REQUIRE_AOF=true|1|yes)',
    },
  ],

  options(values) {
    const flags = values as RedisFlags;
    const o: RedisBackendOptions = { url: flags.redisUrl ?? DEFAULT_REDIS_URL };
    if (flags.redisPassword) o.password = flags.redisPassword;
    if (flags.redisPrefix) o.prefix = flags.redisPrefix;
    if (flags.redisRequireAof === true || /^(1|true|yes|on)$/i.test(process.env.SLUICE_REDIS_REQUIRE_AOF ?? '')) o.requireAof = true;
    try {
      redisClientOptions(o);
    } catch (err) {
      throw new InvalidOptionError(`--redis-url/--redis-prefix: ${(err as Error).message}`, { cause: err });
    }
    return o;
  },

  connect(options, common) {
    const o: RedisBackendOptions = { ...options };
    if (!o.url && !o.host) o.url = DEFAULT_REDIS_URL;
    // Validated now, so that a bad url fails at start even before any channel needs it.
    redisClientOptions(o);
    const lock = o.lockDurationMs;
    // RedisConnectionManager dials in its constructor: made for the first channel.
    let connection: RedisConnectionManager | undefined;
    return {
      factory: (ctx: ChannelBuildContext) => {
        connection ??= new RedisConnectionManager({ ...o, ...(common.logger ? { logger: common.logger } : {}) });
        return createRedisChannelFactory(connection, { ...common, ...(lock !== undefined ? { lockDurationMs: lock } : {}) })(ctx);
      },
      close: async () => {
        await connection?.close();
      },
      connection: () => connection,
    };
  },
};
