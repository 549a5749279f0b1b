import type { Channel } from '../channels/channel.js';
import type { Resource } from '../resources/types.js';
import type { ReconcileContext } from '../runtime/runtime.js';
import type { DeliverySpec } from '../subscriptions/index.js';
import type { BrokerIngress } from './broker-ingress.js';
import type { BrokerSpec } from './broker-kinds.js';

/** One Broker as the data plane runs it. */
export interface BrokerInstance {
  readonly namespace: string;
  readonly name: string;
  resource: Resource<BrokerSpec>;
  readonly backendKind: string;
  /** The channel Triggers subscribe to. */
  readonly channel: Channel;
  readonly ingress: BrokerIngress;
  /** Bumped with each new channel (ChannelManager), so Triggers re-subscribe. */
  readonly generation: number;
  /** The delivery Triggers without their own use: `spec.delivery`, else Knative's broker default. */
  delivery: DeliverySpec;
}

/** What Triggers need of the brokers (the BrokerReconciler): kept narrow so the two reconcilers do not import each other. */
export interface BrokerDirectory {
  readonly instances: ReadonlyMap<string, BrokerInstance>;
  /** Where a Trigger's replies go: the broker's address on the local ingress when known. */
  replyUrl(runtime: ReconcileContext, broker: BrokerInstance): string;
  /** The base URLs at which this process's brokers are reached, for the loop check. */
  ownBaseUrls(runtime: ReconcileContext): string[];
  /** True once a channel was closed by a broker deletion or replacement. */
  isRetired(channel: Channel): boolean;
  /** Publishes each broker's ingress on its current channel once Triggers are on it. */
  commit(runtime: ReconcileContext): void;
}
