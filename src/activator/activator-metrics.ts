import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

// `resource` is the Service (or Deployment), as every Sluice metric names its resource.
const LABELS = ['namespace_name', 'resource'] as const;

/**
 * The activator's Prometheus metrics, registered on the broker's registry (or any given
 * one). Metrics are looked up first, so two activators on one registry share them
 * instead of failing with "already registered".
 */
export class ActivatorMetrics {
  readonly coldStarts: Counter<'namespace_name' | 'resource'>;
  readonly coldStartDuration: Histogram<'namespace_name' | 'resource'>;
  readonly replicas: Gauge<'namespace_name' | 'resource' | 'state'>;
  readonly queued: Gauge<'namespace_name' | 'resource'>;
  readonly inFlight: Gauge<'namespace_name' | 'resource'>;
  readonly rejected: Counter<'namespace_name' | 'resource' | 'reason'>;

  constructor(registry: Registry) {
    const existing = <T>(name: string) => registry.getSingleMetric(name) as T | undefined;
    this.coldStarts =
      existing('sluice_activator_cold_starts_total') ??
      new Counter({ name: 'sluice_activator_cold_starts_total', help: 'Services woken from zero replicas by a request', labelNames: LABELS, registers: [registry] });
    this.coldStartDuration =
      existing('sluice_activator_cold_start_duration_seconds') ??
      new Histogram({
        name: 'sluice_activator_cold_start_duration_seconds',
        help: 'Time from the first held request to the first ready replica',
        labelNames: LABELS,
        buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300],
        registers: [registry],
      });
    this.replicas =
      existing('sluice_activator_replicas') ??
      new Gauge({ name: 'sluice_activator_replicas', help: 'Replicas per service, by state (desired, ready)', labelNames: [...LABELS, 'state'] as const, registers: [registry] });
    this.queued =
      existing('sluice_activator_queued_requests') ??
      new Gauge({ name: 'sluice_activator_queued_requests', help: 'Requests held while waiting for a ready replica with capacity', labelNames: LABELS, registers: [registry] });
    this.inFlight =
      existing('sluice_activator_in_flight_requests') ??
      new Gauge({ name: 'sluice_activator_in_flight_requests', help: 'Requests being served by a replica', labelNames: LABELS, registers: [registry] });
    this.rejected =
      existing('sluice_activator_rejected_total') ??
      new Counter({ name: 'sluice_activator_rejected_total', help: 'Held requests answered 503 (queue_full, timeout)', labelNames: [...LABELS, 'reason'] as const, registers: [registry] });
  }
}
