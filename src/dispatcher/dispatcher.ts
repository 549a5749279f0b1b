import { setMaxListeners } from 'node:events';
import { availableParallelism } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { DeliveryContext, DeliveryHandler, DeliveryResult, ShedReason } from '../channels/channel.js';
import { InvalidEventError, InvalidOptionError, UnavailableError } from '../errors.js';
import { parseHttpResponseEvent, withAttributes } from '../events/index.js';
import type { SluiceEvent } from '../events/types.js';
import { responseCodeClass, type Metrics } from '../observability/metrics.js';
import { TRACING_OFF, type DeliveryDestination, type Tracing } from '../observability/tracing.js';
import { MAX_RETRY_DELAY_MS, retryDelayMs } from '../subscriptions/backoff.js';
import type { DeliveryPolicy } from '../subscriptions/delivery-spec.js';
import { MAX_ERROR_DATA_BYTES, deadLetterEvent } from './dead-letter-event.js';
import { EMPTY, isRetryableStatus, postEvent, type PostOptions } from './http-post.js';
import { InFlightAttempts } from './in-flight-attempts.js';
import type { AttemptInfo, DeliveryObserver, DeliveryTarget, EndpointLease, LocalDelivery, OutcomeInfo, SendOptions, SendResult } from './types.js';
import { InProcessTransport } from './in-process-transport.js';
import { deliverLocally } from './local-delivery.js';
import type { BodyLimit } from './post-handler.js';
import type { PoolHandle, PostTransport } from './post-transport.js';
import { ThreadTransport } from './thread-transport.js';
import { OverflowReporter } from './overflow-reporter.js';
import { validateTarget } from './validate-target.js';

export interface DispatcherOptions {
  logger: Logger;
  metrics: Metrics;
  /** Per-attempt timeout when a policy sets none (default 30 s). */
  defaultTimeoutMs?: number;
  /**
   * Keep-alive connections per origin, for each subscription's own pool (default 128).
   * Attempts beyond it queue inside the pool, and that wait counts against their
   * timeout, so keep it at or above the channels' in-flight limit for one subscriber
   * (the runtime's default is 100).
   */
  connectionsPerOrigin?: number;
  /** Largest reply body read from a 200 (default 1 MiB, the ingress default); larger replies are ignored. */
  maxReplyBytes?: number;
  observer?: DeliveryObserver;
  /** Spans and W3C headers for every attempt (default: ids propagated, nothing recorded). */
  tracing?: Tracing;
  /**
   * Sluice's own addresses (its channels, brokers, displays): for such a URL, returns the
   * function that stores an event there in process, so replies, chained channels and
   * sources never POST to their own server over loopback (and need no credential to pass
   * its ingress tokens). Undefined for any other URL, which is reached over HTTP.
   */
  local?: LocalDelivery;
  /**
   * POST to subscribers from a delivery thread of their own (default: when the machine
   * has at least DELIVERY_THREAD_MIN_CORES cores), so the outgoing hop runs beside
   * ingress instead of taking turns with it on the main thread.
   */
  deliveryThread?: boolean;
}

export const DEFAULT_DELIVERY_TIMEOUT_MS = 30_000;

/**
 * Cores from which deliveries get a thread by default. The thread costs CPU of its own
 * (a second event loop and heap): it pays where Sluice has a core to spare, and on two
 * cores shared with its producers and subscribers it did not. Measured on 2 cores with
 * the load generator and the sink beside Sluice, in alternating rounds of one run: the
 * same events/s with and without it, 5-10% less CPU per event and a client p99 1-3 ms
 * lower without it (README, Benchmarks).
 */
