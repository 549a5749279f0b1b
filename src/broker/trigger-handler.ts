import type { Logger } from 'pino';
import type { ChannelSubscription, DeliveryHandler, DeliveryResult } from '../channels/channel.js';
import type { DeliveryTarget, Dispatcher } from '../dispatcher/index.js';
import type { SluiceEvent } from '../events/types.js';
import type { Metrics } from '../observability/metrics.js';
import { TTL_ATTRIBUTE, deliveryView, replyWithTtl } from './broker-ttl.js';
import type { CompiledFilter } from './filters/index.js';

const SKIPPED: Promise<DeliveryResult> = Promise.resolve(Object.freeze({ outcome: 'done' as const }));

/**
 * One Trigger's handler on the broker's channel: an event its filter rejects is finished
 * at once (no HTTP, no retry); a matching one goes to the dispatcher's handler for the
 * Trigger's subscriber, without the broker's TTL, as Knative's filter delivers it.
 */
export function triggerHandler(filter: CompiledFilter, deliver: DeliveryHandler): DeliveryHandler {
  return (stored, context) => {
    const event = deliveryView(stored);
    if (!filter(event.attributes)) return SKIPPED;
    return deliver(event, context);
  };
}

/**
 * A Trigger's part of its subscription on the broker's channel: the handler, the filter
 * as a pre-filter (an in-memory channel then queues only matching events for it, so a
 * stuck Trigger's backlog holds nothing it would skip) and what happens to events shed
 * for it (the dispatcher dead-letters them as Knative's filter would deliver them).
 */
export function triggerDelivery(
  filter: CompiledFilter,
  dispatcher: Pick<Dispatcher, 'handlerFor' | 'shedHandlerFor'>,
  target: DeliveryTarget,
): Pick<ChannelSubscription, 'handler' | 'accepts' | 'onShed'> {
  const deliver = dispatcher.handlerFor(target);
  const shed = dispatcher.shedHandlerFor(deliver);
  return {
    handler: triggerHandler(filter, deliver),
    accepts: (stored) => filter(deliveryView(stored).attributes),
    onShed: (stored, reason) => shed(deliveryView(stored), reason),
  };
}

/**
 * The dispatcher's `prepareReply` for a Trigger: the reply re-enters the broker with the
 * TTL of the event that caused it; a reply whose TTL is used up is dropped here, with a
 * log line and a metric, instead of being refused by the ingress.
 */
export function triggerReplyPreparer(
  labels: { namespace_name: string; resource: string },
  trigger: string,
  metrics: Metrics,
  log: Logger,
): (reply: SluiceEvent, original: SluiceEvent) => SluiceEvent | undefined {
  return (reply, original) => {
    const out = replyWithTtl(reply, original);
    if (!out) {
      metrics.brokerTtlExpired.inc(labels);
      log.warn(
        { broker: `${labels.namespace_name}/${labels.resource}`, trigger, eventId: original.attributes.id, replyId: reply.attributes.id, replyType: reply.attributes.type },
        `reply dropped: its ${TTL_ATTRIBUTE} ran out (an event loop through this broker?)`,
      );
    }
    return out;
  };
}
