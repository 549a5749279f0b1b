import type { DeliveryOutcome, DeliveryTarget, OutcomeInfo } from '../dispatcher/types.js';
import { RingBuffer } from './ring-buffer.js';

/** One delivery outcome as `GET /api/v1/deliveries` shows it. */
export interface DeliveryRecordView {
  time: string;
  namespace: string;
  /** The channel or broker. */
  resource: string;
  /** The Subscription or Trigger. */
  subscription: string;
  eventId: string;
  eventType: string;
  eventSource: string;
  outcome: DeliveryOutcome;
  attempts: number;
  /** Last HTTP status; null when no response arrived (connection refused, timeout). */
  statusCode: number | null;
  /** Duration of the last attempt to the subscriber; null when none was made. */
  durationMs: number | null;
}

export interface DeliveryQuery {
  namespace?: string | undefined;
  resource?: string | undefined;
  subscription?: string | undefined;
  limit: number;
}

/**
 * What the hot path stores: references and numbers only. The ISO time and the view
 * object are built when someone reads the log, not per delivery.
 */
interface DeliveryRecord {
  at: number;
  target: DeliveryTarget;
  id: string;
  type: string;
  source: string;
  outcome: DeliveryOutcome;
  attempts: number;
  statusCode: number | undefined;
  durationMs: number | undefined;
}

export interface DeliveryLogOptions {
  /** Recent delivery outcomes kept (default 1000). */
  capacity?: number;
}

/** Bounded history of delivery outcomes, fed by the dispatcher's DeliveryObserver. */
export class DeliveryLog {
  readonly #deliveries: RingBuffer<DeliveryRecord>;

  constructor(options: DeliveryLogOptions = {}) {
    this.#deliveries = new RingBuffer(options.capacity ?? 1000);
  }

  get capacity(): number {
    return this.#deliveries.capacity;
  }

  record(info: OutcomeInfo, durationMs: number | undefined, at: number): void {
    const a = info.event.attributes;
    const rec: DeliveryRecord = {
      at,
      target: info.target,
      id: a.id ?? '',
      type: a.type ?? '',
      source: a.source ?? '',
      outcome: info.outcome,
      attempts: info.attempts,
      statusCode: info.statusCode,
      durationMs,
    };
    this.#deliveries.push(rec);
  }

  deliveries(q: DeliveryQuery): DeliveryRecordView[] {
    return this.#deliveries.newest(q.limit, matcher(q)).map(view);
  }
}

function matcher(q: DeliveryQuery): (r: DeliveryRecord) => boolean {
  return (r) =>
    (q.namespace === undefined || r.target.namespace === q.namespace) &&
    (q.resource === undefined || r.target.resource === q.resource) &&
    (q.subscription === undefined || r.target.subscription === q.subscription);
}

function view(r: DeliveryRecord): DeliveryRecordView {
  return {
    time: new Date(r.at).toISOString(),
    namespace: r.target.namespace,
    resource: r.target.resource,
    subscription: r.target.subscription,
    eventId: r.id,
    eventType: r.type,
    eventSource: r.source,
    outcome: r.outcome,
    attempts: r.attempts,
    statusCode: r.statusCode ?? null,
    durationMs: r.durationMs === undefined ? null : Math.round(r.durationMs * 100) / 100,
  };
}