export const DELIVERY_THREAD_MIN_CORES = 3;
const DEFAULT_CONNECTIONS_PER_ORIGIN = 128;
const DEFAULT_MAX_REPLY_BYTES = 1024 * 1024;
/** A channel still calling a closed dispatcher gets the event back after this pause, not in a hot loop. */
const CLOSED_RETRY_DELAY_MS = 1000;
const PREFER_REPLY: Readonly<Record<string, string>> = Object.freeze({ prefer: 'reply' });
const DONE: DeliveryResult = Object.freeze({ outcome: 'done' });
const RETRY_WHEN_CLOSED: DeliveryResult = Object.freeze({ outcome: 'retry', delayMs: CLOSED_RETRY_DELAY_MS });
/** knativeerrordata of an event shed because its subscription fell behind (it never got an attempt). */
const SHED_BODY = Buffer.from('sluice: the subscription fell too far behind; its channel shed this event to keep taking new ones');

type Labels = { namespace_name: string; resource: string; subscription: string };

/** A target with what every delivery to it reuses. */
interface Bound {
  readonly target: DeliveryTarget;
  readonly labels: Labels;
  readonly log: Logger;
  /** prom-client children bound once: labelling per delivery (validate + hash) was a measurable cost. */
  readonly delivered: { inc(): void };
  /**
   * This subscription's own connection pool: a subscriber that hangs holds only its own
   * connections, never those a healthy subscription on the same host:port needs.
   */
  readonly pool: PoolHandle;
  /** Events this subscription's channel shed: dead-lettered (bounded) or logged and counted. */
  readonly overflow: OverflowReporter;
  readonly byClass: Map<string, { attempts: { inc(): void }; latency: { observe(v: number): void } }>;
}

/**
 * Delivers events to subscribers with Knative's data-plane contract. Each handler call
 * makes one attempt to the subscriber and tells the channel what next: done (delivered,
 * dead-lettered or dropped) or retry after a delay. The channel owns waiting and
 * redelivery, so a durable backend keeps pending retries across restarts. Replies and
 * dead letters are retried inline (with the same policy) because they belong to the
 * attempt that produced them. Handlers never throw.
 */
export class Dispatcher {
  readonly #log: Logger;
  readonly #metrics: Metrics;
  readonly #observer: DeliveryObserver | undefined;
  readonly #tracing: Tracing;
  readonly #local: LocalDelivery | undefined;
  /** Where the HTTP POSTs run: this thread or a delivery thread. */
  readonly #transport: PostTransport;
  readonly #defaultTimeoutMs: number;
  readonly #maxReplyBytes: number;
  /** The pool of one-off sends (sources, replies), apart from every subscription's own. */
  readonly #pool: PoolHandle;
  readonly #closing = new AbortController();
  /** Response body bytes kept from a subscriber: only a 200 can carry a reply; of any other body, knativeerrordata keeps 1 KiB. */
  readonly #subscriberBodyBytes: BodyLimit;
  /** Each handler's bound state, so shedHandlerFor can find it. */
  readonly #bound = new WeakMap<DeliveryHandler, Bound>();
  /** The attempts in flight, aborted by close() along with #closing. */
  readonly #inFlight = new InFlightAttempts();
  #closed: Promise<void> | undefined;

