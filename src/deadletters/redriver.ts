import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { DeliveryObserver, OutcomeInfo } from '../dispatcher/types.js';
import type { SluiceEvent } from '../events/types.js';
import { claimLapsed, type DeadLetterEntry, type DeadLetterFilter, type DeadLetterOwner, type DeadLetterStore, type RedriveMark } from './dead-letter-store.js';
import { DEFAULT_DELIVERY_TIMEOUT_MS } from '../dispatcher/dispatcher.js';
import { retryDelayMs } from '../subscriptions/backoff.js';
import type { DeliveryPolicy } from '../subscriptions/delivery-spec.js';
import type { DeliveryTargetDirectory } from './delivery-targets.js';
import { formatRef } from './subscription-ref.js';
import { NotReadyError } from '../errors.js';

/** The extension a redriven event carries: how many times it was redriven. */
export const REDRIVE_COUNT_ATTRIBUTE = 'sluiceredrivecount';
const ERROR_EXTENSIONS = ['knativeerrordest', 'knativeerrorcode', 'knativeerrordata'];

export interface RedriveRequest {
  readonly owner: DeadLetterOwner;
  /** Event ids or entry ids; none: every entry the filter matches. */
  readonly ids?: readonly string[] | undefined;
  readonly filter?: DeadLetterFilter | undefined;
  /** Say what would be sent, send nothing. */
  readonly dryRun?: boolean | undefined;
  /** Also redrive entries already redriven once. */
  readonly force?: boolean | undefined;
}

export type RedriveOutcome = 'would-send' | 'delivered' | 'dead-lettered' | 'failed' | 'interrupted' | 'skipped' | 'not-found';

export interface RedriveResult {
  /** Undefined for an id that matched no entry. */
  entryId?: string | undefined;
  eventId: string;
  eventType?: string | undefined;
  eventSource?: string | undefined;
  outcome: RedriveOutcome;
  /** Why an entry was skipped or not found. */
  reason?: string | undefined;
  /** The subscriber's last status (null: no response). */
  statusCode?: number | null | undefined;
  /** Attempts the redrive made to the subscriber. */
  attempts?: number | undefined;
  /** The `sluiceredrivecount` the event was (or would be) sent with. */
  redriveCount?: number | undefined;
}

export interface RedriveResponse {
  subscription: string;
  dryRun: boolean;
  /** Entries sent (or, with dryRun, that would be). */
  sent: number;
  delivered: number;
  /** Sent but failed again (dead-lettered again, dropped or interrupted). */
  failed: number;
  skipped: number;
  items: RedriveResult[];
}

export interface RedriverOptions {
  store: DeadLetterStore;
  directory: DeliveryTargetDirectory;
  logger: Logger;
  /** True once the dispatcher is closed: redrives stop. */
  isClosed: () => boolean;
  /** Redrives in flight at once per request (default 8). */
  concurrency?: number;
  clock?: () => number;
}

/** The event as the subscriber gets it again: same id and data, no `knativeerror*`, `sluiceredrivecount` + 1. */
export function redrivenEvent(deadLetter: SluiceEvent): { event: SluiceEvent; count: number } {
  const attributes: Record<string, string> = {};
  for (const [k, v] of Object.entries(deadLetter.attributes)) if (!ERROR_EXTENSIONS.includes(k)) attributes[k] = v;
  const previous = Number(attributes[REDRIVE_COUNT_ATTRIBUTE]);
  const count = (Number.isSafeInteger(previous) && previous > 0 ? previous : 0) + 1;
  attributes[REDRIVE_COUNT_ATTRIBUTE] = String(count);
  return { event: deadLetter.data === undefined ? { attributes } : { attributes, data: deadLetter.data }, count };
}

/**
 * Sends dead letters again to their subscription's current subscriber, through the
 * handler the subscription's channel uses: the subscription's retries, backoff, timeout,
 * reply and dead-letter sink apply again (the retry waits happen here, in process, not
 * in the channel). An entry is claimed before it is sent, so it is sent at most once
 * per request and once overall unless `force` is given. Observes the dispatcher's
 * outcomes to tell delivered from failed again.
 */
