import type { SluiceEvent } from '../events/types.js';
import type { DeadLetterEntry, DeadLetterOwner, DeadLetterStore, RedriveMark } from './dead-letter-store.js';

/** What a dead letter carries besides its owner and event. */
export interface DeadLetterMeta {
  readonly attempts: number;
  readonly statusCode: number | undefined;
  readonly deadLetterUri: string | undefined;
}

/**
 * A DeadLetterStore kept in a durable channel backend (NATS JetStream, Redis): shared by
 * every Sluice replica on that backend and kept across restarts. Its entry ids start
 * with `prefix`, so a store of stores can route them.
 */
export interface BackendDeadLetterStore extends DeadLetterStore {
  /** The channel kind whose subscriptions' dead letters it keeps, e.g. `NatsJetStreamChannel`. */
  readonly channelKind: string;
  /** Every entry id it gives starts with this, e.g. `nats:`. */
  readonly prefix: string;
  /** True while its backend connection is up (a dead letter is written there, else kept in memory). */
  available(): boolean;
  add(owner: DeadLetterOwner, event: SluiceEvent, meta: DeadLetterMeta): Promise<void>;
}

/** Default limits of the backend stores. */
export const BACKEND_DEAD_LETTER_DEFAULTS = {
  /** Entries per store (NATS: the whole stream; Redis: per subscription). */
  maxEntries: 10_000,
  /** NATS stream bytes. */
  maxBytes: 256 * 1024 * 1024,
  /** Age after which entries (and their marks) go: 14 days. */
  maxAgeMs: 14 * 24 * 3600 * 1000,
  /** Event data above this is kept truncated (listed, not redrivable): NATS's default max payload is 1 MiB. */
  maxEventBytes: 256 * 1024,
  /** Entries read per list. */
  listLimit: 5000,
} as const;

const TRUNCATED_KEEP = 4096;

/** The stored form of one dead letter (JSON). */
interface StoredDeadLetter {
  v: 1;
  owner: DeadLetterOwner;
  at: number;
  attempts: number;
  statusCode?: number;
  deadLetterUri?: string;
  attributes: Record<string, string>;
  /** base64 */
  data?: string;
  redrivable: boolean;
}

export function encodeDeadLetter(owner: DeadLetterOwner, event: SluiceEvent, meta: DeadLetterMeta, at: number, maxEventBytes: number): string {
  const size = event.data?.length ?? 0;
  const redrivable = size <= maxEventBytes;
  const data = event.data === undefined ? undefined : redrivable ? event.data : event.data.subarray(0, TRUNCATED_KEEP);
  const stored: StoredDeadLetter = {
    v: 1,
    owner: { kind: owner.kind, namespace: owner.namespace, name: owner.name, resource: owner.resource },
    at,
    attempts: meta.attempts,
    ...(meta.statusCode !== undefined ? { statusCode: meta.statusCode } : {}),
    ...(meta.deadLetterUri !== undefined ? { deadLetterUri: meta.deadLetterUri } : {}),
    attributes: { ...event.attributes },
    ...(data !== undefined ? { data: Buffer.from(data).toString('base64') } : {}),
    redrivable,
  };
  return JSON.stringify(stored);
}

/** The entry of a stored dead letter; undefined when it is not one (another writer's, a newer version). */
export function decodeDeadLetter(entryId: string, text: string, redriven: RedriveMark | undefined): DeadLetterEntry | undefined {
  let s: StoredDeadLetter;
  try {
    s = JSON.parse(text) as StoredDeadLetter;
  } catch {
    return undefined;
  }
  if (s?.v !== 1 || typeof s.owner !== 'object' || typeof s.attributes !== 'object') return undefined;
  const event: SluiceEvent = s.data === undefined ? { attributes: s.attributes } : { attributes: s.attributes, data: Buffer.from(s.data, 'base64') };
  return {
    entryId,
    owner: s.owner,
    at: s.at,
    attempts: s.attempts,
    statusCode: s.statusCode,
    deadLetterUri: s.deadLetterUri,
    event,
    redrivable: s.redrivable,
    ...(redriven ? { redriven } : {}),
  };
}

export function decodeMark(text: string | null | undefined): RedriveMark | undefined {
  if (!text) return undefined;
  try {
    return JSON.parse(text) as RedriveMark;
  } catch {
    return undefined;
  }
}

/** A mark's stored form; comparing these is how a claim checks nobody changed the mark since it was read. */
export function encodeMark(mark: RedriveMark | undefined): string {
  if (!mark) return '';
  return JSON.stringify({
    at: mark.at,
    outcome: mark.outcome,
    ...(mark.statusCode !== undefined ? { statusCode: mark.statusCode } : {}),
    redriveCount: mark.redriveCount,
    ...(mark.until !== undefined ? { until: mark.until } : {}),
  });
}
