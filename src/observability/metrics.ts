import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { TalliedHistogram } from './tallied-histogram.js';
import type { ChannelStats } from '../channels/channel.js';

/** One live channel as the metrics see it at scrape time. */
export interface ChannelStatsEntry {
  readonly namespace: string;
  readonly name: string;
  /** The backend kind (`InMemoryChannel`, `NatsJetStreamChannel`, `RedisChannel`). */
  readonly kind: string;
  readonly stats: ChannelStats;
}

/**
 * Every Prometheus metric Sluice exports, on one registry per broker instance (tests
 * run several brokers in one process, so nothing is registered globally).
 * Naming follows Prometheus: `sluice_` prefix, the unit in the name (`_seconds`,
 * `_events`), `_total` on counters. Labels: `namespace_name` and `resource` (the channel
 * or broker) as Knative's metrics do, `subscription` (Subscription or Trigger) where a
 * delivery is concerned, `response_code_class` (`2xx`...`5xx`, `error` when no response).
 * README.md "Metrics" lists them all; keep it in step.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly #channelSources = new Set<() => Iterable<ChannelStatsEntry>>();
  /** Tallies counted since the last scrape (see tally()). */
  readonly #dirty: Tally[] = [];
  readonly #flush = (): void => this.flushTallies();

  readonly eventsReceived = new Counter({
    name: 'sluice_events_received_total',
    help: 'Events accepted by ingress (answered 202)',
    labelNames: ['namespace_name', 'resource', 'kind'] as const,
    registers: [this.registry],
    collect: this.#flush,
  });
  readonly eventsRejected = new Counter({
    name: 'sluice_ingress_requests_rejected_total',
    help: 'Ingress requests refused (4xx, 5xx), by HTTP status',
    labelNames: ['namespace_name', 'resource', 'response_code', 'response_code_class'] as const,
    registers: [this.registry],
  });
  readonly deliveries = new Counter({
    name: 'sluice_delivery_attempts_total',
    help: 'Delivery attempts to subscribers, by response code class (2xx, 4xx, 5xx, error)',
    labelNames: ['namespace_name', 'resource', 'subscription', 'response_code_class'] as const,
    registers: [this.registry],
    collect: this.#flush,
  });
  readonly eventsDelivered = new Counter({
    name: 'sluice_events_delivered_total',
    help: 'Events delivered to a subscriber (2xx)',
    labelNames: ['namespace_name', 'resource', 'subscription'] as const,
    registers: [this.registry],
    collect: this.#flush,
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
  // Observed on every attempt: label sets bound once (see TalliedHistogram).
  readonly deliveryLatency = new TalliedHistogram({
    name: 'sluice_delivery_duration_seconds',
    help: 'Time of one delivery attempt to a subscriber, by response code class',
    labelNames: ['namespace_name', 'resource', 'subscription', 'response_code_class'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  // Channel gauges are read from the channels at scrape time (see observeChannels), so a
  // deleted channel disappears from them instead of keeping its last value.
  readonly channelDepth: Gauge<'namespace_name' | 'resource' | 'kind'> = new Gauge({
    name: 'sluice_channel_buffered_events',
    help: 'Events held by a channel, not yet finished by every subscription',
    labelNames: ['namespace_name', 'resource', 'kind'] as const,
    registers: [this.registry],
    collect: () => this.#collectChannels(this.channelDepth, (c) => c.stats.depth),
  });
  readonly channelCapacity: Gauge<'namespace_name' | 'resource' | 'kind'> = new Gauge({
    name: 'sluice_channel_capacity_events',
    help: 'Events a channel holds before it answers 429 (absent when unbounded)',
    labelNames: ['namespace_name', 'resource', 'kind'] as const,
    registers: [this.registry],
    collect: () => this.#collectChannels(this.channelCapacity, (c) => (Number.isFinite(c.stats.capacity) && c.stats.capacity > 0 ? c.stats.capacity : undefined)),
  });
  readonly channelBytes: Gauge<'namespace_name' | 'resource' | 'kind'> = new Gauge({
    name: 'sluice_channel_buffered_bytes',
    help: 'Bytes an in-memory channel holds (an estimate of the memory its events take)',
    labelNames: ['namespace_name', 'resource', 'kind'] as const,
    registers: [this.registry],
    collect: () => this.#collectChannels(this.channelBytes, (c) => c.stats.bytes),
  });
  readonly channelCapacityBytes: Gauge<'namespace_name' | 'resource' | 'kind'> = new Gauge({
    name: 'sluice_channel_capacity_bytes',
    help: 'Bytes an in-memory channel holds before it answers 429',
    labelNames: ['namespace_name', 'resource', 'kind'] as const,
    registers: [this.registry],
    collect: () => this.#collectChannels(this.channelCapacityBytes, (c) => c.stats.capacityBytes),
  });
  readonly subscriptionBacklog: Gauge<'namespace_name' | 'resource' | 'subscription'> = new Gauge({
    name: 'sluice_subscription_backlog_events',
    help: 'Events accepted but not yet finished for a subscription (queued, in flight or waiting to retry)',
    labelNames: ['namespace_name', 'resource', 'subscription'] as const,
    registers: [this.registry],
    collect: () => this.#collectSubscriptions(this.subscriptionBacklog, 'backlog'),
  });
  readonly subscriptionInFlight: Gauge<'namespace_name' | 'resource' | 'subscription'> = new Gauge({
    name: 'sluice_subscription_in_flight_events',
    help: 'Deliveries to a subscription in progress right now',
    labelNames: ['namespace_name', 'resource', 'subscription'] as const,
    registers: [this.registry],
    collect: () => this.#collectSubscriptions(this.subscriptionInFlight, 'inFlight'),
  });

  // Brokers.
  readonly brokerTtlExpired = new Counter({
    name: 'sluice_broker_ttl_expired_total',
    help: 'Events a broker dropped because their loop guard knativebrokerttl ran out (an event loop through replies)',
    labelNames: ['namespace_name', 'resource'] as const,
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

  /**
   * A counter child for one label set, counted in a plain number and handed to
   * prom-client at scrape time: prom-client hashes and validates the labels on every
   * inc(), even through labels(), which cost more per event than the rest of the
   * accounting. For the per-event counters only (their `collect` flushes); keep the
   * tally for as long as its labels are in use.
   */
  tally<T extends string>(counter: Counter<T>, labels: Partial<Record<T, string | number>>): Tally {
    return new Tally(counter as unknown as Counter<string>, labels, this.#dirty);
  }

  /** Hands every pending tally to its counter (scrapes call it; tests reading a counter directly get it through collect). */
  flushTallies(): void {
    const dirty = this.#dirty;
    if (dirty.length === 0) return;
    // Emptied in place: every tally holds this one array.
    const moved = dirty.splice(0, dirty.length);
    for (const t of moved) t.flushInto();
  }

  /**
   * Adds channels the gauges read at scrape time (the runtime's channels, a broker's
   * backing channels). Returns a function that removes the source again.
   */
  observeChannels(source: () => Iterable<ChannelStatsEntry>): () => void {
    this.#channelSources.add(source);
    return () => this.#channelSources.delete(source);
  }

  #collectChannels(gauge: Gauge<'namespace_name' | 'resource' | 'kind'>, value: (c: ChannelStatsEntry) => number | undefined): void {
    gauge.reset();
    for (const c of this.#entries()) {
      const v = value(c);
      if (v !== undefined) gauge.set({ namespace_name: c.namespace, resource: c.name, kind: c.kind }, v);
    }
  }

  #collectSubscriptions(gauge: Gauge<'namespace_name' | 'resource' | 'subscription'>, field: 'backlog' | 'inFlight'): void {
    gauge.reset();
    for (const c of this.#entries()) {
      for (const [id, sub] of Object.entries(c.stats.subscriptions)) {
        // Subscription ids are `namespace/name`; the namespace is already a label.
        const subscription = id.startsWith(c.namespace + '/') ? id.slice(c.namespace.length + 1) : id;
        gauge.set({ namespace_name: c.namespace, resource: c.name, subscription }, sub[field]);
      }
    }
  }

  #entries(): ChannelStatsEntry[] {
    const out: ChannelStatsEntry[] = [];
    for (const source of this.#channelSources) {
      try {
        out.push(...source());
      } catch {
        // A scrape must never fail because one source could not report.
      }
    }
    return out;
  }
}

/**
 * One label set of a counter, counted on the hot path with a number increment. It joins
 * its Metrics' list of pending tallies on the first count after a scrape, so a scrape
 * touches only tallies that moved, and a tally nobody counts any more is not kept.
 */
export class Tally {
  #pending = 0;
  #listed = false;
  readonly #list: Tally[];
  constructor(
    readonly counter: Counter<string>,
    readonly labels: Partial<Record<string, string | number>>,
    list: Tally[],
  ) {
    this.#list = list;
  }

  inc(n = 1): void {
    this.#pending += n;
    if (!this.#listed) {
      this.#listed = true;
      this.#list.push(this);
    }
  }

  /** @internal Metrics.flushTallies */
  flushInto(): void {
    const n = this.#pending;
    this.#pending = 0;
    this.#listed = false;
    if (n > 0) this.counter.inc(this.labels, n);
  }
}

/** `2xx`, `4xx`, `5xx` or `error` (no response). */
export function responseCodeClass(status: number | undefined): string {
  if (!status) return 'error';
  return `${Math.floor(status / 100)}xx`;
}
