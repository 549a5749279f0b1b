import type { Logger } from 'pino';
import type { Channel } from '../channels/channel.js';
import { EventTtlExpiredError } from '../errors.js';
import type { SluiceEvent } from '../events/types.js';
import type { Metrics } from '../observability/metrics.js';
import type { IngressTarget } from '../runtime/ingress-targets.js';
import { TTL_ATTRIBUTE, ingressTtl, stampForBroker } from './broker-ttl.js';

/** A broker's address: Knative's broker-ingress path `/<namespace>/<broker>` below the public URL. */
export function brokerUrl(publicUrl: string, namespace: string, name: string): string {
  return `${publicUrl}/${namespace}/${name}`;
}

/**
 * A broker's public address (`POST /<namespace>/<broker>`): stamps Knative's broker
 * extensions on each event and stores it in the backing channel. The answer (202) waits
 * for the channel, so a durable backing acknowledges before the client hears back.
 */
export class BrokerIngress implements IngressTarget {
  readonly kind = 'broker' as const;
  readonly #channel: Channel;
  readonly #metrics: Metrics;
  readonly #log: Logger;
  readonly #labels: { namespace_name: string; resource: string };

  constructor(
    readonly namespace: string,
    readonly name: string,
    channel: Channel,
    options: { metrics: Metrics; logger: Logger },
  ) {
    this.#channel = channel;
    this.#metrics = options.metrics;
    this.#log = options.logger;
    this.#labels = { namespace_name: namespace, resource: name };
  }

  notReadyReason(): string | undefined {
    if (this.#channel.ready()) return undefined;
    return this.#channel.notReadyReason?.() ?? `the broker's ${this.#channel.kind} backend is not connected`;
  }

  accept(events: readonly SluiceEvent[]): Promise<void> {
    const arrival = new Date().toISOString();
    if (events.length === 1) {
      const stored = this.#stamp(events[0]!, arrival);
      if (!stored) return Promise.reject(new EventTtlExpiredError(`event dropped: its ${TTL_ATTRIBUTE} ran out (an event loop through this broker?)`));
      return this.#channel.publish(stored);
    }
    // In a batch, an event whose TTL ran out is dropped (logged and counted) and the rest stored.
    const stored: SluiceEvent[] = [];
    for (const e of events) {
      const s = this.#stamp(e, arrival);
      if (s) stored.push(s);
    }
    if (stored.length === 0) {
      if (events.length === 0) return Promise.resolve();
      return Promise.reject(new EventTtlExpiredError(`every event of the batch was dropped: their ${TTL_ATTRIBUTE} ran out`));
    }
    if (this.#channel.publishBatch) return this.#channel.publishBatch(stored);
    return Promise.all(stored.map((e) => this.#channel.publish(e))).then(() => undefined);
  }

  #stamp(event: SluiceEvent, arrival: string): SluiceEvent | undefined {
    const ttl = ingressTtl(event.attributes[TTL_ATTRIBUTE]);
    if (ttl <= 0) {
      this.#metrics.brokerTtlExpired.inc(this.#labels);
      this.#log.warn(
        { broker: `${this.namespace}/${this.name}`, eventId: event.attributes.id, eventSource: event.attributes.source, eventType: event.attributes.type },
        `event dropped: its ${TTL_ATTRIBUTE} ran out (an event loop through this broker?)`,
      );
      return undefined;
    }
    return stampForBroker(event, ttl, arrival);
  }
}
