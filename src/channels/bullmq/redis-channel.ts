import { FlowProducer, Queue, type FlowJob } from 'bullmq';
import type { SluiceEvent } from '../../events/types.js';
import type { Channel, ChannelStats, ChannelSubscription, SubscriptionStats } from '../channel.js';
import { ChannelFullError, InvalidOptionError, SluiceError, UnavailableError } from '../../errors.js';
import type { Logger } from '../../observability/logger.js';
import type { Metrics } from '../../observability/metrics.js';
import { REDIS_CHANNEL_KIND } from './redis-channel-spec.js';
import type { RedisConnectionManager } from './redis-connection.js';
import { bounded, CLOSE_STEP_MS } from './bounded.js';
import { jobIdFor, queueNameFor, subscriptionsKeyFor } from './redis-names.js';
import { encodeJobData, RedisSubscription } from './redis-subscription.js';

export interface RedisChannelOptions {
  connection: RedisConnectionManager;
  namespace: string;
  name: string;
  /** 429 once a subscription's backlog (as last refreshed) reaches this. */
  maxBacklog?: number;
  /** BullMQ lock on active jobs (default 30 s): how soon a dead replica's deliveries are handed out again. */
  lockDurationMs?: number;
  logger?: Logger;
  metrics?: Metrics;
}

const STATS_MIN_INTERVAL_MS = 2000;
/**
 * The dispatcher decides when to give up (and dead-letters): BullMQ must never fail a
 * job on its own, so its attempt budget is effectively unlimited.
 */
const UNLIMITED_ATTEMPTS = 1_000_000_000;
const JOB_OPTIONS = {
  attempts: UNLIMITED_ATTEMPTS,
  backoff: { type: 'sluice' },
  removeOnComplete: true,
  removeOnFail: true,
  // Each retry stores the error's stack on the job: keep one, not one per attempt.
  stackTraceLimit: 1,
} as const;

/**
 * A channel on Redis with BullMQ: one queue per subscription. A publish adds one job per
 * subscription in a single MULTI/EXEC (FlowProducer.addBulk), so an event is in all of
 * the channel's queues or in none; Queue.addBulk would be one transaction per queue.
 * With a single subscription, that queue's own add (atomic by itself) is used instead:
 * a flow costs about twice as much per event.
 * The subscription ids live in a Redis set, so a replica that publishes also fans out to
 * subscriptions another replica registered. Workers of every replica on a queue compete
 * for its jobs; retries are BullMQ delayed jobs and survive restarts.
 */
export class RedisChannel implements Channel {
  readonly kind = REDIS_CHANNEL_KIND;
  readonly #conn: RedisConnectionManager;
  readonly #namespace: string;
  readonly #name: string;
  readonly #subsKey: string;
  readonly #flow: FlowProducer;
  readonly #maxBacklog: number | undefined;
  readonly #lockDurationMs: number;
  readonly #logger: Logger | undefined;
  readonly #metrics: Metrics | undefined;
  readonly #labels: { namespace_name: string; resource: string };
  #subs = new Map<string, RedisSubscription>();
  #remoteQueues = new Map<string, Queue>();
  #closed = false;
  #closing: Promise<void> | undefined;
  #offChange: () => void;
  #registerTimer: NodeJS.Timeout | undefined;
  #backlogs = new Map<string, number>();
  #statsAt = 0;
  #statsRefreshing = false;

