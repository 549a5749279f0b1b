import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Every Prometheus metric Sluice exports, on one registry per broker instance (tests
 * run several brokers in one process, so nothing is registered globally).
 * Labels: `namespace_name` and `resource` (channel/broker name) as Knative's metrics do,
 * plus `subscription` where a delivery is concerned.
 */
export class Metrics {
  readonly registry = new Registry();

  readonly eventsReceived = new Counter({
    name: 'sluice_events_received_total',
    help: 'Events accepted by ingress (answered 202)',
    labelNames: ['namespace_name', 'resource', 'kind'] as const,
    registers: [this.registry],
  });
  readonly eventsRejected = new Counter({
    name: 'sluice_events_rejected_total',
    help: 'Ingress requests refused, by HTTP status',
    labelNames: ['namespace_name', 'resource', 'response_code'] as const,
    registers: [this.registry],
  });
  readonly deliveries = new Counter({
    name: 'sluice_deliveries_total',
    help: 'Delivery attempts to subscribers, by response code class (2xx, 4xx, 5xx, error)',
    labelNames: ['namespace_name', 'resource', 'subscription', 'response_code_class'] as const,
    registers: [this.registry],
  });
  readonly eventsDelivered = new Counter({
    name: 'sluice_events_delivered_total',
    help: 'Events delivered to a subscriber (2xx)',
    labelNames: ['namespace_name', 'resource', 'subscription'] as const,
    registers: [this.registry],
  });
  readonly eventsRetried = new Counter({
    name: 'sluice_events_retried_total',
    help: 'Delivery attempts that failed and were scheduled again',
    labelNames: ['namespace_name', 'resource', 'subscription'] as const,
    registers: [this.registry],
  });
  readonly eventsDeadLettered = new Counter({
    name: 'sluice_events_dead_lettered_total',
    help: 'Events handed to the dead-letter sink after the last attempt',
    labelNames: ['namespace_name', 'resource', 'subscription'] as const,
    registers: [this.registry],
  });
  readonly eventsFailed = new Counter({
    name: 'sluice_events_failed_total',
    help: 'Events that could not be delivered nor dead-lettered (dropped with a log line)',
    labelNames: ['namespace_name', 'resource', 'subscription', 'reason'] as const,
    registers: [this.registry],
  });
  readonly repliesSent = new Counter({
    name: 'sluice_replies_total',
    help: 'Reply events received from subscribers, by outcome (sent, dropped, failed)',
    labelNames: ['namespace_name', 'resource', 'subscription', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly deliveryLatency = new Histogram({
    name: 'sluice_delivery_duration_seconds',
    help: 'Time of one delivery attempt to a subscriber',
    labelNames: ['namespace_name', 'resource', 'subscription'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly channelDepth = new Gauge({
    name: 'sluice_channel_buffer_depth',
    help: 'Events held by a channel (not yet finished by every subscription)',
    labelNames: ['namespace_name', 'resource', 'kind'] as const,
    registers: [this.registry],
  });
  readonly subscriptionBacklog = new Gauge({
    name: 'sluice_subscription_backlog',
    help: 'Events accepted but not yet finished for a subscription',
    labelNames: ['namespace_name', 'resource', 'subscription'] as const,
    registers: [this.registry],
  });

  // Durable channel backends (NatsJetStreamChannel, RedisChannel).
  readonly channelPublishLatency = new Histogram({
    name: 'sluice_channel_publish_duration_seconds',
    help: 'Time until a durable channel backend acknowledged a publish',
    labelNames: ['namespace_name', 'resource', 'kind'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
    registers: [this.registry],
  });
  readonly channelPublishFailures = new Counter({
    name: 'sluice_channel_publish_failures_total',
    help: 'Publishes a durable channel backend refused or could not confirm, by reason (unavailable, full, too_large)',
    labelNames: ['namespace_name', 'resource', 'kind', 'reason'] as const,
    registers: [this.registry],
  });
  readonly channelRedeliveries = new Counter({
    name: 'sluice_channel_redeliveries_total',
    help: 'Events a durable channel handed to a subscription again (retries and redeliveries after a lost ack)',
    labelNames: ['namespace_name', 'resource', 'subscription'] as const,
    registers: [this.registry],
  });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'sluice_process_' });
  }
}

/** `2xx`, `4xx`, `5xx` or `error` (no response). */
export function responseCodeClass(status: number | undefined): string {
  if (!status) return 'error';
  return `${Math.floor(status / 100)}xx`;
}
