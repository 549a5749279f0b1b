import { nanos } from '@nats-io/transport-node';
import { DiscardPolicy, JetStreamApiCodes, RetentionPolicy, StorageType, type StreamConfig } from '@nats-io/jetstream';
import type { SluiceEvent } from '../../events/types.js';
import type { Channel, ChannelStats, ChannelSubscription, IgnoredField, SubscriptionStats } from '../channel.js';
import { ChannelFullError, InvalidOptionError, PayloadTooLargeError, SluiceError, UnavailableError } from '../../errors.js';
import type { Logger } from '../../observability/logger.js';
import type { Metrics } from '../../observability/metrics.js';
import { nextBackoffMs } from '../../subscriptions/retry-backoff.js';
import { encodeEventHeaders, messageId } from './event-codec.js';
import { NATS_JETSTREAM_CHANNEL_KIND } from './nats-channel-spec.js';
import { DEFAULT_ACK_WAIT_MS, DEFAULT_DUPLICATE_WINDOW_MS, DEFAULT_MAX_AGE_MS, type NatsStreamSettings } from './nats-stream-settings.js';
import type { NatsConnectionManager } from './nats-connection.js';
import { durableNameFor, streamNameFor, subjectFor } from './nats-names.js';
import { NatsSubscription, isJsApiError } from './nats-subscription.js';
import { TRIM_BATCH, trimAcknowledged } from './stream-trim.js';

export interface NatsJetStreamChannelOptions {
  connection: NatsConnectionManager;
  namespace: string;
  name: string;
  settings?: Partial<NatsStreamSettings>;
  /** Spec fields accepted without effect (eventing-natss settings Sluice does not apply), for the status. */
  ignored?: readonly IgnoredField[];
  logger?: Logger;
  metrics?: Metrics;
}

/** Stats come from the server: refreshed in the background at most this often. */
const STATS_MIN_INTERVAL_MS = 2000;
/** How often finished events are removed from the stream (jittered, so replicas take turns). */
const TRIM_INTERVAL_MS = 5000;
const EMPTY = new Uint8Array(0);

/**
 * A channel on NATS JetStream: one stream per channel, one durable pull consumer per
 * subscription. Several broker replicas that build the same channel share the stream
 * and, per subscription, the consumer (competing consumers), so they split the work.
 *
 * Retention is `limits`, not `interest`: on nats-server 2.9 a shutting-down server stops
 * consumers before the stream, and an interest stream then acks publishes while
 * discarding them for lack of interest (reproduced here: events acked during a SIGTERM
 * were lost). Instead the channel trims the stream itself: every few seconds it deletes
 * what every consumer has acked (below the lowest ack floor), which is what interest
 * retention would have done (message by message: see stream-trim.ts for why not a purge). `discard: new` turns a full stream into a 429 at publish
 * instead of silently dropping accepted events; maxAge (7 days by default) is the
 * backstop for events held by a subscription that went away without being purged.
 */
export class NatsJetStreamChannel implements Channel {
  readonly kind = NATS_JETSTREAM_CHANNEL_KIND;
  readonly streamName: string;
  readonly subject: string;
  readonly #manager: NatsConnectionManager;
  readonly #settings: NatsStreamSettings;
  readonly #logger: Logger | undefined;
  readonly #metrics: Metrics | undefined;
  readonly #labels: { namespace_name: string; resource: string };
  readonly #ignored: readonly IgnoredField[];
  #subs = new Map<string, NatsSubscription>();
  #closed = false;
  #closing: Promise<void> | undefined;
  #streamReady = false;
  #streamInit: Promise<void> | undefined;
  #initLoopRunning = false;
  #streamError: string | undefined;
  #offChange: () => void;
  #backlogs = new Map<string, number>();
  #statsAt = 0;
  #statsRefreshing = false;
  #trimTimer: NodeJS.Timeout;
  #trimming = false;

