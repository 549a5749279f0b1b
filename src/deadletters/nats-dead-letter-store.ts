import { nanos } from '@nats-io/transport-node';
import { DeliverPolicy, DiscardPolicy, JetStreamApiCodes, JetStreamApiError, RetentionPolicy, StorageType, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { SluiceEvent } from '../events/types.js';
import type { NatsConnectionManager } from '../channels/nats/nats-connection.js';
import { NATS_JETSTREAM_CHANNEL_KIND } from '../channels/nats/nats-channel-spec.js';
import { safeToken } from '../channels/nats/nats-names.js';
import { UnavailableError } from '../errors.js';
import { matchesFilter, matchesOwner, type DeadLetterEntry, type DeadLetterFilter, type DeadLetterOwner, type RedriveMark } from './dead-letter-store.js';
import { BACKEND_DEAD_LETTER_DEFAULTS, decodeDeadLetter, decodeMark, encodeDeadLetter, encodeMark, type BackendDeadLetterStore, type DeadLetterMeta } from './backend-dead-letter-store.js';

export const DEAD_LETTER_STREAM = 'SLUICE_DEADLETTERS';
export const DEAD_LETTER_MARKS_STREAM = 'SLUICE_DEADLETTER_MARKS';
// Not under `sluice.`: channel streams hold `sluice.<ns>.<name>`, and a namespace `dl` would overlap.
const SUBJECT_ROOT = 'sluicedl';
const MARK_ROOT = 'sluicedlmark';

export interface NatsDeadLetterStoreOptions {
  /** The server's shared NATS connection (the NatsJetStreamChannels'). */
  connection: NatsConnectionManager;
  maxEntries?: number;
  maxBytes?: number;
  maxAgeMs?: number;
  maxEventBytes?: number;
  listLimit?: number;
  clock?: () => number;
}

function isApiError(e: unknown, code: number): boolean {
  return e instanceof JetStreamApiError && e.code === code;
}

/** `sluicedl.<ns>.<channel>.<subscription>`: one subject per subscription, so a listing of one reads only its messages. */
export function deadLetterSubject(owner: Pick<DeadLetterOwner, 'namespace' | 'resource' | 'name'>): string {
  return `${SUBJECT_ROOT}.${safeToken(owner.namespace)}.${safeToken(owner.resource)}.${safeToken(owner.name)}`;
}

/**
 * Dead letters of NatsJetStreamChannel subscriptions, in JetStream: stream
 * `SLUICE_DEADLETTERS` (file storage, limits by count, bytes and age, oldest discarded),
 * one message per dead letter; entry id `nats:<stream sequence>`. Redrive marks live in
 * stream `SLUICE_DEADLETTER_MARKS`, one subject per entry (`sluicedlmark.<seq>`, last
 * message kept): a claim publishes with an expected last subject sequence (0: no mark
 * yet), so of two replicas claiming the same entry at once JetStream accepts one.
 */
export class NatsDeadLetterStore implements BackendDeadLetterStore {
  readonly channelKind = NATS_JETSTREAM_CHANNEL_KIND;
  readonly prefix = 'nats:';
  readonly #o: Required<Omit<NatsDeadLetterStoreOptions, 'connection' | 'clock'>> & { clock: () => number };
  readonly #connection: NatsConnectionManager;
  /** The streams exist (checked once per store; recreated on demand if deleted). */
  #ready: Promise<void> | undefined;

  constructor(options: NatsDeadLetterStoreOptions) {
    this.#connection = options.connection;
    const d = BACKEND_DEAD_LETTER_DEFAULTS;
    this.#o = {
      maxEntries: options.maxEntries ?? d.maxEntries,
      maxBytes: options.maxBytes ?? d.maxBytes,
      maxAgeMs: options.maxAgeMs ?? d.maxAgeMs,
      maxEventBytes: options.maxEventBytes ?? d.maxEventBytes,
      listLimit: options.listLimit ?? d.listLimit,
      clock: options.clock ?? Date.now,
    };
  }

  available(): boolean {
    return this.#connection.isConnected();
  }

  #clients(): { js: JetStreamClient; jsm: JetStreamManager } {
    if (!this.#connection.isConnected()) throw new UnavailableError(this.#connection.notConnectedReason() ?? 'NATS is not connected');
    return this.#connection.clients();
  }

  async #ensure(): Promise<{ js: JetStreamClient; jsm: JetStreamManager }> {
    const c = this.#clients();
    this.#ready ??= this.#createStreams(c.jsm).catch((err: unknown) => {
      this.#ready = undefined;
      throw err;
    });
    await this.#ready;
    return c;
  }

  async #createStreams(jsm: JetStreamManager): Promise<void> {
    const common = { retention: RetentionPolicy.Limits, storage: StorageType.File, discard: DiscardPolicy.Old, max_age: nanos(this.#o.maxAgeMs), num_replicas: 1 };
    const streams = [
      { name: DEAD_LETTER_STREAM, description: 'Sluice dead letters', subjects: [`${SUBJECT_ROOT}.>`], max_msgs: this.#o.maxEntries, max_bytes: this.#o.maxBytes, ...common },
      { name: DEAD_LETTER_MARKS_STREAM, description: 'Sluice dead-letter redrive marks', subjects: [`${MARK_ROOT}.>`], max_msgs_per_subject: 1, max_msgs: this.#o.maxEntries, ...common },
    ];
    for (const s of streams) {
      try {
        await jsm.streams.info(s.name);
      } catch (e) {
        if (!isApiError(e, JetStreamApiCodes.StreamNotFound)) throw e;
        try {
          await jsm.streams.add(s);
        } catch (err) {
          // Another replica made it in between: fine.
          if (!/already in use/i.test((err as Error).message)) throw err;
        }
      }
    }
  }

  async add(owner: DeadLetterOwner, event: SluiceEvent, meta: DeadLetterMeta): Promise<void> {
    const { js } = await this.#ensure();
    await js.publish(deadLetterSubject(owner), encodeDeadLetter(owner, event, meta, this.#o.clock(), this.#o.maxEventBytes), { timeout: this.#connection.publishTimeoutMs });
  }

  async list(owner?: Partial<DeadLetterOwner>, filter?: DeadLetterFilter): Promise<DeadLetterEntry[]> {
    const { js, jsm } = await this.#ensure();
    const exact = owner?.namespace !== undefined && owner.resource !== undefined && owner.name !== undefined;
    const subject = exact ? deadLetterSubject(owner as DeadLetterOwner) : `${SUBJECT_ROOT}.>`;
    const messages = await readStream(js, jsm, DEAD_LETTER_STREAM, subject, this.#o.listLimit);
    const marks = new Map<number, RedriveMark>();
    for (const m of await readStream(js, jsm, DEAD_LETTER_MARKS_STREAM, `${MARK_ROOT}.>`, this.#o.maxEntries)) {
      const mark = decodeMark(m.text);
      if (mark) marks.set(Number(m.subject.slice(MARK_ROOT.length + 1)), mark);
    }
    const out: DeadLetterEntry[] = [];
    for (const m of messages) {
      const e = decodeDeadLetter(`${this.prefix}${m.seq}`, m.text, marks.get(m.seq));
      if (e && matchesOwner(e.owner, owner) && matchesFilter(e, filter)) out.push(e);
    }
    return out.reverse();
  }

  async get(entryId: string): Promise<DeadLetterEntry | undefined> {
    const seq = this.#seqOf(entryId);
    if (seq === undefined) return undefined;
    const { jsm } = await this.#ensure();
    const m = await jsm.streams.getMessage(DEAD_LETTER_STREAM, { seq }).catch((e: unknown) => {
      if (isApiError(e, JetStreamApiCodes.NoMessageFound)) return null;
      throw e;
    });
    if (!m) return undefined;
    const mark = await this.#mark(jsm, seq);
    return decodeDeadLetter(entryId, m.string(), mark?.mark);
  }

  async #mark(jsm: JetStreamManager, seq: number): Promise<{ mark: RedriveMark | undefined; seq: number } | undefined> {
    const m = await jsm.streams.getMessage(DEAD_LETTER_MARKS_STREAM, { last_by_subj: `${MARK_ROOT}.${seq}` }).catch((e: unknown) => {
      if (isApiError(e, JetStreamApiCodes.NoMessageFound)) return null;
      throw e;
    });
    return m ? { mark: decodeMark(m.string()), seq: m.seq } : undefined;
  }

  async markRedriven(entryId: string, mark: RedriveMark, expect?: { current: RedriveMark | undefined }): Promise<boolean> {
    const seq = this.#seqOf(entryId);
    if (seq === undefined) return false;
    const { js, jsm } = await this.#ensure();
    const subject = `${MARK_ROOT}.${seq}`;
    if (!expect) {
      await js.publish(subject, encodeMark(mark), { timeout: this.#connection.publishTimeoutMs });
      return true;
    }
    const current = await this.#mark(jsm, seq);
    if (encodeMark(current?.mark) !== encodeMark(expect.current)) return false;
    try {
      // Accepted only if the subject's last message is still the one read (0: none): compare-and-set.
      await js.publish(subject, encodeMark(mark), { timeout: this.#connection.publishTimeoutMs, expect: { lastSubjectSequence: current?.seq ?? 0 } });
      return true;
    } catch (e) {
      if (isApiError(e, JetStreamApiCodes.StreamWrongLastSequence) || /wrong last sequence/i.test((e as Error).message)) return false;
      throw e;
    }
  }

  #seqOf(entryId: string): number | undefined {
    if (!entryId.startsWith(this.prefix)) return undefined;
    const n = Number(entryId.slice(this.prefix.length));
    return Number.isSafeInteger(n) && n > 0 ? n : undefined;
  }
}

/** The messages of `stream` on `subject`, oldest first, at most the newest `limit`: read with an ordered consumer. */
async function readStream(js: JetStreamClient, jsm: JetStreamManager, stream: string, subject: string, limit: number): Promise<Array<{ seq: number; subject: string; text: string }>> {
  const info = await jsm.streams.info(stream, { subjects_filter: subject });
  const count = Object.values(info.state.subjects ?? {}).reduce((a, b) => a + b, 0);
  if (count === 0) return [];
  // The newest matter: read from the last `4 * limit` sequences of the stream at most.
  const start = Math.max(info.state.first_seq, info.state.last_seq - 4 * limit + 1);
  const consumer = await js.consumers.get(stream, { filter_subjects: subject, opt_start_seq: start, deliver_policy: DeliverPolicy.StartSequence });
  const out: Array<{ seq: number; subject: string; text: string }> = [];
  const iter = await consumer.fetch({ max_messages: Math.min(count, limit * 4), expires: 2000 });
  for await (const m of iter) {
    out.push({ seq: m.seq, subject: m.subject, text: m.string() });
    if (m.info.pending === 0) break;
  }
  return out.slice(-limit);
}