  constructor(options: DispatcherOptions) {
    if (!options || typeof options !== 'object') throw new InvalidOptionError('Dispatcher options are required');
    if (typeof options.logger?.child !== 'function') throw new InvalidOptionError('Dispatcher: logger must be a pino logger');
    if (typeof options.metrics?.deliveries?.inc !== 'function') throw new InvalidOptionError('Dispatcher: metrics must be a Metrics instance');
    const observer = options.observer;
    if (observer !== undefined && (typeof observer !== 'object' || observer === null)) {
      throw new InvalidOptionError('Dispatcher: observer must be an object with onAttempt/onOutcome');
    }
    this.#defaultTimeoutMs = positiveInt(options.defaultTimeoutMs, DEFAULT_DELIVERY_TIMEOUT_MS, 'defaultTimeoutMs', MAX_RETRY_DELAY_MS);
    const connections = positiveInt(options.connectionsPerOrigin, DEFAULT_CONNECTIONS_PER_ORIGIN, 'connectionsPerOrigin', 65_536);
    this.#maxReplyBytes = positiveInt(options.maxReplyBytes, DEFAULT_MAX_REPLY_BYTES, 'maxReplyBytes', 2 ** 30);
    this.#subscriberBodyBytes = { ok200: this.#maxReplyBytes, success: 0, failure: MAX_ERROR_DATA_BYTES };
    this.#log = options.logger;
    this.#metrics = options.metrics;
    this.#observer = observer;
    this.#tracing = options.tracing ?? TRACING_OFF;
    this.#local = options.local;
    const thread = options.deliveryThread ?? availableParallelism() >= DELIVERY_THREAD_MIN_CORES;
    this.#transport = thread ? new ThreadTransport(connections, options.logger) : new InProcessTransport(connections);
    this.#pool = this.#transport.newPool();
    // Every in-flight attempt and backoff wait listens on this one signal; hundreds at
    // once are normal, not the leak Node's listener warning is meant to catch.
    setMaxListeners(0, this.#closing.signal);
  }

  /** The handler a channel calls for one subscription. Throws InvalidOptionError for a bad target. */
  handlerFor(target: DeliveryTarget): DeliveryHandler {
    validateTarget(target);
    const labels = { namespace_name: target.namespace, resource: target.resource, subscription: target.subscription };
    const log = this.#log.child({ namespace: target.namespace, resource: target.resource, subscription: target.subscription });
    const bound: Bound = {
      target,
      labels,
      log,
      delivered: this.#metrics.tally(this.#metrics.eventsDelivered, labels),
      byClass: new Map(),
      pool: this.#transport.newPool(),
      overflow: new OverflowReporter(log, this.#metrics, labels),
    };
    const handler: DeliveryHandler = (event, context) => this.#handle(bound, event, context);
    this.#bound.set(handler, bound);
    return handler;
  }

  /**
   * What a channel calls for events it gives up on for the subscription `handler` serves
   * (ChannelSubscription.onShed): an `overflow` goes to the dead-letter sink (at most a
   * few at once; beyond that, or without a sink, it is logged and counted as
   * `subscription_full`); a `shutdown` loss is logged and counted. Never throws.
   */
  shedHandlerFor(handler: DeliveryHandler): (event: SluiceEvent, reason: ShedReason) => void {
    const b = this.#bound.get(handler);
    if (!b) throw new InvalidOptionError('shedHandlerFor takes a handler made by this dispatcher\'s handlerFor');
    return (event, reason) => {
      if (reason === 'shutdown' || this.closed) {
        b.overflow.lost(event, 'shutdown');
        return;
      }
      const dls = b.target.deadLetterUri;
      if (!dls || !b.overflow.tryStartDeadLetter()) {
        b.overflow.lost(event, 'subscription_full');
        return;
      }
      void this.#deadLetterShed(b, event, dls).finally(() => b.overflow.endDeadLetter());
    };
  }

  /** An event shed for a subscription that fell behind, to its dead-letter sink (429: it was never attempted). */
  async #deadLetterShed(b: Bound, event: SluiceEvent, dls: string): Promise<void> {
    const t = b.target;
    const dead = deadLetterEvent(event, t.subscriberUri, { statusCode: 429, body: SHED_BODY });
    const r = await this.#sendWithRetry(dls, dead, t.policy, undefined, { destination: 'dead-letter', target: t, pool: b.pool });
    if (r.ok) {
      this.#metrics.eventsDeadLettered.inc(b.labels);
      this.#outcome({ target: t, event, outcome: 'dead-lettered', attempts: 0, statusCode: 429, deadLetter: dead });
      return;
    }
    b.overflow.lost(event, 'dead_letter_failed');
  }

  /**
   * One plain POST of an event in binary mode (sources, replies). Resolves with the
   * outcome, failures included; rejects only for a URL that is not http(s).
   */
  async send(url: string, event: SluiceEvent, options: SendOptions = {}): Promise<SendResult> {
    checkSendUrl(url);
    const timeoutMs = positiveInt(options.timeoutMs, this.#defaultTimeoutMs, 'timeoutMs', MAX_RETRY_DELAY_MS);
    const maxBodyBytes = options.maxBodyBytes ?? MAX_ERROR_DATA_BYTES;
    if (!Number.isSafeInteger(maxBodyBytes) || maxBodyBytes < 0) throw new InvalidOptionError('maxBodyBytes must be a non-negative integer');
    const own = options.signal;
    const span = this.#tracing.startDelivery(event, { destination: 'sink', url, attempt: 1 });
    const headers = options.headers;
    if (!own) return this.#post(url, event, { pool: this.#pool, timeoutMs, signal: this.#inFlight, maxBodyBytes, headers, span });
    // The caller's signal and close() both abort the request (linked by hand, see postEvent).
    const both = new AbortController();
    const stop = (s: AbortSignal) => () => both.abort(s.reason);
    const onOwn = stop(own);
    const onClose = stop(this.#closing.signal);
    if (own.aborted) onOwn();
    own.addEventListener('abort', onOwn, { once: true });
    this.#closing.signal.addEventListener('abort', onClose, { once: true });
    try {
      return await this.#post(url, event, { pool: this.#pool, timeoutMs, signal: both.signal, maxBodyBytes, headers, span });
    } finally {
      own.removeEventListener('abort', onOwn);
      this.#closing.signal.removeEventListener('abort', onClose);
    }
  }

  /**
   * POSTs an event, retrying retryable failures with the policy's backoff (inline, so
   * use it where nobody else owns redelivery). Resolves with the last result.
   */
  async sendWithRetry(url: string, event: SluiceEvent, policy: DeliveryPolicy, options: { working?: () => void } = {}): Promise<SendResult> {
    checkSendUrl(url);
    return this.#sendWithRetry(url, event, policy, options.working, { destination: 'sink' });
  }

  /** Settles when deliveries can go out at once (the delivery thread has started). */
  ready(): Promise<void> {
    return this.#transport.ready();
  }

  get closed(): boolean {
    return this.#closing.signal.aborted;
  }

  /**
   * Aborts in-flight attempts and inline backoff waits (their events go back to the
   * channel for redelivery, never to the dead-letter sink) and closes the connections.
   * Close the channels first so that they drain. Idempotent.
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      const reason = new UnavailableError('the dispatcher is closed');
      this.#closing.abort(reason);
      this.#inFlight.abortAll(reason);
      await this.#transport.close();
    })();
    return this.#closed;
  }

  /**
   * One attempt and what the channel does next. Written as one promise chain rather
   * than nested async functions: a plain delivery (no activator, no reply to send) is
   * the POST's promise plus one `then`, where three async layers each cost a promise and
   * a resumption per event. Never rejects.
   */
  #handle(b: Bound, event: SluiceEvent, context: DeliveryContext | undefined): Promise<DeliveryResult> {
    const attempt = Number.isSafeInteger(context?.attempt) && context!.attempt >= 1 ? context!.attempt : 1;
    if (this.closed) return Promise.resolve(RETRY_WHEN_CLOSED);
    const working = context?.working;
    try {
      const endpoint = b.target.endpoint !== undefined;
      const sent = endpoint ? this.#attemptThroughEndpoint(b, event, attempt) : this.#attemptPlain(b, event, attempt);
      return sent.then(
        (r) => this.#afterAttempt(b, event, attempt, r, working, !endpoint),
        (err: unknown) => this.#unexpected(b, event, attempt, err),
      );
    } catch (err) {
      return Promise.resolve(this.#unexpected(b, event, attempt, err));
    }
  }

  /** After an attempt: done, retry later, or a reply or dead letter to send first. `record`: the attempt is not in the metrics yet. */
  #afterAttempt(b: Bound, event: SluiceEvent, attempt: number, r: SendResult, working: (() => void) | undefined, record: boolean): DeliveryResult | Promise<DeliveryResult> {
    try {
      if (record) this.#recordAttempt(b, event, attempt, r);
      if (r.ok) return this.#delivered(b, event, attempt, r, working);
      if (this.closed) return this.#backToChannel(b, event, attempt, r.statusCode);
      const policy = b.target.policy;
      if (isRetryableStatus(r.statusCode) && attempt <= policy.retry) {
        const delayMs = retryDelayMs(policy, attempt, { statusCode: r.statusCode, retryAfter: r.headers['retry-after'] });
        this.#metrics.eventsRetried.inc(b.labels);
        b.log.debug({ ...eventFields(event), attempt, statusCode: r.statusCode, err: r.error, delayMs }, 'delivery failed; will retry');
        this.#outcome({ target: b.target, event, outcome: 'retrying', attempts: attempt, statusCode: r.statusCode, durationMs: r.durationMs });
        return { outcome: 'retry', delayMs };
      }
      return this.#guard(b, event, attempt, this.#deadLetter(b, event, attempt, b.target.subscriberUri, r, working, r.durationMs));
    } catch (err) {
      return this.#unexpected(b, event, attempt, err);
    }
  }

  /** A handler's follow-up work (reply, dead letter) that throws is a failed attempt too, never a rejection. */
  #guard(b: Bound, event: SluiceEvent, attempt: number, work: Promise<DeliveryResult>): Promise<DeliveryResult> {
    return work.catch((err: unknown) => this.#unexpected(b, event, attempt, err));
  }

  /** A bug, not a subscriber failure: treated as a failed attempt, but never in a loop. */
  #unexpected(b: Bound, event: SluiceEvent, attempt: number, err: unknown): DeliveryResult {
    b.log.error({ ...eventFields(event), attempt, err }, 'unexpected error while delivering; treated as a failed attempt');
    const policy = b.target.policy;
    if (attempt <= policy.retry && !this.closed) return { outcome: 'retry', delayMs: retryDelayMs(policy, attempt) };
    this.#fail(b, event, attempt, undefined, 'internal_error');
    return DONE;
  }

  /** One attempt straight to the subscriber's URL (recorded by #afterAttempt). */
  #attemptPlain(b: Bound, event: SluiceEvent, attempt: number): Promise<SendResult> {
    return this.#postToSubscriber(b, b.target.subscriberUri, event, attempt);
  }

