import { Queue, Worker, type Job } from 'bullmq';
import type { SluiceEvent } from '../../events/types.js';
import type { ChannelSubscription, DeliveryResult } from '../channel.js';
import type { Logger } from '../../observability/logger.js';
import type { RedisConnectionManager } from './redis-connection.js';
import { bounded, CLOSE_STEP_MS } from './bounded.js';

/** What a job carries: the attributes and the data as base64 (`null`: no data). */
export interface EventJobData {
  a: Record<string, string>;
  d: string | null;
}

export function encodeJobData(event: SluiceEvent): EventJobData {
  return { a: { ...event.attributes }, d: event.data === undefined ? null : event.data.toString('base64') };
}

function decodeJobData(data: unknown): SluiceEvent | undefined {
  const d = data as Partial<EventJobData> | null;
  if (!d || typeof d.a !== 'object' || d.a === null) return undefined;
  for (const k of ['specversion', 'id', 'source', 'type']) if (typeof d.a[k] !== 'string') return undefined;
  return { attributes: d.a, data: typeof d.d === 'string' ? Buffer.from(d.d, 'base64') : undefined };
}

/** Thrown from the processor so BullMQ schedules a delayed retry; the backoff strategy reads the delay. */
class RetryLater extends Error {
  constructor(readonly delayMs: number) {
    super(`retry in ${delayMs} ms`);
    this.name = 'RetryLater';
  }
}

const HANDLER_THREW_RETRY_MS = 1000;
/** Longest wait for a BullMQ worker to close; what it still held comes back after its lock expires. */
const WORKER_CLOSE_TIMEOUT_MS = 5000;

export interface RedisSubscriptionOptions {
  connection: RedisConnectionManager;
  queueName: string;
  spec: ChannelSubscription;
  /** Lock on an active job; a worker that dies holding one has its jobs redelivered after it. */
  lockDurationMs: number;
  logger?: Logger | undefined;
  onRedelivery?: (() => void) | undefined;
}

/**
 * One subscription's BullMQ queue and worker. The handler's `retry` becomes BullMQ's
 * own delayed retry (a job in the delayed set, in Redis), so pending retries survive a
 * broker restart and any replica's worker may pick them up.
 */
export class RedisSubscription {
  spec: ChannelSubscription;
  inFlight = 0;
  /** The id is in the channel's subscription set: every replica's publishes fan out to it. */
  registered = false;
  readonly queue: Queue;
  readonly #worker: Worker;
  readonly #o: RedisSubscriptionOptions;
  #idleWaiters: Array<() => void> = [];

  constructor(options: RedisSubscriptionOptions) {
    this.#o = options;
    this.spec = options.spec;
    const { connection } = options;
    this.queue = new Queue(options.queueName, { connection: connection.publisher, prefix: connection.prefix });
    this.queue.on('error', (e: Error) => options.logger?.debug({ err: e, queue: options.queueName }, 'BullMQ queue error'));
    this.#worker = new Worker(options.queueName, (job, token) => this.#process(job, token), {
      connection: connection.worker,
      prefix: connection.prefix,
      concurrency: options.spec.maxInFlight,
      lockDuration: options.lockDurationMs,
      stalledInterval: options.lockDurationMs,
      // A job whose worker died is put back, however often that happens: never failed (lost).
      maxStalledCount: 1_000_000_000,
      settings: {
        backoffStrategy: (_attemptsMade: number, _type?: string, err?: Error) => (err instanceof RetryLater ? err.delayMs : HANDLER_THREW_RETRY_MS),
      },
    });
    this.#worker.on('error', (e: Error) => options.logger?.debug({ err: e, queue: options.queueName }, 'BullMQ worker error'));
    this.#worker.on('failed', (job: Job | undefined, err: Error) => {
      // Only a job out of attempts ends here for good (attempts is huge: the dispatcher decides).
      if (job && job.attemptsMade >= (job.opts.attempts ?? 1)) {
        options.logger?.error({ err, queue: options.queueName, jobId: job.id }, 'event dropped: out of BullMQ attempts');
      }
    });
  }

  async #process(job: Job, token?: string): Promise<void> {
    const event = decodeJobData(job.data);
    if (!event) {
      this.#o.logger?.error({ queue: this.#o.queueName, jobId: job.id }, 'dropping a job that is not a Sluice event');
      return;
    }
    const attempt = job.attemptsMade + 1;
    if (attempt > 1) this.#o.onRedelivery?.();
    this.inFlight++;
    let result: DeliveryResult;
    try {
      result = await this.spec.handler(event, {
        attempt,
        // BullMQ renews the lock itself while the processor runs; this only makes it sooner.
        working: () => void (token ? job.extendLock(token, this.#o.lockDurationMs).catch(() => undefined) : undefined),
      });
    } catch (e) {
      this.#o.logger?.warn({ err: e, subscription: this.spec.id }, 'delivery handler threw; retrying the event');
      result = { outcome: 'retry', delayMs: HANDLER_THREW_RETRY_MS };
    } finally {
      this.inFlight--;
      if (this.inFlight === 0) for (const w of this.#idleWaiters.splice(0)) w();
    }
    if (result.outcome === 'retry') throw new RetryLater(Math.max(0, Math.round(result.delayMs)));
  }

  setConcurrency(n: number): void {
    this.#worker.concurrency = n;
  }

  /**
   * Stops taking jobs, waits for running handlers until `deadline`, then closes the
   * worker: gracefully when they finished (BullMQ records their outcome), forced when
   * not (those jobs come back to a worker once their lock expires).
   */
  async stop(deadline: number, options: { purge?: boolean } = {}): Promise<void> {
    await bounded(this.#worker.pause(true), CLOSE_STEP_MS);
    if (this.inFlight > 0 && deadline > Date.now()) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, deadline - Date.now());
        this.#idleWaiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    // A graceful close waits for the worker's loop, which waits for Redis: while Redis is
    // down that is forever (a broker stopped during an outage never exited). Force it then;
    // and bound it anyway, should Redis go away during the close.
    const force = this.inFlight > 0 || !this.#o.connection.isConnected();
    await bounded(this.#worker.close(force), WORKER_CLOSE_TIMEOUT_MS);
    try {
      if (options.purge) await this.queue.obliterate({ force: true });
    } finally {
      await bounded(this.queue.close(), CLOSE_STEP_MS);
    }
  }

  /** Events not finished for this subscription (waiting, active, delayed retries). */
  async backlog(): Promise<number> {
    const c = await this.queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children');
    return Object.values(c).reduce((a, b) => a + b, 0);
  }
}
