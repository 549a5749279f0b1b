import type { SluiceEvent } from '../events/types.js';

/**
 * The Channel contract. A channel stores events and hands each one to every
 * subscription independently. It knows nothing about HTTP delivery: the dispatcher
 * gives it a handler per subscription, and the handler's result says whether the event
 * is finished for that subscription (delivered, dead-lettered or dropped) or must be
 * offered again later. Backends own redelivery so that durable ones (JetStream,
 * BullMQ) keep pending retries across a restart.
 */
export interface Channel {
  /** The resource kind that built this channel (`InMemoryChannel`, `NatsJetStreamChannel`...). */
  readonly kind: string;
  /**
   * Resolves once the event is stored (for a durable backend: once the backend
   * acknowledged the write). Rejects with ChannelFullError (429) when a bound is reached
   * and UnavailableError (503) when the channel cannot take events now.
   */
  publish(event: SluiceEvent): Promise<void>;
  /**
   * Publishes several events; resolves once all are stored. Backends may make this
   * atomic; the default behaviour is all-or-error per event in order.
   */
  publishBatch?(events: readonly SluiceEvent[]): Promise<void>;
  /** Starts (or replaces, when the id exists) a subscription's consumption. */
  subscribe(subscription: ChannelSubscription): Promise<void>;
  /** Stops a subscription; `purge` also removes what the backend keeps for it. */
  unsubscribe(id: string, options?: { purge?: boolean }): Promise<void>;
  /** Whether the channel can take events now (backend connected). */
  ready(): boolean;
  /**
   * Why the channel cannot take events now, for humans (readiness, status conditions,
   * the 503 body), e.g. `NATS at nats://10.0.0.5:4222 is unreachable`; undefined when ready.
   */
  notReadyReason?(): string | undefined;
  /** What a Ready channel's operator should still know about its durability (e.g. Redis without AOF); undefined when nothing. */
  durabilityWarning?(): string | undefined;
  /**
   * Spec fields the backend accepted but does not honour (a Kubernetes-only setting, or
   * one whose effect Sluice gets another way), each with why: the status lists them, so
   * that nothing is ignored silently.
   */
  ignoredFields?(): readonly IgnoredField[];
  stats(): ChannelStats;
  /**
   * Stops accepting, then waits until every accepted event is finished or `deadline`
   * (epoch ms) passes, then releases resources. Idempotent.
   */
  close(options?: { deadline?: number }): Promise<void>;
  /** Removes what the backend created for this channel (stream, queues). */
  destroy?(): Promise<void>;
}

/** A spec field a backend accepted without honouring it (see Channel.ignoredFields). */
export interface IgnoredField {
  /** Full path from the channel's spec, e.g. `spec.stream.config.discard`. */
  readonly path: string;
  /** Why, and what Sluice does instead. */
  readonly reason: string;
}

export interface ChannelSubscription {
  /** Stable id, unique within the channel (the Subscription's `namespace/name`). */
  readonly id: string;
  /** At most this many events in the handler at once for this subscription. */
  readonly maxInFlight: number;
  /** Delivery attempts after which the dispatcher gives up (retry + 1); backends may use it. */
  readonly maxAttempts: number;
  readonly handler: DeliveryHandler;
  /**
   * A cheap pre-filter (a Trigger's filter): an event it refuses is never queued for this
   * subscription, so it costs that subscription no memory. Backends may ignore it; the
   * handler still checks.
   */
  readonly accepts?: ((event: SluiceEvent) => boolean) | undefined;
  /**
   * Told of every event the channel gives up on for this subscription without a final
   * outcome from the handler, so the loss is dead-lettered, or logged and counted:
   * `overflow` when the subscription fell so far behind that the channel shed its
   * oldest waiting events to keep taking new ones for the others; `shutdown` when the
   * event was still held at the close deadline. Must not throw.
   */
  readonly onShed?: ((event: SluiceEvent, reason: ShedReason) => void) | undefined;
}

/** Why a channel gave an event up for one subscription (see ChannelSubscription.onShed). */
export type ShedReason = 'overflow' | 'shutdown';

export interface DeliveryContext {
  /** 1-based attempt number for this event and subscription. */
  readonly attempt: number;
  /** Call during long work so that a backend with an ack deadline extends it. */
  readonly working?: () => void;
}

/** What the handler tells the channel. */
export type DeliveryResult =
  | { readonly outcome: 'done' }
  | { readonly outcome: 'retry'; readonly delayMs: number };

export type DeliveryHandler = (event: SluiceEvent, context: DeliveryContext) => Promise<DeliveryResult>;

export interface SubscriptionStats {
  /** Events accepted but not yet finished for this subscription (queued + in flight + waiting to retry). */
  readonly backlog: number;
  readonly inFlight: number;
}

export interface ChannelStats {
  /** Events held by the channel (the buffer depth). */
  readonly depth: number;
  readonly capacity: number;
  /** Bytes held (in-memory channels; an estimate of what the events cost in memory). */
  readonly bytes?: number;
  /** Bytes held before publish answers 429 (in-memory channels). */
  readonly capacityBytes?: number;
  readonly subscriptions: Readonly<Record<string, SubscriptionStats>>;
}

/** What a backend factory receives to build one channel. */
export interface ChannelBuildContext {
  readonly namespace: string;
  readonly name: string;
  /** The channel's backend-specific spec (e.g. InMemoryChannel.spec). */
  readonly spec: Readonly<Record<string, unknown>>;
}

export type ChannelFactory = (context: ChannelBuildContext) => Channel;
