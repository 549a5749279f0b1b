import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { ChannelTemplate } from '../resources/types.js';
import type { ChannelFactory } from './channel.js';

/** One flag of `sluice start`, as data: the CLI turns it into a commander option (src/channels does not import commander). */
export interface BackendFlag {
  /** commander's syntax, e.g. `--nats-url <urls>`; without `<value>` the flag is a boolean. */
  readonly flags: string;
  readonly description: string;
  /** Environment variable that sets it. A boolean has none: commander would turn it on for any value, so `options()` reads it. */
  readonly env?: string;
  readonly default?: string;
}

/** A backend's connection(s) and the factory of its channel kind. */
export interface ConnectedBackend {
  readonly factory: ChannelFactory;
  /** Closes the connection(s) (after the channels are closed, so their acks got out). */
  close(): Promise<void>;
  /** The shared connection manager, for other data kept in the same backend (dead letters); undefined while none exists yet. */
  readonly connection?: () => unknown;
}

/**
 * A durable channel backend (NATS JetStream, Redis), whole: its channel kind, its flags of
 * `sluice start` and their parsing, its connection. Adding one: its folder with its kind
 * definition (in SLUICE_KINDS) and this module, and one entry in CHANNEL_BACKENDS
 * (src/channels/durable-backends.ts).
 */
export interface ChannelBackendModule<Options = unknown, Name extends string = string> {
  /** The key of its options in SluiceServerOptions and in `backendSettings()`: `nats`, `redis`. */
  readonly name: Name;
  /** The channel kind it builds, e.g. `NatsJetStreamChannel`. */
  readonly kind: string;
  /** What a `Channel` without a template becomes under `--default-channel <kind>`. */
  readonly template: ChannelTemplate;
  readonly flags: readonly BackendFlag[];
  /**
   * commander's parsed values (camelCase, `natsUrl`; empty ones left out) -> options,
   * validated with an InvalidOptionError naming the flag. Nothing connects here.
   */
  options(values: Readonly<Record<string, unknown>>): Options;
  /**
   * The backend's connection for one broker, shared by all its channels. Lazy: no I/O until
   * the first channel connects. Missing options mean the defaults; bad ones throw here.
   */
  connect(options: Options | undefined, common: { logger?: Logger; metrics?: Metrics }): ConnectedBackend;
}

/** `{ nats?: NatsBackendOptions; redis?: RedisBackendOptions }` for a list of backend modules. */
export type BackendOptionsOf<L extends readonly ChannelBackendModule[]> = {
  [M in L[number] as M['name']]?: ReturnType<M['options']>;
};
