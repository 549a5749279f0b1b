import { hostname } from 'node:os';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { ChannelBuildContext } from './channel.js';
import type { ChannelRegistry } from './registry.js';
import { createNatsChannelFactory, NATS_JETSTREAM_CHANNEL_KIND, NatsConnectionManager, type NatsConnectionOptions } from './nats/index.js';
import { createRedisChannelFactory, redisClientOptions, REDIS_CHANNEL_KIND, RedisConnectionManager, type RedisConnectionOptions } from './bullmq/index.js';

export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/** Where NatsJetStreamChannels live (`--nats-url` and friends); servers default to DEFAULT_NATS_URL. */
export type NatsBackendOptions = Omit<NatsConnectionOptions, 'logger' | 'servers'> & { servers?: string | string[] };
/** Where RedisChannels live (`--redis-url`); url defaults to DEFAULT_REDIS_URL. */
export type RedisBackendOptions = Omit<RedisConnectionOptions, 'logger'> & {
  /** BullMQ lock on active jobs: how soon a dead replica's in-flight deliveries go to another (default 30 s). */
  lockDurationMs?: number;
};

export interface DurableBackendsOptions {
  nats?: NatsBackendOptions;
  redis?: RedisBackendOptions;
  logger?: Logger;
  metrics?: Metrics;
}

/**
 * The NATS and Redis connections of one broker, shared by all its durable channels and
 * opened on first use: a broker whose resources only use in-memory channels never dials
 * either server. Options are validated at construction, so a bad `--redis-url` fails at
 * start even before any channel needs it.
 */
export class DurableBackends {
  readonly #nats: NatsConnectionManager;
  readonly #redisOptions: RedisBackendOptions;
  readonly #logger: Logger | undefined;
  readonly #metrics: Metrics | undefined;
  #redis: RedisConnectionManager | undefined;
  #closed = false;

  constructor(options: DurableBackendsOptions = {}) {
    this.#logger = options.logger?.child({ component: 'channels' });
    this.#metrics = options.metrics;
    // No I/O here: NatsConnectionManager dials only when the first channel calls connect().
    this.#nats = new NatsConnectionManager({
      name: `sluice ${hostname()}:${process.pid}`,
      ...options.nats,
      servers: options.nats?.servers ?? DEFAULT_NATS_URL,
      ...(this.#logger ? { logger: this.#logger } : {}),
    });
    this.#redisOptions = { ...options.redis };
    if (!this.#redisOptions.url && !this.#redisOptions.host) this.#redisOptions.url = DEFAULT_REDIS_URL;
    redisClientOptions(this.#redisOptions);
  }

  /** Adds the NatsJetStreamChannel and RedisChannel kinds to a broker's registry, unless it has its own already. */
  register(registry: ChannelRegistry): void {
    const common = { ...(this.#logger ? { logger: this.#logger } : {}), ...(this.#metrics ? { metrics: this.#metrics } : {}) };
    if (!registry.get(NATS_JETSTREAM_CHANNEL_KIND)) registry.register(NATS_JETSTREAM_CHANNEL_KIND, createNatsChannelFactory(this.#nats, common));
    const lock = this.#redisOptions.lockDurationMs;
    if (!registry.get(REDIS_CHANNEL_KIND)) {
      registry.register(REDIS_CHANNEL_KIND, (ctx: ChannelBuildContext) =>
        createRedisChannelFactory(this.#redisConnection(), { ...common, ...(lock !== undefined ? { lockDurationMs: lock } : {}) })(ctx),
      );
    }
  }

  /** The Redis connections, opened on first use (RedisConnectionManager dials in its constructor). */
  #redisConnection(): RedisConnectionManager {
    this.#redis ??= new RedisConnectionManager({ ...this.#redisOptions, ...(this.#logger ? { logger: this.#logger } : {}) });
    return this.#redis;
  }

  /** Closes both connections (after the channels are closed, so their acks got out). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([this.#nats.close(), this.#redis?.close()]);
  }
}
