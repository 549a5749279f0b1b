import { nanos } from '@nats-io/transport-node';
import {
  AckPolicy,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type ConsumerConfig,
  type ConsumerMessages,
  type JsMsg,
} from '@nats-io/jetstream';
import type { ChannelSubscription, DeliveryResult } from '../channel.js';
import type { Logger } from '../../observability/logger.js';
import { nextBackoffMs } from '../../subscriptions/retry-backoff.js';
import { decodeEvent } from './event-codec.js';
import type { NatsConnectionManager } from './nats-connection.js';
import type { NatsDeliverStart } from './nats-stream-settings.js';

export interface NatsSubscriptionOptions {
  manager: NatsConnectionManager;
  stream: string;
  durable: string;
  spec: ChannelSubscription;
  ackWaitMs: number;
  /** Where a new consumer starts (natss's deliverPolicy); default: everything the stream holds. */
  deliver?: NatsDeliverStart | undefined;
  /** Makes sure the channel's stream exists (after a NATS restart with memory storage, say). */
  ensureStream: () => Promise<void>;
  logger?: Logger | undefined;
  onRedelivery?: (() => void) | undefined;
}

const HANDLER_THREW_RETRY_MS = 1000;

/** The consumer fields of a deliver start. */
function deliverConfig(d: NatsDeliverStart | undefined): Partial<ConsumerConfig> {
  switch (d?.policy) {
    case undefined:
    case 'all':
      return { deliver_policy: DeliverPolicy.All };
    case 'last':
      return { deliver_policy: DeliverPolicy.Last };
    case 'new':
      return { deliver_policy: DeliverPolicy.New };
    case 'by_start_sequence':
      return { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: d.optStartSeq };
    case 'by_start_time':
      return { deliver_policy: DeliverPolicy.StartTime, opt_start_time: d.optStartTime };
  }
}

export function isJsApiError(e: unknown, code: number): boolean {
  return e instanceof JetStreamApiError && e.code === code;
}

/**
 * One subscription's durable consumer on a channel's stream: pulls at most
 * `maxInFlight` messages, hands each to the handler, acks on `done` and naks with the
 * handler's delay on `retry`, so the server keeps the retry schedule (it survives a
 * broker restart, and any replica consuming the same durable may take the retry).
 */
export class NatsSubscription {
  spec: ChannelSubscription;
  inFlight = 0;
  /** True once the durable consumer exists on the server: publishes retained for it from then on. */
  consumerReady = false;
  readonly durable: string;
  readonly #o: NatsSubscriptionOptions;
  #active = false;
  #messages: ConsumerMessages | undefined;
  #loop: Promise<void> | undefined;
  #slotWaiters: Array<() => void> = [];
  #idleWaiters: Array<() => void> = [];
  #wake: (() => void) | undefined;
  #stopSignal!: Promise<void>;
  #signalStop: () => void = () => undefined;

  constructor(options: NatsSubscriptionOptions) {
    this.#o = options;
    this.spec = options.spec;
    this.durable = options.durable;
  }