  constructor(options: RedisChannelOptions) {
    if (!options.namespace || !options.name) throw new InvalidOptionError('RedisChannel needs a namespace and a name');
    if (options.maxBacklog !== undefined && (!Number.isInteger(options.maxBacklog) || options.maxBacklog < 1)) {
      throw new InvalidOptionError('RedisChannel maxBacklog must be a positive integer');
    }
    this.#conn = options.connection;
    this.#namespace = options.namespace;
    this.#name = options.name;
    this.#maxBacklog = options.maxBacklog;
    this.#lockDurationMs = options.lockDurationMs ?? 30_000;
    this.#logger = options.logger?.child({ channel: `${options.namespace}/${options.name}`, kind: this.kind });
    this.#metrics = options.metrics;
    this.#labels = { namespace_name: options.namespace, resource: options.name };
    this.#subsKey = subscriptionsKeyFor(this.#conn.prefix, options.namespace, options.name);
    this.#flow = new FlowProducer({ connection: this.#conn.publisher, prefix: this.#conn.prefix });
    this.#flow.on('error', (e: Error) => this.#logger?.debug({ err: e }, 'BullMQ flow producer error'));
    this.#offChange = this.#conn.onChange((up) => {
      if (up) this.#registerPending();
    });
  }

  #queueName(subscriptionId: string): string {
    return queueNameFor(this.#namespace, this.#name, subscriptionId);
  }

  ready(): boolean {
    if (this.#closed || !this.#conn.acceptsEvents()) return false;
    for (const s of this.#subs.values()) if (!s.registered) return false;
    return true;
  }

  notReadyReason(): string | undefined {
    if (this.#closed) return 'channel is shutting down';
    const down = this.#conn.notAcceptingReason();
    if (down) return down;
    for (const s of this.#subs.values()) if (!s.registered) return `subscription ${s.spec.id} is not registered in Redis yet`;
    return undefined;
  }

  /**
   * While Ready: a warning about Redis's persistence (no AOF, fsync off, or unknown), for a
   * Ready condition's message; undefined when Redis persists what it acknowledged.
   */
  durabilityWarning(): string | undefined {
    const p = this.#conn.persistence();
    return p?.level === 'warn' && p.refusal === undefined ? p.message : undefined;
  }

  async publish(event: SluiceEvent): Promise<void> {
    await this.#publish([event]);
  }

  /** Atomic: the whole batch, to every subscription, in one transaction. */
  async publishBatch(events: readonly SluiceEvent[]): Promise<void> {
    await this.#publish(events);
  }

  async #publish(events: readonly SluiceEvent[]): Promise<void> {
    if (this.#closed) throw new UnavailableError('channel is shutting down');
    // Down, or (with requireAof) up without AOF: 503 rather than an accept a Redis crash could undo.
    if (!this.#conn.acceptsEvents()) throw this.#refused(new UnavailableError(this.#conn.notAcceptingReason() ?? 'Redis is unreachable'), 'unavailable');
    for (const s of this.#subs.values()) {
      if (!s.registered) throw this.#refused(new UnavailableError(`subscription ${s.spec.id} is not registered in Redis yet`), 'unavailable');
    }
    if (this.#maxBacklog !== undefined) {
      for (const [id, n] of this.#backlogs) {
        if (n >= this.#maxBacklog) throw this.#refused(new ChannelFullError(`subscription ${id} has ${n} unfinished events (maxBacklog ${this.#maxBacklog})`), 'full');
      }
      this.#maybeRefreshStats();
    }
    const started = performance.now();
    try {
      await this.#withTimeout(async () => {
        const subscriptionIds = await this.#conn.publisher.smembers(this.#subsKey);
        // Nobody subscribed: accepted and dropped, as Knative's in-memory channel does.
        if (subscriptionIds.length === 0) return;
        if (subscriptionIds.length === 1) {
          // One queue: its own add is atomic already, and twice as fast as a flow.
          const queue = this.#publishQueue(subscriptionIds[0]!);
          if (events.length === 1) await queue.add('event', encodeJobData(events[0]!), { ...JOB_OPTIONS, jobId: jobIdFor(events[0]!) });
          else await queue.addBulk(events.map((e) => ({ name: 'event', data: encodeJobData(e), opts: { ...JOB_OPTIONS, jobId: jobIdFor(e) } })));
          return;
        }
        const flows: FlowJob[] = [];
        for (const event of events) {
          const data = encodeJobData(event);
          const jobId = jobIdFor(event);
          for (const id of subscriptionIds) flows.push({ name: 'event', queueName: this.#queueName(id), data, opts: { ...JOB_OPTIONS, jobId } });
        }
        await this.#flow.addBulk(flows);
      });
    } catch (e) {
      throw this.#mapPublishError(e);
    }
    this.#metrics?.channelPublishLatency.observe({ ...this.#labels, kind: this.kind }, (performance.now() - started) / 1000);
  }

  /** The queue to add a subscription's jobs to: its worker's, or one kept for a subscription another replica registered. */
  #publishQueue(subscriptionId: string): Queue {
    const local = this.#subs.get(subscriptionId)?.queue;
    if (local) return local;
    let q = this.#remoteQueues.get(subscriptionId);
    if (!q) {
      q = new Queue(this.#queueName(subscriptionId), { connection: this.#conn.publisher, prefix: this.#conn.prefix });
      q.on('error', (e: Error) => this.#logger?.debug({ err: e }, 'BullMQ queue error'));
      this.#remoteQueues.set(subscriptionId, q);
    }
    return q;
  }

  /** BullMQ waits for a connection that is not ready instead of failing: bound every call. */
  async #withTimeout<T>(op: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        op(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer from Redis within ${this.#conn.commandTimeoutMs} ms`)), this.#conn.commandTimeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  #mapPublishError(e: unknown): SluiceError {
    if (e instanceof SluiceError) return e;
    const msg = e instanceof Error ? e.message : String(e);
    if (/^OOM|maxmemory/i.test(msg)) return this.#refused(new ChannelFullError(`Redis is out of memory: ${msg}`, { cause: e }), 'full');
    // A timeout may hide a write that happened: the client's retry is deduplicated by job id.
    return this.#refused(new UnavailableError(`Redis did not confirm the publish: ${msg}`, { cause: e }), 'unavailable');
  }

  #refused<E extends SluiceError>(err: E, reason: string): E {
    this.#metrics?.channelPublishFailures.inc({ ...this.#labels, kind: this.kind, reason });
    return err;
  }

  async subscribe(spec: ChannelSubscription): Promise<void> {
    if (this.#closed) throw new UnavailableError('channel is shutting down');
    if (!Number.isInteger(spec.maxInFlight) || spec.maxInFlight < 1) {
      throw new InvalidOptionError(`subscription ${spec.id}: maxInFlight must be a positive integer`);
    }
    const existing = this.#subs.get(spec.id);
    if (existing) {
      existing.spec = spec;
      existing.setConcurrency(spec.maxInFlight);
      return;
    }
    const sub = new RedisSubscription({
      connection: this.#conn,
      queueName: this.#queueName(spec.id),
      spec,
      lockDurationMs: this.#lockDurationMs,
      logger: this.#logger,
      onRedelivery: this.#metrics ? () => this.#metrics?.channelRedeliveries.inc({ ...this.#labels, subscription: spec.id }) : undefined,
    });
    this.#subs.set(spec.id, sub);
    // Registered before subscribe() resolves when Redis is up, so every publish after it
    // fans out to this subscription; otherwise once Redis is back (ready() is false meanwhile).
    await this.#register(sub);
  }

  async #register(sub: RedisSubscription): Promise<void> {
    if (sub.registered || this.#closed) return;
    try {
      await this.#withTimeout(() => this.#conn.publisher.sadd(this.#subsKey, sub.spec.id));
      sub.registered = true;
    } catch (e) {
      // While Redis is down, the reconnect (onChange) registers it: the connection manager
      // already said Redis is unreachable, so no warning per second here.
      if (!this.#conn.isConnected()) return;
      this.#logger?.warn({ err: e, subscription: sub.spec.id }, 'cannot register the subscription in Redis yet; retrying');
      this.#registerTimer ??= setTimeout(() => {
        this.#registerTimer = undefined;
        this.#registerPending();
      }, 1000);
      this.#registerTimer.unref();
    }
  }

  #registerPending(): void {
    for (const s of this.#subs.values()) if (!s.registered) void this.#register(s);
  }

  async unsubscribe(id: string, options: { purge?: boolean } = {}): Promise<void> {
    const sub = this.#subs.get(id);
    this.#subs.delete(id);
    this.#backlogs.delete(id);
    const remote = this.#remoteQueues.get(id);
    this.#remoteQueues.delete(id);
    if (remote) await bounded(remote.close(), CLOSE_STEP_MS);
    if (options.purge) {
      // Out of the set first, so no publish fans out to the queue being removed.
      try {
        await this.#withTimeout(() => this.#conn.publisher.srem(this.#subsKey, id));
      } catch (e) {
        if (sub) await sub.stop(Date.now());
        throw new UnavailableError(`cannot remove subscription ${id} from Redis: ${(e as Error).message}`, { cause: e });
      }
    }
    if (sub) {
      await sub.stop(Date.now() + 5000, { purge: options.purge === true });
    } else if (options.purge) {
      // Registered by another replica or an earlier run: purge is by name.
      const q = new Queue(this.#queueName(id), { connection: this.#conn.publisher, prefix: this.#conn.prefix });
      q.on('error', () => undefined);
      try {
        await q.obliterate({ force: true });
      } finally {
        await q.close().catch(() => undefined);
      }
    }
  }

  stats(): ChannelStats {
    this.#maybeRefreshStats();
    const subscriptions: Record<string, SubscriptionStats> = {};
    let depth = 0;
    for (const [id, s] of this.#subs) {
      const backlog = this.#backlogs.get(id) ?? 0;
      depth = Math.max(depth, backlog);
      subscriptions[id] = { backlog, inFlight: s.inFlight };
    }
    // depth: events some subscription has not finished (each queue holds its own copy).
    return { depth, capacity: this.#maxBacklog ?? -1, subscriptions };
  }

  #maybeRefreshStats(): void {
    if (this.#statsRefreshing || Date.now() - this.#statsAt < STATS_MIN_INTERVAL_MS || !this.#conn.isConnected()) return;
    this.#statsRefreshing = true;
    this.#statsAt = Date.now();
    void Promise.all(
      [...this.#subs].map(async ([id, s]) => {
        this.#backlogs.set(id, await this.#withTimeout(() => s.backlog()));
      }),
    )
      .catch((e: unknown) => this.#logger?.debug({ err: e }, 'could not refresh Redis stats'))
      .finally(() => {
        this.#statsRefreshing = false;
      });
  }

  /**
   * Stops taking jobs and waits for running handlers until `deadline`; then closes the
   * workers anyway (their jobs are handed out again after the lock expires). Everything
   * not finished stays in Redis for the next replica.
   */
  close(options: { deadline?: number } = {}): Promise<void> {
    this.#closing ??= this.#close(options.deadline ?? Date.now());
    return this.#closing;
  }

  async #close(deadline: number): Promise<void> {
    this.#closed = true;
    this.#offChange();
    clearTimeout(this.#registerTimer);
    const subs = [...this.#subs.values()];
    this.#subs.clear();
    await Promise.all(subs.map((s) => s.stop(deadline)));
    await Promise.all([...this.#remoteQueues.values()].map((q) => bounded(q.close(), CLOSE_STEP_MS)));
    this.#remoteQueues.clear();
    await bounded(this.#flow.close(), CLOSE_STEP_MS);
  }

  /** Removes every subscription's queue and the subscription set. */
  async destroy(): Promise<void> {
    await this.close();
    if (!this.#conn.isConnected()) throw new UnavailableError('Redis is unreachable: channel queues not removed');
    const ids = await this.#conn.publisher.smembers(this.#subsKey);
    for (const id of ids) {
      const q = new Queue(this.#queueName(id), { connection: this.#conn.publisher, prefix: this.#conn.prefix });
      q.on('error', () => undefined);
      try {
        await q.obliterate({ force: true });
      } finally {
        await q.close().catch(() => undefined);
      }
    }
    await this.#conn.publisher.del(this.#subsKey);
  }
}
