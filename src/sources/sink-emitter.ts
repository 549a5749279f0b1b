import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { SinkRefusedError } from '../errors.js';
import { isRetryableStatus, type Dispatcher, type EndpointLease, type SendResult } from '../dispatcher/index.js';
import type { SluiceEvent } from '../events/types.js';
import type { ResolvedDestination } from '../runtime/addressing.js';
import { resolveDeliveryPolicy, retryDelayMs, type DeliveryPolicy } from '../subscriptions/index.js';

/**
 * How a source retries an event its sink refused: Knative's adapters give up after a few
 * quick tries, and a webhook sender (GitHub waits 10 s) must get its answer in time.
 * Waits 200, 400, 800 ms; 10 s per attempt.
 */
export const DEFAULT_SOURCE_EMIT_POLICY: DeliveryPolicy = resolveDeliveryPolicy({ retry: 3, backoffPolicy: 'exponential', backoffDelay: 'PT0.1S', timeout: 'PT10S' });

export interface SinkEmitterOptions {
  dispatcher: Pick<Dispatcher, 'send'>;
  /** The resolved `spec.sink`. */
  target: ResolvedDestination;
  /** Maps Sluice's public URL to its local ingress, so emits to its own channels never leave the host. */
  localize: (url: string) => string;
  policy?: DeliveryPolicy;
  logger: Logger;
}

/**
 * The EmitFn every source is started with: POSTs the event to the sink in binary mode
 * (the dispatcher's `send`, so sources share its connection pool), retries what Knative
 * retries (404, 408, 409, 429, 5xx, no answer) with the policy's backoff, and resolves
 * only once the sink took the event. A sink behind the activator is woken first.
 */
export class SinkEmitter {
  readonly #o: SinkEmitterOptions;
  readonly #policy: DeliveryPolicy;
  readonly #closing = new AbortController();
  #target: ResolvedDestination;

  constructor(options: SinkEmitterOptions) {
    this.#o = options;
    this.#target = options.target;
    this.#policy = options.policy ?? DEFAULT_SOURCE_EMIT_POLICY;
  }

  /** The sink's address as resolved (the source's `status.sinkUri`). */
  get sinkUri(): string {
    return this.#target.url;
  }

  /** Where a local process reaches the sink (`K_SINK`). */
  get localSinkUri(): string {
    return this.#o.localize(this.#target.url);
  }

  /** Same URL, new resolution (the activator's resolver is rebuilt with its Service). */
  setTarget(target: ResolvedDestination): void {
    this.#target = target;
  }

  /** Ends waits and in-flight attempts: pending emits reject. */
  close(): void {
    this.#closing.abort();
  }

  readonly emit = async (event: SluiceEvent): Promise<void> => {
    let last: SendResult | undefined;
    for (let retry = 0; ; retry++) {
      if (last) {
        const wait = retryDelayMs(this.#policy, retry, { statusCode: last.statusCode, retryAfter: last.headers['retry-after'] });
        try {
          await sleep(wait, undefined, { signal: this.#closing.signal });
        } catch {
          break;
        }
      }
      if (this.#closing.signal.aborted) break;
      last = await this.#attempt(event);
      if (last.ok) return;
      if (!isRetryableStatus(last.statusCode) || retry >= this.#policy.retry) break;
      this.#o.logger.debug({ id: event.attributes.id, statusCode: last.statusCode, err: last.error?.message, attempt: retry + 1 }, 'sink refused the event; retrying');
    }
    const what = last?.statusCode !== undefined ? `answered ${last.statusCode}${bodyHint(last)}` : `could not be reached${last?.error ? `: ${last.error.message}` : ''}`;
    throw new SinkRefusedError(`sink ${this.#target.url} ${this.#closing.signal.aborted ? 'is no longer used (source stopped)' : what}`, {
      sinkStatus: last?.statusCode,
      cause: last?.error,
    });
  };

  async #attempt(event: SluiceEvent): Promise<SendResult> {
    const t = this.#target;
    let lease: EndpointLease | undefined;
    let url = this.#o.localize(t.url);
    if (t.endpoint) {
      try {
        // Waking a scaled-to-zero sink is not part of the attempt's timeout.
        lease = await t.endpoint.acquire(this.#closing.signal);
        url = lease.url;
      } catch (err) {
        return { ok: false, statusCode: 503, headers: {}, body: Buffer.alloc(0), bodyTruncated: false, error: err as Error, durationMs: 0 };
      }
    }
    try {
      return await this.#o.dispatcher.send(url, event, {
        signal: this.#closing.signal,
        ...(this.#policy.timeoutMs ? { timeoutMs: this.#policy.timeoutMs } : {}),
      });
    } finally {
      lease?.release();
    }
  }
}

function bodyHint(r: SendResult): string {
  const text = r.body.toString('utf8').trim();
  return text ? `: ${text.slice(0, 200)}` : '';
}
