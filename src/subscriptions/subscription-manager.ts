import type { Logger } from 'pino';
import type { Channel, ChannelSubscription, DeliveryHandler, DeliveryResult, ShedReason } from '../channels/channel.js';
import type { SluiceEvent } from '../events/types.js';

/** What the manager needs to know of a delivery target (the dispatcher's DeliveryTarget has these). */
export interface SubscriptionTarget {
  readonly subscriberUri: string;
  readonly replyUri?: string | undefined;
  readonly deadLetterUri?: string | undefined;
  readonly policy: { readonly retry: number };
}

/** Builds handlers for targets: the dispatcher. */
export interface DeliveryHandlers<T extends SubscriptionTarget> {
  handlerFor(target: T): DeliveryHandler;
  shedHandlerFor(handler: DeliveryHandler): (event: SluiceEvent, reason: ShedReason) => void;
}

/**
 * A filter in front of a subscription (a Trigger's): `view` is what the filter and the
 * subscriber see of a stored event (a broker strips its loop guard), `key` identifies the
 * filter's definition so an unchanged filter keeps the subscription.
 */
export interface SubscriptionFilter {
  readonly key: string;
  readonly accepts: (attributes: SluiceEvent['attributes']) => boolean;
  readonly view?: ((stored: SluiceEvent) => SluiceEvent) | undefined;
}

export interface SubscriptionWanted<T extends SubscriptionTarget> {
  /** The channel's key in its ChannelManager (a move to another key leaves the old channel). */
  readonly channelKey: string;
  readonly channel: Channel;
  readonly target: T;
  readonly filter?: SubscriptionFilter | undefined;
}

interface Entry {
  readonly channelKey: string;
  readonly channel: Channel;
  readonly specKey: string;
}

export interface SubscriptionManagerOptions<T extends SubscriptionTarget> {
  readonly handlers: DeliveryHandlers<T>;
  readonly logger: Logger;
  /** Concurrent deliveries per subscription. */
  readonly maxInFlight: number;
  /** A retired channel drops its subscriptions itself when it closes. */
  readonly isRetired: (channel: Channel) => boolean;
}

const SKIPPED: Promise<DeliveryResult> = Promise.resolve(Object.freeze({ outcome: 'done' as const }));

/**
 * The lifecycle of subscriptions on channels, a Subscription's or a Trigger's: subscribe
 * once, re-subscribe (same id, so the backlog is kept) when the target, the filter or the
 * channel object changed, leave the old channel when the subscription moved to another
 * one, and unsubscribe what is no longer wanted. A Trigger is a subscription whose
 * handler applies a filter first.
 */
export class SubscriptionManager<T extends SubscriptionTarget> {
  readonly #o: SubscriptionManagerOptions<T>;
  readonly #entries = new Map<string, Entry>();

  constructor(options: SubscriptionManagerOptions<T>) {
    this.#o = options;
  }

  /** Subscribes `id` as wanted; rejects (with the channel's error) when the channel refuses. */
  async ensure(id: string, wanted: SubscriptionWanted<T>): Promise<void> {
    const { target, filter } = wanted;
    const specKey = JSON.stringify([wanted.channelKey, target.subscriberUri, target.replyUri, target.deadLetterUri, target.policy, filter?.key]);
    const existing = this.#entries.get(id);
    if (existing && existing.specKey === specKey && existing.channel === wanted.channel) return;
    await wanted.channel.subscribe({ id, maxInFlight: this.#o.maxInFlight, maxAttempts: target.policy.retry + 1, ...this.#delivery(target, filter) });
    // Moved to another channel: leave the old one. A replaced channel (same key) keeps the
    // old subscription until it has drained and closed.
    if (existing && existing.channelKey !== wanted.channelKey) await this.#leave(id, existing);
    this.#entries.set(id, { channelKey: wanted.channelKey, channel: wanted.channel, specKey });
  }

  /** Unsubscribes (and purges) every subscription not in `wanted`. */
  async retain(wanted: ReadonlySet<string>): Promise<void> {
    for (const [id, e] of this.#entries) {
      if (wanted.has(id)) continue;
      this.#entries.delete(id);
      await this.#leave(id, e);
    }
  }

  #delivery(target: T, filter: SubscriptionFilter | undefined): Pick<ChannelSubscription, 'handler' | 'accepts' | 'onShed'> {
    const deliver = this.#o.handlers.handlerFor(target);
    const shed = this.#o.handlers.shedHandlerFor(deliver);
    if (!filter) return { handler: deliver, onShed: shed };
    const view = filter.view ?? ((e: SluiceEvent) => e);
    return {
      // An event the filter rejects is finished at once: no HTTP, no retry.
      handler: (stored, context) => {
        const event = view(stored);
        return filter.accepts(event.attributes) ? deliver(event, context) : SKIPPED;
      },
      accepts: (stored) => filter.accepts(view(stored).attributes),
      onShed: (stored, reason) => shed(view(stored), reason),
    };
  }

  async #leave(id: string, e: Entry): Promise<void> {
    if (this.#o.isRetired(e.channel)) return;
    await e.channel.unsubscribe(id, { purge: true }).catch((err: unknown) => this.#o.logger.warn({ err, subscription: id }, 'unsubscribe failed'));
  }
}
