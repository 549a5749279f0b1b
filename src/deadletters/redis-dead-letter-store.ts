import type { SluiceEvent } from '../events/types.js';
import type { RedisConnectionManager } from '../channels/bullmq/redis-connection.js';
import { REDIS_CHANNEL_KIND } from '../channels/bullmq/redis-channel-spec.js';
import { UnavailableError } from '../errors.js';
import { matchesFilter, matchesOwner, type DeadLetterEntry, type DeadLetterFilter, type DeadLetterOwner, type RedriveMark } from './dead-letter-store.js';
import { BACKEND_DEAD_LETTER_DEFAULTS, decodeDeadLetter, decodeMark, encodeDeadLetter, encodeMark, type BackendDeadLetterStore, type DeadLetterMeta } from './backend-dead-letter-store.js';

export interface RedisDeadLetterStoreOptions {
  /** The RedisChannels' shared connection; undefined until the first RedisChannel made it. */
  connection: () => RedisConnectionManager | undefined;
  /** Entries per subscription (XADD MAXLEN ~). */
  maxEntries?: number;
  maxAgeMs?: number;
  maxEventBytes?: number;
  listLimit?: number;
  clock?: () => number;
}

/** Sets the mark only if its stored form is still ARGV[1] ('' for none): a compare-and-set. */
const CLAIM_SCRIPT = `
local cur = redis.call('GET', KEYS[1])
if (cur == false and ARGV[1] == '') or cur == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0`;

/**
 * Dead letters of RedisChannel subscriptions, in Redis: a stream per subscription
 * (`<prefix>:dl:s:<ns>/<channel>/<subscription>`, `XADD MAXLEN ~ N`, expiring `maxAgeMs`
 * after its last dead letter), their keys in the set `<prefix>:dl:streams`; entry id
 * `redis:<ns>/<channel>/<subscription>/<stream id>`. A redrive mark is a key per entry
 * (`<prefix>:dl:m:<entry>`, same expiry) set by a compare-and-set script, so of two
 * replicas claiming the same entry at once Redis accepts one.
 */
export class RedisDeadLetterStore implements BackendDeadLetterStore {
  readonly channelKind = REDIS_CHANNEL_KIND;
  readonly prefix = 'redis:';
  readonly #connection: () => RedisConnectionManager | undefined;
  readonly #o: { maxEntries: number; maxAgeMs: number; maxEventBytes: number; listLimit: number; clock: () => number };

