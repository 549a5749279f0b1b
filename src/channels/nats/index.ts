import type { ChannelBuildContext, ChannelFactory } from '../channel.js';
import type { Logger } from '../../observability/logger.js';
import type { Metrics } from '../../observability/metrics.js';
import { natsChannelConfig } from './nats-channel-spec.js';
import type { NatsConnectionManager } from './nats-connection.js';
import { NatsJetStreamChannel } from './nats-jetstream-channel.js';

export { NatsJetStreamChannel, type NatsJetStreamChannelOptions } from './nats-jetstream-channel.js';
export { NatsConnectionManager, type NatsConnectionOptions, type ConnectionListener } from './nats-connection.js';
export {
  natsJetStreamChannelKind,
  natsJetStreamChannelSpecSchema,
  natsChannelConfig,
  natsStreamSettings,
  NATS_JETSTREAM_CHANNEL_KIND,
  SLUICE_MESSAGING_V1ALPHA1,
  KNATIVE_MESSAGING_V1ALPHA1,
  type NatsJetStreamChannelSpec,
  type NatsChannelConfig,
  type NatsDeliverStart,
  type NatsStreamSettings,
} from './nats-channel-spec.js';
export { natssSettings, IGNORED_REASONS as NATSS_IGNORED_REASONS, type NatssSettings } from './natss-settings.js';
export { streamNameFor, subjectFor, durableNameFor } from './nats-names.js';

/**
 * Factory for kind NatsJetStreamChannel. Every channel shares `connection`; the spec is
 * validated here too (InvalidOptionError naming the field) for callers that skip the loader.
 */
export function createNatsChannelFactory(
  connection: NatsConnectionManager,
  options: { logger?: Logger; metrics?: Metrics } = {},
): ChannelFactory {
  return (ctx: ChannelBuildContext) => {
    const { settings, ignored } = natsChannelConfig(ctx.spec, `NatsJetStreamChannel ${ctx.namespace}/${ctx.name}`);
    return new NatsJetStreamChannel({
      connection,
      namespace: ctx.namespace,
      name: ctx.name,
      settings,
      ignored,
      ...(options.logger ? { logger: options.logger } : {}),
      ...(options.metrics ? { metrics: options.metrics } : {}),
    });
  };
}