  /** The POST of one attempt to `url`, the subscriber's or the one the activator granted. */
  #postToSubscriber(b: Bound, url: string, event: SluiceEvent, attempt: number): Promise<SendResult> {
    return this.#post(url, event, {
      pool: b.pool,
      timeoutMs: b.target.policy.timeoutMs ?? this.#defaultTimeoutMs,
      signal: this.#inFlight,
      maxBodyBytes: this.#subscriberBodyBytes,
      headers: PREFER_REPLY,
      span: this.#tracing.startDelivery(event, this.#traceInfo(b, url, attempt)),
    });
  }

  /** One attempt through the activator (a target with an endpoint), recorded here. */
  async #attemptThroughEndpoint(b: Bound, event: SluiceEvent, attempt: number): Promise<SendResult> {
    const t = b.target;
    let lease: EndpointLease;
    try {
      // Waking a scaled-to-zero service is not part of the attempt's timeout.
      lease = await t.endpoint!.acquire(this.#closing.signal);
    } catch (err) {
      const r: SendResult = { ok: false, statusCode: 503, headers: {}, body: EMPTY, bodyTruncated: false, error: asError(err), durationMs: 0 };
      this.#tracing.startDelivery(event, this.#traceInfo(b, t.subscriberUri, attempt)).end(503, r.error);
      this.#recordAttempt(b, event, attempt, r, false);
      return r;
    }
    let r: SendResult;
    try {
      r = await this.#postToSubscriber(b, lease.url, event, attempt);
    } finally {
      try {
        lease.release();
      } catch (err) {
        b.log.warn({ err }, 'endpoint lease release failed');
      }
    }
    this.#recordAttempt(b, event, attempt, r);
    return r;
  }

  /** One attempt: in process for Sluice's own addresses, else an HTTP POST. Never throws. */
  #post(url: string, event: SluiceEvent, o: PostOptions): Promise<SendResult> {
    const local = this.#local?.(url);
    return local ? deliverLocally(local, event, o.span) : postEvent(url, event, o);
  }

  #traceInfo(b: Bound, url: string, attempt: number) {
    const t = b.target;
    return { destination: 'subscriber', url, attempt, namespace: t.namespace, resource: t.resource, subscription: t.subscription } as const;
  }

  #recordAttempt(b: Bound, event: SluiceEvent, attempt: number, r: SendResult, sent = true): void {
    const codeClass = responseCodeClass(r.statusCode);
    let m = b.byClass.get(codeClass);
    if (!m) {
      const labels = { ...b.labels, response_code_class: codeClass };
      m = { attempts: this.#metrics.tally(this.#metrics.deliveries, labels), latency: this.#metrics.deliveryLatency.labels(labels) };
      b.byClass.set(codeClass, m);
    }
    m.attempts.inc();
    // No request went out when the activator refused: no latency to record.
    if (sent) m.latency.observe(r.durationMs / 1000);
    const observer = this.#observer;
    if (observer?.onAttempt) {
      const info: AttemptInfo = { target: b.target, event, attempt, statusCode: r.statusCode, error: r.error, durationMs: r.durationMs };
      try {
        this.#settle(observer.onAttempt(info));
      } catch (err) {
        this.#log.warn({ err }, 'delivery observer failed');
      }
    }
  }

  /** A successful attempt: done at once, unless its reply has to be sent first. */
  #delivered(b: Bound, event: SluiceEvent, attempt: number, r: SendResult, working?: () => void): DeliveryResult | Promise<DeliveryResult> {
    const t = b.target;
    b.delivered.inc();
    const reply = this.#replyOf(b, event, r);
    if (reply && t.replyUri) return this.#guard(b, event, attempt, this.#sendReply(b, event, attempt, r, reply, t.replyUri, working));
    if (reply) {
      b.log.debug({ ...eventFields(event), replyId: reply.attributes.id }, 'reply dropped: the subscription has no reply destination');
      this.#metrics.repliesSent.inc({ ...b.labels, outcome: 'dropped' });
    }
    this.#outcome({ target: t, event, outcome: 'delivered', attempts: attempt, statusCode: r.statusCode, durationMs: r.durationMs });
    return DONE;
  }

  /** The reply of a delivered event, to the subscription's reply destination; dead-lettered when it cannot be. */
  async #sendReply(b: Bound, event: SluiceEvent, attempt: number, r: SendResult, reply: SluiceEvent, replyUri: string, working?: () => void): Promise<DeliveryResult> {
    const t = b.target;
    const rr = await this.#sendWithRetry(replyUri, reply, t.policy, working, { destination: 'reply', target: t, pool: b.pool });
    if (!rr.ok) {
      if (this.closed) return this.#backToChannel(b, event, attempt, rr.statusCode);
      this.#metrics.repliesSent.inc({ ...b.labels, outcome: 'failed' });
      b.log.warn({ ...eventFields(event), replyUri, statusCode: rr.statusCode, err: rr.error }, 'reply could not be delivered');
      return this.#deadLetter(b, event, attempt, replyUri, rr, working, r.durationMs);
    }
    this.#metrics.repliesSent.inc({ ...b.labels, outcome: 'sent' });
    this.#outcome({ target: t, event, outcome: 'delivered', attempts: attempt, statusCode: r.statusCode, durationMs: r.durationMs });
    return DONE;
  }

  /** The reply event in a successful response, if any (Knative: only a 200 carries one). */
  #replyOf(b: Bound, event: SluiceEvent, r: SendResult): SluiceEvent | undefined {
    if (r.statusCode !== 200) return undefined;
    if (r.bodyTruncated) {
      if (looksLikeCloudEvent(r.headers)) {
        b.log.warn({ ...eventFields(event), maxReplyBytes: this.#maxReplyBytes }, 'reply ignored: its body is larger than maxReplyBytes');
        this.#metrics.repliesSent.inc({ ...b.labels, outcome: 'invalid' });
      }
      return undefined;
    }
    let reply: SluiceEvent | undefined;
    try {
      reply = parseHttpResponseEvent(200, r.headers, r.body);
    } catch (err) {
      // The delivery itself succeeded; a malformed reply is the subscriber's bug, not a reason to redeliver.
      if (!(err instanceof InvalidEventError)) throw err;
      b.log.warn({ ...eventFields(event), err }, 'reply ignored: the response is not a valid CloudEvent');
      this.#metrics.repliesSent.inc({ ...b.labels, outcome: 'invalid' });
      return undefined;
    }
    // A reply without its own trace joins the attempt that produced it (distributed-tracing extension).
    if (reply && reply.attributes.traceparent === undefined && r.traceparent !== undefined) {
      const state = event.attributes.tracestate;
      reply = withAttributes(reply, state !== undefined ? { traceparent: r.traceparent, tracestate: state } : { traceparent: r.traceparent });
    }
    if (reply && b.target.prepareReply) {
      try {
        reply = b.target.prepareReply(reply, event);
      } catch (err) {
        // The subscriber did its part; redelivering to it would not fix this.
        b.log.error({ ...eventFields(event), err }, 'reply dropped: prepareReply failed');
        this.#metrics.repliesSent.inc({ ...b.labels, outcome: 'failed' });
        return undefined;
      }
      if (!reply) {
        b.log.debug({ ...eventFields(event) }, 'reply dropped by the target');
        this.#metrics.repliesSent.inc({ ...b.labels, outcome: 'dropped' });
      }
    }
    return reply;
  }

  /** After the last attempt: the dead-letter sink, or a log line and a metric. Never loops. */
  async #deadLetter(b: Bound, event: SluiceEvent, attempt: number, failedUrl: string, last: SendResult, working: (() => void) | undefined, subscriberMs: number): Promise<DeliveryResult> {
    const t = b.target;
    if (!t.deadLetterUri) {
      this.#fail(b, event, attempt, last, 'no_dead_letter_sink', failedUrl, undefined, subscriberMs);
      return DONE;
    }
    const dead = deadLetterEvent(event, failedUrl, last);
    const r = await this.#sendWithRetry(t.deadLetterUri, dead, t.policy, working, { destination: 'dead-letter', target: t, pool: b.pool });
    if (r.ok) {
      this.#metrics.eventsDeadLettered.inc(b.labels);
      b.log.info({ ...eventFields(event), attempt, failedUrl, statusCode: last.statusCode, err: last.error }, 'event sent to the dead-letter sink');
      this.#outcome({ target: t, event, outcome: 'dead-lettered', attempts: attempt, statusCode: last.statusCode, deadLetter: dead, durationMs: subscriberMs });
      return DONE;
    }
    if (this.closed) return this.#backToChannel(b, event, attempt, last.statusCode);
    this.#fail(b, event, attempt, last, 'dead_letter_failed', failedUrl, r, subscriberMs);
    return DONE;
  }

  #fail(b: Bound, event: SluiceEvent, attempt: number, last: SendResult | undefined, reason: string, failedUrl?: string, dls?: SendResult, subscriberMs?: number): void {
    this.#metrics.eventsFailed.inc({ ...b.labels, reason });
    b.log.warn(
      {
        ...eventFields(event),
        attempt,
        reason,
        failedUrl,
        statusCode: last?.statusCode,
        err: last?.error,
        ...(dls ? { deadLetterUri: b.target.deadLetterUri, deadLetterStatusCode: dls.statusCode, deadLetterError: dls.error?.message } : {}),
      },
      reason === 'no_dead_letter_sink' ? 'event dropped: delivery failed and there is no dead-letter sink' : 'event dropped: it could not be delivered nor dead-lettered',
    );
    this.#outcome({ target: b.target, event, outcome: 'failed', attempts: attempt, statusCode: last?.statusCode, durationMs: subscriberMs });
  }

  /** Shutdown interrupted the work: the channel keeps the event and offers it again (after a restart, for a durable one). */
  #backToChannel(b: Bound, event: SluiceEvent, attempt: number, statusCode: number | undefined): DeliveryResult {
    b.log.debug({ ...eventFields(event), attempt }, 'delivery interrupted by shutdown; returned to the channel');
    this.#outcome({ target: b.target, event, outcome: 'retrying', attempts: attempt, statusCode });
    return { outcome: 'retry', delayMs: 0 };
  }

  async #sendWithRetry(
    url: string,
    event: SluiceEvent,
    policy: DeliveryPolicy,
    working: (() => void) | undefined,
    trace: { destination: DeliveryDestination; target?: DeliveryTarget; pool?: PoolHandle },
  ): Promise<SendResult> {
    const timeoutMs = policy.timeoutMs ?? this.#defaultTimeoutMs;
    let last: SendResult | undefined;
    for (let retry = 0; ; retry++) {
      if (last) {
        const wait = retryDelayMs(policy, retry, { statusCode: last.statusCode, retryAfter: last.headers['retry-after'] });
        if (!(await this.#wait(wait))) return last;
      }
      try {
        // Inline retries can outlast a backend's ack deadline (JetStream ack_wait).
        working?.();
      } catch (err) {
        this.#log.debug({ err }, 'working() callback failed');
      }
      const t = trace.target;
      const span = this.#tracing.startDelivery(event, {
        destination: trace.destination,
        url,
        attempt: retry + 1,
        namespace: t?.namespace,
        resource: t?.resource,
        subscription: t?.subscription,
      });
      last = await this.#post(url, event, { pool: trace.pool ?? this.#pool, timeoutMs, signal: this.#inFlight, maxBodyBytes: MAX_ERROR_DATA_BYTES, span });
      if (last.ok || !isRetryableStatus(last.statusCode) || retry >= policy.retry || this.closed) return last;
    }
  }

  /** Waits `ms` unless the dispatcher closes first; false when it did. */
  async #wait(ms: number): Promise<boolean> {
    if (ms > 0) {
      try {
        await sleep(ms, undefined, { signal: this.#closing.signal });
      } catch {
        return false;
      }
    }
    return !this.closed;
  }

  #outcome(info: OutcomeInfo): void {
    const observer = this.#observer;
    if (!observer?.onOutcome) return;
    try {
      this.#settle(observer.onOutcome(info));
    } catch (err) {
      this.#log.warn({ err }, 'delivery observer failed');
    }
  }

  /** An async observer's rejection must not become an unhandled rejection (which ends the process). */
  #settle(ret: unknown): void {
    if (ret && typeof (ret as Promise<unknown>).then === 'function') {
      (ret as Promise<unknown>).then(undefined, (err: unknown) => this.#log.warn({ err }, 'delivery observer failed'));
    }
  }
}

function eventFields(event: SluiceEvent): Record<string, string | undefined> {
  const a = event.attributes;
  return { eventId: a.id, eventSource: a.source, eventType: a.type };
}

function looksLikeCloudEvent(headers: SendResult['headers']): boolean {
  const ct = headers['content-type'];
  return headers['ce-specversion'] !== undefined || (typeof ct === 'string' && ct.toLowerCase().startsWith('application/cloudevents'));
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

function positiveInt(value: number | undefined, fallback: number, name: string, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > max) {
    throw new InvalidOptionError(`${name} must be an integer between 1 and ${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}

function checkSendUrl(url: string): void {
  let u: URL | undefined;
  try {
    u = new URL(url);
  } catch {
    // reported below
  }
  if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:')) {
    throw new InvalidOptionError(`${JSON.stringify(url)} is not an absolute http or https URL`);
  }
}
