import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { BackendOptionsOf, ChannelBackendModule, ConnectedBackend } from './backend-module.js';
import type { ChannelRegistry } from './registry.js';
import { natsBackend } from './nats/nats-backend.js';
import { redisBackend } from './bullmq/redis-backend.js';

export { DEFAULT_NATS_URL, type NatsBackendOptions } from './nats/nats-backend.js';
export { DEFAULT_REDIS_URL, type RedisBackendOptions } from './bullmq/redis-backend.js';

/**
 * The durable channel backends, in the order their flags appear in `sluice start --help`.
 * SluiceServer connects each, `sluice start` gets its flags and `--default-channel`'s
 * choices from here. Adding one: its folder (kind definition, in SLUICE_KINDS, and backend
 * module) and one entry here.
 */
export const CHANNEL_BACKENDS = [natsBackend, redisBackend] as const satisfies readonly ChannelBackendModule[];

/** Each backend's options by its name: `{ nats?: NatsBackendOptions; redis?: RedisBackendOptions }`. */
export type ChannelBackendsOptions = BackendOptionsOf<typeof CHANNEL_BACKENDS>;

export interface DurableBackendsOptions extends ChannelBackendsOptions {
  logger?: Logger;
  metrics?: Metrics;
}

/**
 * The durable backends' connections of one broker, shared by all its durable channels and
 * opened on first use: a broker whose resources only use in-memory channels never dials
 * any server. Options are validated at construction, so a bad `--redis-url` fails at
 * start even before any channel needs it.
 */
export class DurableBackends {
  readonly #backends: ReadonlyArray<{ kind: string; connected: ConnectedBackend }>;
  #closed = false;

  constructor(options: DurableBackendsOptions = {}) {
    const logger = options.logger?.child({ component: 'channels' });
    const common = { ...(logger ? { logger } : {}), ...(options.metrics ? { metrics: options.metrics } : {}) };
    const byName = options as Readonly<Record<string, unknown>>;
    const modules: readonly ChannelBackendModule[] = CHANNEL_BACKENDS;
    this.#backends = modules.map((b) => ({ kind: b.kind, connected: b.connect(byName[b.name], common) }));
  }

  /** Adds each backend's channel kind to a broker's registry, unless it has its own already. */
  register(registry: ChannelRegistry): void {
    for (const { kind, connected } of this.#backends) if (!registry.get(kind)) registry.register(kind, connected.factory);
  }

  /** The connection manager of the backend of channel kind `kind` (e.g. a NatsConnectionManager), once it exists. */
  connection(kind: string): unknown {
    return this.#backends.find((b) => b.kind === kind)?.connected.connection?.();
  }

  /** Closes every connection (after the channels are closed, so their acks got out). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all(this.#backends.map((b) => b.connected.close()));
  }
}
