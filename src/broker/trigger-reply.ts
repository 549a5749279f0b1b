import type { Logger } from 'pino';
import type { SluiceEvent } from '../events/types.js';
import type { Metrics } from '../observability/metrics.js';
import { TTL_ATTRIBUTE, replyWithTtl } from './broker-ttl.js';

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
