import type { ChannelBuildContext, ChannelFactory } from '../channel.js';
import type { Logger } from '../../observability/logger.js';
import type { Metrics } from '../../observability/metrics.js';
import { natsStreamSettings } from './nats-channel-spec.js';
import type { NatsConnectionManager } from './nats-connection.js';
import { NatsJetStreamChannel } from './nats-jetstream-channel.js';

export { NatsJetStreamChannel, type NatsJetStreamChannelOptions } from './nats-jetstream-channel.js';
export { NatsConnectionManager, type NatsConnectionOptions, type ConnectionListener } from './nats-connection.js';
export {
  natsJetStreamChannelKind,
  natsJetStreamChannelSpecSchema,
  natsStreamSettings,
  NATS_JETSTREAM_CHANNEL_KIND,
  SLUICE_MESSAGING_V1ALPHA1,
  KNATIVE_MESSAGING_V1ALPHA1,
  type NatsJetStreamChannelSpec,
  type NatsStreamSettings,
} from './nats-channel-spec.js';
export { streamNameFor, subjectFor, durableNameFor } from './nats-names.js';

/**
 * Factory for kind NatsJetStreamChannel. Every channel shares `connection`; the spec is
 * validated here too (InvalidOptionError naming the field) for callers that skip the loader.
 */
export function createNatsChannelFactory(
  connection: NatsConnectionManager,
  options: { logger?: Logger; metrics?: Metrics } = {},
): ChannelFactory {
  return (ctx: ChannelBuildContext) =>
    new NatsJetStreamChannel({
      connection,
      namespace: ctx.namespace,
      name: ctx.name,
      settings: natsStreamSettings(ctx.spec, `NatsJetStreamChannel ${ctx.namespace}/${ctx.name}`),
      ...(options.logger ? { logger: options.logger } : {}),
      ...(options.metrics ? { metrics: options.metrics } : {}),
    });
}