  constructor(options: RedisDeadLetterStoreOptions) {
    this.#connection = options.connection;
    const d = BACKEND_DEAD_LETTER_DEFAULTS;
    this.#o = {
      maxEntries: options.maxEntries ?? d.maxEntries,
      maxAgeMs: options.maxAgeMs ?? d.maxAgeMs,
      maxEventBytes: options.maxEventBytes ?? d.maxEventBytes,
      listLimit: options.listLimit ?? d.listLimit,
      clock: options.clock ?? Date.now,
    };
  }

  available(): boolean {
    return this.#connection()?.isConnected() ?? false;
  }

  #conn(): RedisConnectionManager {
    const c = this.#connection();
    if (!c || !c.isConnected()) throw new UnavailableError(c?.notConnectedReason() ?? 'no RedisChannel has connected to Redis yet');
    return c;
  }

  #streamKey(c: RedisConnectionManager, owner: Pick<DeadLetterOwner, 'namespace' | 'resource' | 'name'>): string {
    return `${c.prefix}:dl:s:${owner.namespace}/${owner.resource}/${owner.name}`;
  }

  #markKey(c: RedisConnectionManager, entryId: string): string {
    return `${c.prefix}:dl:m:${entryId.slice(this.prefix.length)}`;
  }

  async add(owner: DeadLetterOwner, event: SluiceEvent, meta: DeadLetterMeta): Promise<void> {
    const c = this.#conn();
    const key = this.#streamKey(c, owner);
    const payload = encodeDeadLetter(owner, event, meta, this.#o.clock(), this.#o.maxEventBytes);
    await c.publisher
      .multi()
      .xadd(key, 'MAXLEN', '~', String(this.#o.maxEntries), '*', 'e', payload)
      .pexpire(key, this.#o.maxAgeMs)
      .sadd(`${c.prefix}:dl:streams`, key)
      .exec();
  }

  async list(owner?: Partial<DeadLetterOwner>, filter?: DeadLetterFilter): Promise<DeadLetterEntry[]> {
    const c = this.#conn();
    const streamPrefix = `${c.prefix}:dl:s:`;
    const exact = owner?.namespace !== undefined && owner.resource !== undefined && owner.name !== undefined;
    const keys = exact ? [this.#streamKey(c, owner as DeadLetterOwner)] : await c.publisher.smembers(`${c.prefix}:dl:streams`);
    const raw: Array<{ entryId: string; text: string }> = [];
    for (const key of keys) {
      const rows = await c.publisher.xrevrange(key, '+', '-', 'COUNT', this.#o.listLimit);
      if (rows.length === 0 && !exact) {
        // Expired or trimmed to nothing: forget it.
        if ((await c.publisher.exists(key)) === 0) await c.publisher.srem(`${c.prefix}:dl:streams`, key);
        continue;
      }
      const sub = key.slice(streamPrefix.length);
      for (const [xid, fields] of rows) {
        const i = fields.indexOf('e');
        if (i >= 0 && fields[i + 1] !== undefined) raw.push({ entryId: `${this.prefix}${sub}/${xid}`, text: fields[i + 1]! });
      }
    }
    const entries = raw.map((r) => decodeDeadLetter(r.entryId, r.text, undefined)).filter((e): e is DeadLetterEntry => e !== undefined && matchesOwner(e.owner, owner));
    const marks = entries.length ? await c.publisher.mget(entries.map((e) => this.#markKey(c, e.entryId))) : [];
    const out: DeadLetterEntry[] = [];
    entries.forEach((e, i) => {
      const mark = decodeMark(marks[i]);
      const withMark = mark ? { ...e, redriven: mark } : e;
      if (matchesFilter(withMark, filter)) out.push(withMark);
    });
    return out.sort((a, b) => b.at - a.at);
  }

  async get(entryId: string): Promise<DeadLetterEntry | undefined> {
    const parsed = this.#parse(entryId);
    if (!parsed) return undefined;
    const c = this.#conn();
    const rows = await c.publisher.xrange(`${c.prefix}:dl:s:${parsed.sub}`, parsed.xid, parsed.xid);
    const fields = rows[0]?.[1];
    const i = fields ? fields.indexOf('e') : -1;
    if (!fields || i < 0) return undefined;
    const mark = decodeMark(await c.publisher.get(this.#markKey(c, entryId)));
    return decodeDeadLetter(entryId, fields[i + 1]!, mark);
  }

  async markRedriven(entryId: string, mark: RedriveMark, expect?: { current: RedriveMark | undefined }): Promise<boolean> {
    if (!this.#parse(entryId)) return false;
    const c = this.#conn();
    const key = this.#markKey(c, entryId);
    if (!expect) {
      await c.publisher.set(key, encodeMark(mark), 'PX', this.#o.maxAgeMs);
      return true;
    }
    const r = await c.publisher.eval(CLAIM_SCRIPT, 1, key, encodeMark(expect.current), encodeMark(mark), String(this.#o.maxAgeMs));
    return r === 1;
  }

  #parse(entryId: string): { sub: string; xid: string } | undefined {
    if (!entryId.startsWith(this.prefix)) return undefined;
    const rest = entryId.slice(this.prefix.length);
    const cut = rest.lastIndexOf('/');
    if (cut <= 0 || !/^\d+-\d+$/.test(rest.slice(cut + 1))) return undefined;
    return { sub: rest.slice(0, cut), xid: rest.slice(cut + 1) };
  }
}