export class Redriver implements DeliveryObserver {
  readonly #o: RedriverOptions;
  readonly #concurrency: number;
  /** Redriven events in flight → their final outcome once the dispatcher reported it. */
  readonly #waiting = new WeakMap<SluiceEvent, OutcomeInfo | null>();
  /** Aborts the retry waits of redrives in flight (the admin server is closing). */
  readonly #closing = new AbortController();

  constructor(options: RedriverOptions) {
    this.#o = options;
    this.#concurrency = Math.max(1, options.concurrency ?? 8);
  }

  get #closed(): boolean {
    return this.#closing.signal.aborted || this.#o.isClosed();
  }

  #now(): number {
    return (this.#o.clock ?? Date.now)();
  }

  /** Stops the redrives in flight after their current attempt; what they did not send stays in the store. */
  close(): void {
    this.#closing.abort();
  }

  onOutcome(info: OutcomeInfo): void {
    if (info.outcome === 'retrying' || !this.#waiting.has(info.event)) return;
    this.#waiting.set(info.event, info);
  }

  /** Which entries a request selects, newest first, with the ids that matched none. */
  async select(req: RedriveRequest): Promise<{ entries: DeadLetterEntry[]; unmatched: string[] }> {
    let entries = await this.#o.store.list(req.owner, req.filter);
    const unmatched: string[] = [];
    if (req.ids && req.ids.length > 0) {
      const wanted = new Set(req.ids);
      entries = entries.filter((e) => wanted.has(e.entryId) || wanted.has(e.event.attributes.id ?? ''));
      for (const id of wanted) if (!entries.some((e) => e.entryId === id || e.event.attributes.id === id)) unmatched.push(id);
    }
    return { entries, unmatched };
  }

  async redrive(req: RedriveRequest): Promise<RedriveResponse> {
    const { entries, unmatched } = await this.select(req);
    const items: RedriveResult[] = [];
    const toSend: Array<{ entry: DeadLetterEntry; result: RedriveResult }> = [];
    // One send per event (source + id) per request: the newest dead letter of it.
    const seen = new Set<string>();
    for (const entry of entries) {
      const a = entry.event.attributes;
      const result: RedriveResult = { entryId: entry.entryId, eventId: a.id ?? '', eventType: a.type, eventSource: a.source, outcome: 'skipped' };
      items.push(result);
      const eventKey = `${a.source} ${a.id}`;
      if (!entry.redrivable) result.reason = 'the event was too large to be kept whole; only its first bytes are listed';
      else if (entry.redriven && !req.force && !claimLapsed(entry.redriven, this.#now())) result.reason = `already redriven at ${entry.redriven.at} (${entry.redriven.outcome}); use force to send it again`;
      else if (seen.has(eventKey)) result.reason = 'a newer dead letter of the same event is redriven in this request';
      else {
        seen.add(eventKey);
        result.redriveCount = redrivenEvent(entry.event).count;
        result.outcome = 'would-send';
        toSend.push({ entry, result });
      }
    }
    for (const id of unmatched) items.push({ eventId: id, outcome: 'not-found', reason: `no dead letter with id ${JSON.stringify(id)} kept for ${formatRef(req.owner)}` });
    const response: RedriveResponse = { subscription: formatRef(req.owner), dryRun: Boolean(req.dryRun), sent: toSend.length, delivered: 0, failed: 0, skipped: 0, items };
    if (!req.dryRun && toSend.length > 0) {
      const current = this.#o.directory.get(req.owner.namespace, req.owner.resource, req.owner.name);
      if (!current) throw new NotReadyError(`${req.owner.kind} ${req.owner.namespace}/${req.owner.name} is not ready (no subscriber to deliver to); see its status`);
      let next = 0;
      const worker = async () => {
        while (next < toSend.length) {
          const job = toSend[next++]!;
          await this.#send(job.entry, job.result, current.handler, current.target.policy);
        }
      };
      await Promise.all(Array.from({ length: Math.min(this.#concurrency, toSend.length) }, worker));
      response.sent = toSend.filter((j) => j.result.outcome !== 'skipped').length;
      this.#o.logger.info({ subscription: response.subscription, sent: response.sent }, 'dead letters redriven');
    }
    for (const r of items) {
      if (r.outcome === 'delivered') response.delivered++;
      else if (r.outcome === 'dead-lettered' || r.outcome === 'failed' || r.outcome === 'interrupted') response.failed++;
      else if (r.outcome === 'skipped' || r.outcome === 'not-found') response.skipped++;
    }
    return response;
  }

  async #send(entry: DeadLetterEntry, result: RedriveResult, handler: (e: SluiceEvent, c: { attempt: number }) => Promise<{ outcome: string; delayMs?: number }>, policy: DeliveryPolicy): Promise<void> {
    const retry = policy.retry;
    const { event, count } = redrivenEvent(entry.event);
    const now = () => new Date(this.#now()).toISOString();
    const claim: RedriveMark = { at: now(), outcome: 'sending', redriveCount: count, until: new Date(this.#now() + claimLifetimeMs(policy, retry)).toISOString() };
    // Claimed only if no other request changed the mark since it was read.
    let claimed: boolean;
    try {
      claimed = await this.#o.store.markRedriven(entry.entryId, claim, { current: entry.redriven });
    } catch (err) {
      result.outcome = 'skipped';
      result.reason = `cannot claim the dead letter in its store: ${err instanceof Error ? err.message : String(err)}`;
      return;
    }
    if (!claimed) {
      result.outcome = 'skipped';
      result.reason = 'another redrive request took this dead letter first';
      return;
    }
    this.#waiting.set(event, null);
    let attempt = 1;
    try {
      for (;;) {
        if (this.#closed) break;
        const r = await handler(event, { attempt });
        if (r.outcome === 'done') break;
        // The handler never asks for more than retry + 1 attempts; this bounds a bug, not the policy.
        if (attempt > retry + 1 || this.#closed) break;
        await sleep(r.delayMs ?? 0, undefined, { signal: this.#closing.signal });
        attempt++;
      }
    } catch (err) {
      if (!this.#closing.signal.aborted) this.#o.logger.error({ err, entryId: entry.entryId }, 'redrive failed unexpectedly');
    }
    const final = this.#waiting.get(event) ?? undefined;
    this.#waiting.delete(event);
    result.attempts = attempt;
    result.statusCode = final?.statusCode ?? null;
    result.outcome = final ? (final.outcome as RedriveOutcome) : 'interrupted';
    if (!final) result.reason = 'Sluice is shutting down: the redrive stopped before an outcome';
    const outcome = result.outcome === 'delivered' || result.outcome === 'dead-lettered' || result.outcome === 'failed' ? result.outcome : 'interrupted';
    try {
      await this.#o.store.markRedriven(entry.entryId, { at: now(), outcome, statusCode: final?.statusCode, redriveCount: count });
    } catch (err) {
      // The claim stays: the entry shows as `sending` rather than being sent again.
      this.#o.logger.warn({ err, entryId: entry.entryId }, 'recording the outcome of a redrive failed');
    }
  }
}

/** A claim's slack beyond the policy's worst case (a slow reply, a dead-letter sink, a pause). */
const CLAIM_SLACK_MS = 5 * 60_000;

/**
 * How long a redrive may run under `policy`: every attempt timing out, every wait at its
 * longest, and the same again for a reply or dead-letter send; plus slack.
 */
function claimLifetimeMs(policy: DeliveryPolicy, retry: number): number {
  const attempts = retry + 1;
  const timeout = policy.timeoutMs ?? DEFAULT_DELIVERY_TIMEOUT_MS;
  let waits = 0;
  for (let i = 1; i < attempts; i++) waits += retryDelayMs(policy, i);
  return 2 * (attempts * timeout + waits) + CLAIM_SLACK_MS;
}