  /** Creates the durable consumer, or updates the limits of an existing one (idempotent). */
  async ensureConsumer(): Promise<void> {
    await this.#o.ensureStream();
    const { jsm } = this.#o.manager.clients();
    const ackWait = nanos(this.#o.ackWaitMs);
    const maxAckPending = this.spec.maxInFlight;
    try {
      const info = await jsm.consumers.info(this.#o.stream, this.durable);
      if (info.config.max_ack_pending !== maxAckPending || info.config.ack_wait !== ackWait) {
        await jsm.consumers.update(this.#o.stream, this.durable, { max_ack_pending: maxAckPending, ack_wait: ackWait });
      }
    } catch (e) {
      if (!isJsApiError(e, JetStreamApiCodes.ConsumerNotFound)) throw e;
      const config: Partial<ConsumerConfig> = {
        durable_name: this.durable,
        description: `Sluice subscription ${this.spec.id}`,
        ack_policy: AckPolicy.Explicit,
        ack_wait: ackWait,
        // The dispatcher decides when to give up (and dead-letters), so the server never does.
        max_deliver: -1,
        max_ack_pending: maxAckPending,
        // A new subscription starts with what the stream still holds (after trimming: only
        // events some other subscription has not finished), unless the spec says otherwise.
        // Only at creation: JetStream cannot move an existing consumer's start.
        ...deliverConfig(this.#o.deliver),
      };
      await jsm.consumers.add(this.#o.stream, config);
    }
    this.consumerReady = true;
  }

  start(): void {
    if (this.#active) return;
    this.#active = true;
    this.#stopSignal = new Promise<void>((resolve) => (this.#signalStop = resolve));
    this.#loop = this.#run();
  }

  async #run(): Promise<void> {
    let failures = 0;
    while (this.#active) {
      try {
        // Raced with stop(): while NATS is down, waiting for it must not block unsubscribe.
        await Promise.race([this.#o.manager.whenConnected(), this.#stopSignal]);
        if (!this.#active) break;
        await this.ensureConsumer();
        const { js } = this.#o.manager.clients();
        const consumer = await js.consumers.get(this.#o.stream, this.durable);
        const messages = await consumer.consume({ max_messages: Math.max(1, this.spec.maxInFlight) });
        this.#messages = messages;
        if (!this.#active) {
          messages.stop();
          break;
        }
        void this.#watchConsumer(messages);
        failures = 0;
        for await (const m of messages) {
          while (this.#active && this.inFlight >= this.spec.maxInFlight) await new Promise<void>((r) => this.#slotWaiters.push(r));
          if (!this.#active) {
            // Hand it back now rather than after ack_wait, so another replica gets it soon.
            m.nak();
            continue;
          }
          void this.#handle(m);
        }
      } catch (e) {
        if (this.#active) this.#o.logger?.warn({ err: e, stream: this.#o.stream, durable: this.durable }, 'JetStream consumer failed; retrying');
      }
      this.#messages = undefined;
      if (this.#active) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, nextBackoffMs(failures++, { initialMs: 250, maxMs: 5000 }));
          this.#wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        this.#wake = undefined;
      }
    }
  }

  /** The client keeps pulling from a deleted consumer forever: stop it so the loop recreates it. */
  async #watchConsumer(messages: ConsumerMessages): Promise<void> {
    for await (const s of messages.status()) {
      if (s.type === 'consumer_deleted' || (s.type === 'consumer_not_found' && s.count >= 2) || s.type === 'stream_not_found') {
        this.consumerReady = false;
        this.#o.logger?.warn({ stream: this.#o.stream, durable: this.durable, status: s.type }, 'JetStream consumer lost; recreating');
        messages.stop();
        return;
      }
    }
  }

  async #handle(m: JsMsg): Promise<void> {
    let event;
    try {
      event = decodeEvent(m.headers, m.data);
    } catch (e) {
      // Not a Sluice event (someone else published on the channel's subject): nothing
      // can ever deliver it, so stop redelivery. `term()` without a reason: on 2.9.x a
      // reason turns it into a no-op.
      this.#o.logger?.error({ err: e, stream: this.#o.stream, seq: m.seq }, 'dropping a message that is not a Sluice event');
      m.term();
      return;
    }
    this.inFlight++;
    const attempt = m.info.deliveryCount;
    if (attempt > 1) this.#o.onRedelivery?.();
    // Extend the ack deadline while the handler works, so a slow subscriber is not
    // mistaken for a dead replica and delivered to twice.
    const keepAlive = setInterval(() => m.working(), Math.max(500, Math.floor(this.#o.ackWaitMs / 3)));
    keepAlive.unref();
    let result: DeliveryResult;
    try {
      result = await this.spec.handler(event, { attempt, working: () => m.working() });
    } catch (e) {
      this.#o.logger?.warn({ err: e, subscription: this.spec.id }, 'delivery handler threw; retrying the event');
      result = { outcome: 'retry', delayMs: HANDLER_THREW_RETRY_MS };
    } finally {
      clearInterval(keepAlive);
    }
    try {
      if (result.outcome === 'done') m.ack();
      else m.nak(Math.max(0, Math.round(result.delayMs)));
    } catch (e) {
      // Connection closed: the server redelivers after ack_wait, so nothing is lost.
      this.#o.logger?.warn({ err: e, subscription: this.spec.id }, 'could not ack a JetStream message');
    }
    this.inFlight--;
    this.#slotWaiters.shift()?.();
    if (this.inFlight === 0) for (const w of this.#idleWaiters.splice(0)) w();
  }

  /** Stops pulling; handlers already running finish and still ack (see drain). */
  async stop(): Promise<void> {
    this.#active = false;
    this.#signalStop();
    this.#messages?.stop();
    this.#wake?.();
    for (const w of this.#slotWaiters.splice(0)) w();
    await this.#loop?.catch(() => undefined);
  }

  /** Resolves when no handler runs any more, or at `deadline` (epoch ms). */
  async drain(deadline: number): Promise<void> {
    if (this.inFlight === 0) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, Math.max(0, deadline - Date.now()));
      this.#idleWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  /** Events not finished for this subscription (waiting + delivered but not acked), from the server. */
  async backlog(): Promise<number> {
    const { jsm } = this.#o.manager.clients();
    const info = await jsm.consumers.info(this.#o.stream, this.durable);
    return info.num_pending + info.num_ack_pending;
  }

  async deleteConsumer(): Promise<void> {
    const { jsm } = this.#o.manager.clients();
    try {
      await jsm.consumers.delete(this.#o.stream, this.durable);
    } catch (e) {
      if (!isJsApiError(e, JetStreamApiCodes.ConsumerNotFound) && !isJsApiError(e, JetStreamApiCodes.StreamNotFound)) throw e;
    }
    this.consumerReady = false;
  }
}
