import type { SluiceEvent } from '../events/types.js';
import type { DeliveryPolicy } from '../subscriptions/delivery-spec.js';

/** A replica granted for one delivery attempt; `release()` once the attempt finished. */
export interface EndpointLease {
  readonly url: string;
  release(): void;
}

/**
 * Where deliveries to a scaled-to-zero service go (the activator). `acquire` may hold
 * while the service wakes; that wait is neither an attempt nor part of its timeout.
 * Rejecting (queue full, wake timeout) counts as a retryable 503.
 */
export interface EndpointResolver {
  acquire(signal: AbortSignal): Promise<EndpointLease>;
}

/** Everything the dispatcher needs to deliver one subscription's events. */
export interface DeliveryTarget {
  readonly namespace: string;
  /** The channel or broker name (metrics label `resource`, logs). */
  readonly resource: string;
  /** The Subscription (or Trigger) name (metrics label `subscription`). */
  readonly subscription: string;
  readonly subscriberUri: string;
  /** When set, each attempt POSTs to the url the resolver grants instead of subscriberUri. */
  readonly endpoint?: EndpointResolver | undefined;
  readonly replyUri?: string | undefined;
  readonly deadLetterUri?: string | undefined;
  readonly policy: DeliveryPolicy;
  /**
   * Adjusts a reply before it is sent on (a broker copies its loop guard
   * `knativebrokerttl` from the original); return undefined to drop the reply.
   */
  readonly prepareReply?: ((reply: SluiceEvent, original: SluiceEvent) => SluiceEvent | undefined) | undefined;
}

/** The result of one HTTP POST of an event. Never an exception: failures are data. */
export interface SendResult {
  /** True on 2xx. */
  readonly ok: boolean;
  /** HTTP status; undefined when no response arrived (transport error, timeout). */
  readonly statusCode: number | undefined;
  /** Response headers (lower-case names); empty without a response. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The response body, read up to the size asked for (see `bodyTruncated`). */
  readonly body: Buffer;
  /** True when the body was longer than what was kept. */
  readonly bodyTruncated: boolean;
  /** Why no response arrived, or why reading it failed. */
  readonly error?: Error | undefined;
  readonly durationMs: number;
  /** The `traceparent` header this request went out with (its hop in the event's trace). */
  readonly traceparent?: string | undefined;
}

export interface SendOptions {
  /** Whole-request timeout (headers and body); defaults to the dispatcher's default. */
  readonly timeoutMs?: number;
  /** Extra request headers (lower-case names); CloudEvent headers win over them. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Aborts the request (the dispatcher's close() aborts it too). */
  readonly signal?: AbortSignal;
  /** Response body bytes to keep (default 1024, enough for `knativeerrordata`). */
  readonly maxBodyBytes?: number;
}

export type DeliveryOutcome = 'delivered' | 'retrying' | 'dead-lettered' | 'failed';

export interface AttemptInfo {
  readonly target: DeliveryTarget;
  readonly event: SluiceEvent;
  /** 1-based attempt number, as the channel counts it. */
  readonly attempt: number;
  readonly statusCode?: number | undefined;
  readonly error?: Error | undefined;
  readonly durationMs: number;
}

export interface OutcomeInfo {
  readonly target: DeliveryTarget;
  readonly event: SluiceEvent;
  readonly outcome: DeliveryOutcome;
  /** Attempts to the subscriber so far (the current attempt number). */
  readonly attempts: number;
  /** Last status from the subscriber (or reply sink, when the reply failed). */
  readonly statusCode?: number | undefined;
  /** With `dead-lettered`: the event as sent to the dead-letter sink, `knativeerror*` extensions included. */
  readonly deadLetter?: SluiceEvent | undefined;
  /** How long the last attempt to the subscriber took; undefined when none was made. */
  readonly durationMs?: number | undefined;
}

/**
 * Watches deliveries (the event inspector). Called synchronously on the delivery path,
 * so keep it cheap; whatever it throws is logged and ignored.
 */
export interface DeliveryObserver {
  onAttempt?(info: AttemptInfo): void;
  onOutcome?(info: OutcomeInfo): void;
}

/** How an event stored in process ended: the HTTP status the ingress would have answered. */
export interface LocalOutcome {
  readonly statusCode: number;
  readonly error?: Error | undefined;
}

/** Stores one event at one of Sluice's own addresses; `headers` carry the hop's trace context. */
export type LocalSink = (event: SluiceEvent, headers: Readonly<Record<string, string>>) => Promise<LocalOutcome>;

/** The in-process sink for a URL that is one of Sluice's own addresses; undefined for any other URL. */
export type LocalDelivery = (url: string) => LocalSink | undefined;