  constructor(options: NatsJetStreamChannelOptions) {
    if (!options.namespace || !options.name) throw new InvalidOptionError('NatsJetStreamChannel needs a namespace and a name');
    this.#manager = options.connection;
    this.#logger = options.logger?.child({ channel: `${options.namespace}/${options.name}`, kind: this.kind });
    this.#metrics = options.metrics;
    this.#labels = { namespace_name: options.namespace, resource: options.name };
    this.#settings = {
      maxAgeMs: DEFAULT_MAX_AGE_MS,
      maxBytes: -1,
      maxMessages: -1,
      replicas: 1,
      storage: 'file',
      ackWaitMs: DEFAULT_ACK_WAIT_MS,
      ...options.settings,
    };
    this.#ignored = options.ignored ?? [];
    this.streamName = this.#settings.streamName ?? streamNameFor(options.namespace, options.name);
    this.subject = subjectFor(options.namespace, options.name);
    // After a reconnect the server may have lost a memory-storage stream: check again.
    this.#offChange = this.#manager.onChange((up) => {
      if (up && !this.#closed) {
        this.#streamReady = false;
        this.#startInitLoop();
      }
    });
    void this.#manager.connect().catch(() => undefined);
    this.#startInitLoop();
    this.#trimTimer = setInterval(() => void this.#trimInBackground(), TRIM_INTERVAL_MS + Math.floor(Math.random() * 1000));
    this.#trimTimer.unref();
  }

  /**
   * Removes the events every subscription has finished: everything at or below the
   * lowest ack floor of the stream's consumers, including those other replicas created.
   * With no consumer at all, nobody can ever get the events: they go too (a new
   * subscription starts with what arrives after it, as on the in-memory channel).
   */
  async trim(): Promise<void> {
    if (this.#closed || !this.#manager.isConnected() || !this.#streamReady) return;
    for (;;) {
      const { nc, jsm } = this.#manager.clients();
      if ((await trimAcknowledged(nc, jsm, this.streamName)) < TRIM_BATCH || this.#closed) return;
    }
  }

  async #trimInBackground(): Promise<void> {
    if (this.#trimming) return;
    this.#trimming = true;
    try {
      await this.trim();
    } catch (e) {
      this.#logger?.debug({ err: e }, 'stream trim failed');
    } finally {
      this.#trimming = false;
    }
  }

  /** Creates the stream in the background, retrying until it exists (NATS may be down at start). */
  #startInitLoop(): void {
    if (this.#initLoopRunning) return;
    this.#initLoopRunning = true;
    void (async () => {
      for (let failures = 0; !this.#closed && !this.#streamReady; ) {
        try {
          await this.#manager.whenConnected();
          await this.#ensureStream();
          this.#streamError = undefined;
        } catch (e) {
          if (this.#closed) break;
          this.#streamError = e instanceof Error ? e.message : String(e);
          this.#logger?.warn({ err: e, stream: this.streamName }, 'cannot set up the JetStream stream; retrying');
          await new Promise((r) => setTimeout(r, nextBackoffMs(failures++, { initialMs: 250, maxMs: 10_000 })).unref());
        }
      }
      this.#initLoopRunning = false;
    })();
  }

  #ensureStream(): Promise<void> {
    if (this.#streamReady) return Promise.resolve();
    this.#streamInit ??= this.#createOrUpdateStream()
      .then(() => {
        this.#streamReady = true;
      })
      .finally(() => {
        this.#streamInit = undefined;
      });
    return this.#streamInit;
  }

  async #createOrUpdateStream(): Promise<void> {
    const { jsm } = this.#manager.clients();
    const s = this.#settings;
    const wanted = {
      max_age: nanos(s.maxAgeMs),
      max_bytes: s.maxBytes,
      max_msgs: s.maxMessages,
      max_msg_size: s.maxMsgSize ?? -1,
      num_replicas: s.replicas,
      // The dedup window cannot exceed max_age; 2 minutes is JetStream's default.
      duplicate_window: nanos(s.duplicateWindowMs ?? Math.min(DEFAULT_DUPLICATE_WINDOW_MS, s.maxAgeMs)),
    };
    const storage = s.storage === 'memory' ? StorageType.Memory : StorageType.File;
    try {
      const info = await jsm.streams.info(this.streamName);
      const c = info.config;
      if (!c.subjects?.includes(this.subject)) {
        // A stream named by `stream.overrideName` that Sluice did not make (or another
        // channel's): taking it over would mix events and let trimming delete its messages.
        throw new InvalidOptionError(
          `stream ${this.streamName} exists and does not hold this channel's subject ${this.subject} (it holds ${(c.subjects ?? []).join(', ') || 'no subjects'}); ` +
            'name another stream, or delete that one if it is a leftover',
        );
      }
      if (c.storage !== storage || c.retention !== RetentionPolicy.Limits) {
        // JetStream cannot change these in place; deleting would lose events. Say so.
        throw new InvalidOptionError(
          `stream ${this.streamName} exists with storage=${c.storage} retention=${c.retention}; ` +
            `the channel wants storage=${storage} retention=${RetentionPolicy.Limits} (delete the stream to change them)`,
        );
      }
      const differs = (Object.keys(wanted) as Array<keyof typeof wanted>).some((k) => c[k] !== wanted[k]) || c.discard !== DiscardPolicy.New;
      if (differs) await jsm.streams.update(this.streamName, { ...c, ...wanted, discard: DiscardPolicy.New });
    } catch (e) {
      if (!isJsApiError(e, JetStreamApiCodes.StreamNotFound)) throw e;
      const config: Partial<StreamConfig> & { name: string } = {
        name: this.streamName,
        description: `Sluice channel ${this.#labels.namespace_name}/${this.#labels.resource}`,
        subjects: [this.subject],
        retention: RetentionPolicy.Limits,
        storage,
        discard: DiscardPolicy.New,
        ...wanted,
      };
      await jsm.streams.add(config);
      this.#logger?.info({ stream: this.streamName, subject: this.subject }, 'created JetStream stream');
    }
  }

  ignoredFields(): readonly IgnoredField[] {
    return this.#ignored;
  }

  ready(): boolean {
    if (this.#closed || !this.#manager.isConnected() || !this.#streamReady) return false;
    for (const s of this.#subs.values()) if (!s.consumerReady) return false;
    return true;
  }

  notReadyReason(): string | undefined {
    if (this.#closed) return 'channel is shutting down';
    const down = this.#manager.notConnectedReason();
    if (down) return down;
    if (!this.#streamReady) return `JetStream stream ${this.streamName} is not set up yet${this.#streamError ? ` (${this.#streamError})` : ''}`;
    for (const s of this.#subs.values()) if (!s.consumerReady) return `the JetStream consumer of subscription ${s.spec.id} is not set up yet`;
    return undefined;
  }

  async publish(event: SluiceEvent): Promise<void> {
    this.#checkAccepting();
    await this.#publishOne(event);
  }

  /**
   * Pipelined, not atomic (atomic batches need NATS 2.12): a failure rejects the call,
   * and the client's retry of the whole batch is stored once thanks to the msg ids.
   */
  async publishBatch(events: readonly SluiceEvent[]): Promise<void> {
    this.#checkAccepting();
    await Promise.all(events.map((e) => this.#publishOne(e)));
  }

  #checkAccepting(): void {
    if (this.#closed) throw new UnavailableError('channel is shutting down');
    if (!this.#manager.isConnected()) throw this.#refused(new UnavailableError(this.#manager.notConnectedReason() ?? 'NATS is unreachable'), 'unavailable');
    if (!this.#streamReady) throw this.#refused(new UnavailableError(`JetStream stream ${this.streamName} is not ready`), 'unavailable');
    for (const s of this.#subs.values()) {
      // An event published before its consumer exists could be trimmed before the consumer sees it.
      if (!s.consumerReady) throw this.#refused(new UnavailableError(`subscription ${s.spec.id} is not set up on JetStream yet`), 'unavailable');
    }
  }

  async #publishOne(event: SluiceEvent): Promise<void> {
    const { js } = this.#manager.clients();
    const started = performance.now();
    try {
      await js.publish(this.subject, event.data ?? EMPTY, {
        msgID: messageId(event),
        headers: encodeEventHeaders(event),
        timeout: this.#manager.publishTimeoutMs,
      });
    } catch (e) {
      throw this.#mapPublishError(e);
    }
    this.#metrics?.channelPublishLatency.observe({ ...this.#labels, kind: this.kind }, (performance.now() - started) / 1000);
  }

  #mapPublishError(e: unknown): SluiceError {
    const msg = e instanceof Error ? e.message : String(e);
    if (/maximum (messages|bytes)( per subject)? exceeded|resource limits exceeded|insufficient resources/i.test(msg)) {
      return this.#refused(new ChannelFullError(`channel stream ${this.streamName} is full: ${msg}`, { cause: e }), 'full');
    }
    if (/max.?payload|message size exceeds/i.test(msg)) {
      return this.#refused(new PayloadTooLargeError(`event is larger than NATS accepts: ${msg}`, { cause: e }), 'too_large');
    }
    if (/no responders|stream not found/i.test(msg)) {
      // The stream vanished (deleted, or memory storage lost in a NATS restart): recreate it.
      this.#streamReady = false;
      this.#startInitLoop();
    }
    // Timeouts included: the event may have been stored; a retry is deduplicated by msg id.
    return this.#refused(new UnavailableError(`JetStream did not confirm the publish: ${msg}`, { cause: e }), 'unavailable');
  }

  #refused<E extends SluiceError>(err: E, reason: string): E {
    this.#metrics?.channelPublishFailures.inc({ ...this.#labels, kind: this.kind, reason });
    return err;
  }

  async subscribe(requested: ChannelSubscription): Promise<void> {
    if (this.#closed) throw new UnavailableError('channel is shutting down');
    if (!Number.isInteger(requested.maxInFlight) || requested.maxInFlight < 1) {
      throw new InvalidOptionError(`subscription ${requested.id}: maxInFlight must be a positive integer`);
    }
    // natss's maxAckPending bounds what a subscription has unacknowledged: a lower in-flight limit.
    const cap = this.#settings.maxAckPending;
    const spec = cap !== undefined && cap < requested.maxInFlight ? { ...requested, maxInFlight: cap } : requested;
    const existing = this.#subs.get(spec.id);
    if (existing) {
      const limitsChanged = existing.spec.maxInFlight !== spec.maxInFlight;
      existing.spec = spec;
      if (limitsChanged && this.#manager.isConnected()) await existing.ensureConsumer().catch((e: unknown) => this.#subscribeFailed(spec, e));
      return;
    }
    const sub = new NatsSubscription({
      manager: this.#manager,
      stream: this.streamName,
      durable: durableNameFor(spec.id),
      spec,
      ackWaitMs: this.#settings.ackWaitMs,
      ...(this.#settings.deliver ? { deliver: this.#settings.deliver } : {}),
      ensureStream: () => this.#ensureStream(),
      logger: this.#logger,
      onRedelivery: this.#metrics ? () => this.#metrics?.channelRedeliveries.inc({ ...this.#labels, subscription: spec.id }) : undefined,
    });
    this.#subs.set(spec.id, sub);
    // Create the consumer now when we can, so events published after subscribe() resolves
    // are kept for it; when NATS is down the consume loop creates it once NATS is back
    // (and ready() stays false, refusing publishes, until then).
    if (this.#manager.isConnected()) await sub.ensureConsumer().catch((e: unknown) => this.#subscribeFailed(spec, e));
    sub.start();
  }

  #subscribeFailed(spec: ChannelSubscription, e: unknown): void {
    if (e instanceof InvalidOptionError) throw e;
    this.#logger?.warn({ err: e, subscription: spec.id }, 'cannot set up the JetStream consumer yet; retrying in the background');
  }

  async unsubscribe(id: string, options: { purge?: boolean } = {}): Promise<void> {
    const sub = this.#subs.get(id);
    if (!sub) {
      if (options.purge && this.#manager.isConnected()) {
        // Another replica (or an earlier run) may have created it: purge is by name.
        const orphan = new NatsSubscription({
          manager: this.#manager,
          stream: this.streamName,
          durable: durableNameFor(id),
          spec: { id, maxInFlight: 1, maxAttempts: 1, handler: async () => ({ outcome: 'done' }) },
          ackWaitMs: this.#settings.ackWaitMs,
          ensureStream: async () => undefined,
        });
        await this.#withUnavailable(() => orphan.deleteConsumer());
      }
      return;
    }
    this.#subs.delete(id);
    this.#backlogs.delete(id);
    await sub.stop();
    if (options.purge) await this.#withUnavailable(() => sub.deleteConsumer());
  }

  async #withUnavailable(op: () => Promise<void>): Promise<void> {
    try {
      await op();
    } catch (e) {
      if (e instanceof SluiceError) throw e;
      throw new UnavailableError(`JetStream operation failed on ${this.streamName}: ${(e as Error).message}`, { cause: e });
    }
  }

  stats(): ChannelStats {
    if (Date.now() - this.#statsAt >= STATS_MIN_INTERVAL_MS) void this.#refreshStats();
    const subscriptions: Record<string, SubscriptionStats> = {};
    for (const [id, s] of this.#subs) subscriptions[id] = { backlog: this.#backlogs.get(id) ?? 0, inFlight: s.inFlight };
    // depth: events some local subscription has not finished (the stream itself may still
    // hold finished ones until the next trim).
    let depth = 0;
    for (const s of Object.values(subscriptions)) depth = Math.max(depth, s.backlog);
    return { depth, capacity: this.#settings.maxMessages, subscriptions };
  }

  /** Resolves once the cached stats have been refreshed from the server (tests, admin API). */
  async refreshStats(): Promise<ChannelStats> {
    this.#statsAt = 0;
    await this.#refreshStats(true);
    return this.stats();
  }

  async #refreshStats(force = false): Promise<void> {
    if ((this.#statsRefreshing && !force) || !this.#manager.isConnected() || !this.#streamReady) return;
    this.#statsRefreshing = true;
    this.#statsAt = Date.now();
    try {
      await Promise.all(
        [...this.#subs].map(async ([id, s]) => {
          if (s.consumerReady) this.#backlogs.set(id, await s.backlog());
        }),
      );
    } catch (e) {
      this.#logger?.debug({ err: e }, 'could not refresh JetStream stats');
    } finally {
      this.#statsRefreshing = false;
    }
  }

  /**
   * Stops pulling, then waits for the handlers already running (their acks must reach
   * NATS) until `deadline`. Unfinished events stay in the stream for the next replica.
   */
  close(options: { deadline?: number } = {}): Promise<void> {
    this.#closing ??= this.#close(options.deadline ?? Date.now());
    return this.#closing;
  }

  async #close(deadline: number): Promise<void> {
    this.#closed = true;
    this.#offChange();
    clearInterval(this.#trimTimer);
    const subs = [...this.#subs.values()];
    await Promise.all(subs.map((s) => s.stop()));
    await Promise.all(subs.map((s) => s.drain(deadline)));
    this.#subs.clear();
    if (this.#manager.isConnected()) {
      // Acks are fire-and-forget: flush so they have reached the server when close resolves.
      await this.#manager
        .clients()
        .nc.flush()
        .catch(() => undefined);
    }
  }

  /** Deletes the stream (every subscription's consumer with it). */
  async destroy(): Promise<void> {
    await this.close();
    if (!this.#manager.isConnected()) throw new UnavailableError(`NATS is unreachable: stream ${this.streamName} not deleted`);
    await this.#withUnavailable(async () => {
      const { jsm } = this.#manager.clients();
      try {
        // Only a stream holding this channel's subject is this channel's: an overrideName
        // may name a stream someone else made, and deleting the channel must not delete it.
        const info = await jsm.streams.info(this.streamName);
        if (!info.config.subjects?.includes(this.subject)) {
          this.#logger?.warn({ stream: this.streamName }, "stream not deleted: it does not hold this channel's subject");
          return;
        }
        await jsm.streams.delete(this.streamName);
      } catch (e) {
        if (!isJsApiError(e, JetStreamApiCodes.StreamNotFound)) throw e;
      }
    });
  }
}
