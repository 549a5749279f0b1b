import type { Logger } from 'pino';
import type { DeliveryObserver, DeliveryTarget, OutcomeInfo } from '../dispatcher/types.js';
import type { SluiceEvent } from '../events/types.js';
import { DeliveryLog, type DeliveryLogOptions } from './delivery-log.js';
import type { TappedKind } from './event-view.js';
import { LiveStream, type LiveStreamOptions } from './live-stream.js';
import { RateTracker } from './rate-counter.js';

export interface InspectorOptions {
  logger: Logger;
  stream?: Omit<LiveStreamOptions, 'logger'>;
  deliveries?: DeliveryLogOptions;
  /** Seconds the events/s figures average over (default 10). */
  rateWindowSeconds?: number;
  /** How often the rate counters are sampled (default 1000 ms); 0: only by `sampleRates()` (tests). */
  rateSampleMs?: number;
  /** Epoch milliseconds; tests pass a clock they control. */
  clock?: () => number;
}

/** Where events were accepted (an ingress target: channel or broker). */
export interface TapTarget {
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
}

export type RateKind = 'channel' | 'broker' | 'subscription' | 'trigger';

/** Events/s of one channel, broker, subscription or trigger, as `GET /api/v1/rates` shows it. */
export interface RateView {
  kind: RateKind;
  namespace: string;
  name: string;
  /** For a subscription or trigger: its channel or broker. */
  resource?: string;
  /** Accepted (channel, broker) or finished deliveries (subscription, trigger) per second over the window. */
  eventsPerSecond: number;
  /** The same events counted since Sluice started. */
  total: number;
}

type AcceptedKey = { kind: TappedKind; namespace: string; name: string };
type DeliveryKey = { namespace: string; resource: string; subscription: string };

/** Only channels and brokers reach the accepted tracker (onAccepted returns early for the rest). */
function describeAccepted(t: TapTarget): { id: string; key: AcceptedKey } {
  const kind = t.kind as TappedKind;
  return { id: `${kind}/${t.namespace}/${t.name}`, key: { kind, namespace: t.namespace, name: t.name } };
}

function describeFinished(t: DeliveryTarget): { id: string; key: DeliveryKey } {
  return { id: `${t.namespace}/${t.resource}/${t.subscription}`, key: { namespace: t.namespace, resource: t.resource, subscription: t.subscription } };
}

/**
 * The event inspector's data side: taps the events the ingress accepts (live stream,
 * events/s) and observes the dispatcher's outcomes (recent deliveries, dead letters,
 * events/s per subscription). Everything it keeps is bounded; the hot-path calls only
 * count and append.
 */
export class Inspector implements DeliveryObserver {
  readonly stream: LiveStream;
  readonly deliveries: DeliveryLog;
  readonly rateWindowSeconds: number;
  readonly #clock: () => number;
  readonly #accepted: RateTracker<TapTarget, AcceptedKey>;
  readonly #finished: RateTracker<DeliveryTarget, DeliveryKey>;

  constructor(options: InspectorOptions) {
    this.stream = new LiveStream({ logger: options.logger, ...options.stream });
    this.deliveries = new DeliveryLog(options.deliveries);
    this.rateWindowSeconds = options.rateWindowSeconds ?? 10;
    this.#clock = options.clock ?? Date.now;
    const rateOptions = { windowSeconds: this.rateWindowSeconds, clock: this.#clock, sampleMs: options.rateSampleMs ?? 1000 };
    this.#accepted = new RateTracker({ ...rateOptions, describe: describeAccepted });
    this.#finished = new RateTracker({ ...rateOptions, describe: describeFinished });
  }

  /** The ingress calls this once a channel or broker has taken `events`. Never throws. */
  onAccepted(target: TapTarget, events: readonly SluiceEvent[]): void {
    const kind = target.kind;
    if ((kind !== 'channel' && kind !== 'broker') || events.length === 0) return;
    this.#accepted.add(target, events.length);
    if (this.stream.clientCount === 0) return;
    this.stream.publish(kind, target.namespace, target.name, events, new Date(this.#clock()).toISOString());
  }

  onOutcome(info: OutcomeInfo): void {
    const t = info.target;
    this.deliveries.record(info, info.durationMs, this.#clock());
    if (info.outcome === 'retrying') return;
    this.#finished.add(t, 1);
  }

  /** Snapshots the rate counters (a timer does it every `rateSampleMs`; tests call it by hand). */
  sampleRates(): void {
    this.#accepted.sample();
    this.#finished.sample();
  }

  /** Stops the rate timers and ends the live streams. The inspector stays usable. */
  close(): void {
    this.#accepted.close();
    this.#finished.close();
    this.stream.closeAll();
  }

  /**
   * Events/s per channel, broker, subscription and trigger. The dispatcher does not know
   * whether a delivery target is a Subscription or a Trigger: `isTrigger` decides.
   */
  rates(isTrigger: (namespace: string, resource: string, name: string) => boolean = () => false): RateView[] {
    const out: RateView[] = [];
    for (const { key, perSecond, total } of this.#accepted.entries()) {
      out.push({ kind: key.kind, namespace: key.namespace, name: key.name, eventsPerSecond: round(perSecond), total });
    }
    for (const { key, perSecond, total } of this.#finished.entries()) {
      const kind = isTrigger(key.namespace, key.resource, key.subscription) ? 'trigger' : 'subscription';
      out.push({ kind, namespace: key.namespace, name: key.subscription, resource: key.resource, eventsPerSecond: round(perSecond), total });
    }
    return out;
  }
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
