import type { SluiceEvent } from '../events/types.js';

// Knative's broker extensions (pkg/broker): every pass through a broker's ingress stamps
// `knativearrivaltime`, and `knativebrokerttl` guards against reply loops. The ingress
// sets the TTL to 255 on an event without one and decrements it on an event that has one
// (a reply re-entering); at 0 the event is dropped. The TTL is taken off before filtering
// and delivery (subscribers never see it) and put back, unchanged, on the subscriber's
// reply, so each loop through a trigger costs one.

export const TTL_ATTRIBUTE = 'knativebrokerttl';
export const ARRIVAL_TIME_ATTRIBUTE = 'knativearrivaltime';
export const DEFAULT_BROKER_TTL = 255;

const INTEGER = /^[+-]?\d{1,10}$/;

/** The TTL an event enters the broker with, or 0 when it must be dropped. */
export function ingressTtl(raw: string | undefined): number {
  // Knative defaults a TTL it cannot read as an integer, as if it were absent.
  if (raw === undefined || !INTEGER.test(raw)) return DEFAULT_BROKER_TTL;
  const n = Number(raw);
  if (n > 2 ** 31 - 1) return DEFAULT_BROKER_TTL;
  return Math.max(0, n - 1);
}

/** The event as stored in the broker's channel: arrival time and TTL set. */
export function stampForBroker(event: SluiceEvent, ttl: number, arrivalTime: string): SluiceEvent {
  const attributes = { ...event.attributes, [ARRIVAL_TIME_ATTRIBUTE]: arrivalTime, [TTL_ATTRIBUTE]: String(ttl) };
  return event.data === undefined ? { attributes } : { attributes, data: event.data };
}

/** What filters and the subscriber see of a stored event, and the TTL it carried. */
interface DeliveryView {
  readonly event: SluiceEvent;
  readonly ttl: number;
}

// Every trigger of a broker gets the same event object from an in-memory channel: strip
// the TTL once per event, not once per trigger. Weak, so nothing outlives the event.
const views = new WeakMap<SluiceEvent, DeliveryView>();
const ttlOfView = new WeakMap<SluiceEvent, number>();

/** The stored event without its TTL (cached per event object). */
export function deliveryView(stored: SluiceEvent): SluiceEvent {
  let view = views.get(stored);
  if (!view) {
    const { [TTL_ATTRIBUTE]: raw, ...attributes } = stored.attributes;
    // An event in the channel always has a TTL (the ingress set it); a missing or bad one is
    // treated as a fresh event rather than dropped.
    const ttl = raw !== undefined && INTEGER.test(raw) ? Number(raw) : DEFAULT_BROKER_TTL;
    const event = stored.data === undefined ? { attributes } : { attributes, data: stored.data };
    view = { event, ttl };
    views.set(stored, view);
    ttlOfView.set(event, ttl);
  }
  return view.event;
}

/**
 * The reply of a subscriber, ready to re-enter the broker: it carries the TTL of the event
 * that caused it. Returns undefined when the ingress would drop it anyway (TTL used up).
 */
export function replyWithTtl(reply: SluiceEvent, delivered: SluiceEvent): SluiceEvent | undefined {
  const ttl = ttlOfView.get(delivered) ?? DEFAULT_BROKER_TTL;
  if (ttl <= 1) return undefined;
  const attributes = { ...reply.attributes, [TTL_ATTRIBUTE]: String(ttl) };
  return reply.data === undefined ? { attributes } : { attributes, data: reply.data };
}
