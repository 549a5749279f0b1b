import { Redis, type RedisOptions } from 'ioredis';
import { InvalidOptionError } from '../../errors.js';
import type { Logger } from '../../observability/logger.js';
import { bounded, CLOSE_STEP_MS } from './bounded.js';
import { assessPersistence, checkRedisPersistence, type PersistenceAssessment } from './redis-durability.js';

export interface RedisConnectionOptions {
  /** `redis://[user:pass@]host:port[/db]` or `rediss://` for TLS. */
  url?: string;
  host?: string;
  port?: number;
  username?: string;
  password?: string;
  db?: number;
  /** TLS on (system CAs) or ioredis/Node TLS options. */
  tls?: boolean | { ca?: string; cert?: string; key?: string; servername?: string };
  /** BullMQ key prefix (default `sluice`); every key Sluice writes starts with it. */
  prefix?: string;
  /** Longest wait for Redis on a publish before answering 503 (ms, default 3000). */
  commandTimeoutMs?: number;
  /**
   * Refuse events (channels not Ready, publishes 503) unless Redis runs with AOF
   * (`appendonly yes`) or while that cannot be checked. Default false: only a warning,
   * since without AOF a Redis crash loses events already answered 202.
   */
  requireAof?: boolean;
  logger?: Logger;
}

/**
 * The ioredis options for a connection, validated (InvalidOptionError): exported so a
 * caller can check `--redis-url` at start without connecting.
 */
export function redisClientOptions(options: RedisConnectionOptions): RedisOptions {
  const base: RedisOptions = {
    // Reconnect forever, at most every 2 s: a broker outlives a Redis restart.
    retryStrategy: (times) => Math.min(100 * times, 2000),
    lazyConnect: false,
  };
  if (options.url) {
    let u: URL;
    try {
      u = new URL(options.url);
    } catch {
      throw new InvalidOptionError(`Redis url ${JSON.stringify(options.url)} is not a URL`);
    }
    if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new InvalidOptionError(`Redis url must start with redis:// or rediss://, got ${u.protocol}`);
    base.host = u.hostname;
    base.port = u.port ? Number(u.port) : 6379;
    if (u.username) base.username = decodeURIComponent(u.username);
    if (u.password) base.password = decodeURIComponent(u.password);
    if (u.pathname.length > 1) base.db = Number(u.pathname.slice(1));
    if (u.protocol === 'rediss:') base.tls = {};
  }
  if (options.host) base.host = options.host;
  if (options.port !== undefined) base.port = options.port;
  if (options.username) base.username = options.username;
  if (options.password) base.password = options.password;
  if (options.db !== undefined) base.db = options.db;
  if (options.tls) base.tls = options.tls === true ? {} : { ...options.tls };
  if (!base.host) throw new InvalidOptionError('Redis needs a url or a host');
  if (options.prefix !== undefined && !/^[A-Za-z0-9_.-]+$/.test(options.prefix)) {
    throw new InvalidOptionError(`Redis prefix ${JSON.stringify(options.prefix)} may only use letters, digits, _ . -`);
  }
  if (base.db !== undefined && (!Number.isInteger(base.db) || base.db < 0)) throw new InvalidOptionError('Redis db must be a non-negative integer');
  return base;
}

/** With requireAof, how often a refusing connection checks Redis's persistence again. */
const PERSISTENCE_RECHECK_MS = 10_000;

export type RedisConnectionListener = (connected: boolean) => void;

/**
 * The Redis connections shared by every RedisChannel of a broker:
 * - `publisher`: no offline queue and a command timeout, so that while Redis is down a
 *   publish fails at once (503) instead of waiting in a client-side queue, where it
 *   would be lost on a crash after the client was told "accepted";
 * - `worker`: `maxRetriesPerRequest: null` as BullMQ workers require (they wait for
 *   Redis to come back); BullMQ duplicates it for each worker's blocking connection.
 * Both reconnect forever.
 */
export class RedisConnectionManager {
  readonly prefix: string;
  readonly publisher: Redis;
  readonly worker: Redis;
  readonly commandTimeoutMs: number;
  /** `redis://host:port/db`, for messages; never the password. */
  readonly target: string;
  #listeners = new Set<RedisConnectionListener>();
  #closed = false;
  #wasReady = false;
  #up = false;
  #warnedDown = false;
  #lastError: string | undefined;
  readonly #requireAof: boolean;
  readonly #log: Logger | undefined;
  /** Redis's persistence as last checked on this connection; undefined until the first check after each (re)connect ends. */
  #persistence: PersistenceAssessment | undefined;
  #persistenceLogged: string | undefined;
  #checkGeneration = 0;
  #checkTimer: NodeJS.Timeout | undefined;

  constructor(options: RedisConnectionOptions) {
    const commandTimeoutMs = options.commandTimeoutMs ?? 3000;
    if (!Number.isFinite(commandTimeoutMs) || commandTimeoutMs <= 0) {
      throw new InvalidOptionError(`Redis commandTimeoutMs must be a positive number, got ${String(commandTimeoutMs)}`);
    }
    const base = redisClientOptions(options);
    this.prefix = options.prefix ?? 'sluice';
    this.commandTimeoutMs = commandTimeoutMs;
    this.#requireAof = options.requireAof === true;
    this.target = describeTarget(base);
    this.publisher = new Redis({ ...base, enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: commandTimeoutMs, connectionName: 'sluice-publisher' });
    this.worker = new Redis({ ...base, maxRetriesPerRequest: null, connectionName: 'sluice-worker' });
    const log = options.logger;
    this.#log = log;
    // Without 'error' listeners ioredis prints every reconnect failure to stderr.
    this.publisher.on('error', (e: Error) => {
      // Every reconnect attempt fails while Redis is down: say it once per outage.
      if (!this.#up && !this.#warnedDown) log?.warn({ err: e, redis: this.target }, 'cannot connect to Redis; retrying');
      if (!this.#up) this.#warnedDown = true;
      // "Stream isn't writeable" is our own command refused while disconnected, not the cause.
      if (!/enableOfflineQueue/.test(e.message)) this.#lastError = e.message;
      log?.debug({ err: e }, 'Redis publisher connection error');
    });
    this.worker.on('error', (e: Error) => log?.debug({ err: e }, 'Redis worker connection error'));
    this.publisher.on('ready', () => {
      if (this.#wasReady) log?.info('Redis reconnected');
      this.#wasReady = true;
      this.#up = true;
      this.#warnedDown = false;
      this.#lastError = undefined;
      // Checked on every connect: the Redis behind the address may have been restarted with other settings.
      void this.#checkPersistence();
      this.#emit(true);
    });
    // 'close' comes after every failed reconnect attempt too: only the loss of a ready connection counts.
    this.publisher.on('close', () => {
      if (!this.#up) return;
      this.#up = false;
      this.#warnedDown = true;
      this.#persistence = undefined;
      this.#checkGeneration++;
      clearTimeout(this.#checkTimer);
      if (!this.#closed) log?.warn({ redis: this.target }, 'Redis connection lost; reconnecting');
      this.#emit(false);
    });
  }

  isConnected(): boolean {
    return !this.#closed && this.publisher.status === 'ready';
  }

  /** Why Redis is not usable, for readiness messages; undefined while connected. */
  notConnectedReason(): string | undefined {
    if (this.#closed) return 'the Redis connection is closed';
    if (this.isConnected()) return undefined;
    return `Redis at ${this.target} is unreachable${this.#lastError ? ` (${this.#lastError})` : ''}`;
  }

  /**
   * Whether channels may take events: connected and, with requireAof, Redis known to run
   * with AOF. Without requireAof this is isConnected().
   */
  acceptsEvents(): boolean {
    return this.isConnected() && this.#persistenceRefusal() === undefined;
  }

  /** Why channels refuse events (Redis down, or requireAof and no AOF), for readiness and 503s; undefined when they take them. */
  notAcceptingReason(): string | undefined {
    return this.notConnectedReason() ?? this.#persistenceRefusal();
  }

  /** Redis's persistence as last checked (level, message, refusal), for status and tests; undefined while unchecked. */
  persistence(): PersistenceAssessment | undefined {
    return this.#persistence;
  }

  #persistenceRefusal(): string | undefined {
    if (!this.#requireAof) return undefined;
    if (!this.#persistence) return `checking that Redis at ${this.target} runs with AOF (--redis-require-aof)`;
    return this.#persistence.refusal;
  }

  async #checkPersistence(): Promise<void> {
    clearTimeout(this.#checkTimer);
    const generation = ++this.#checkGeneration;
    const result = await checkRedisPersistence(this.publisher);
    if (generation !== this.#checkGeneration || this.#closed) return;
    const assessment = assessPersistence(result, this.target, this.#requireAof);
    this.#persistence = assessment;
    // Once per connection, and again only when what Redis says changes (a restart with other settings).
    if (assessment.message !== this.#persistenceLogged) {
      this.#persistenceLogged = assessment.message;
      const fields = { redis: this.target, requireAof: this.#requireAof, ...(result.checked ? { appendonly: result.appendonly, appendfsync: result.appendfsync } : { checkError: result.error }) };
      if (assessment.level === 'warn') this.#log?.warn(fields, assessment.message);
      else this.#log?.info(fields, assessment.message);
    }
    // A timeout is worth another try soon; while refusing, look again now and then, so that
    // `CONFIG SET appendonly yes` on a running Redis lets events in without a restart.
    const retryMs = !result.checked && result.transient ? 2000 : assessment.refusal ? PERSISTENCE_RECHECK_MS : undefined;
    if (retryMs !== undefined && this.isConnected()) {
      this.#checkTimer = setTimeout(() => void this.#checkPersistence(), retryMs);
      this.#checkTimer.unref();
    }
  }

  onChange(listener: RedisConnectionListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(up: boolean): void {
    for (const l of this.#listeners) {
      try {
        l(up);
      } catch {
        // one listener's failure must not hide the state change from the others
      }
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#checkTimer);
    for (const c of [this.publisher, this.worker]) {
      // QUIT lets pending replies arrive; while Redis is down it would wait for it forever.
      await bounded(c.quit(), CLOSE_STEP_MS);
      c.disconnect();
    }
  }
}

function describeTarget(o: RedisOptions): string {
  return `${o.tls ? 'rediss' : 'redis'}://${o.host ?? '127.0.0.1'}:${o.port ?? 6379}${o.db ? `/${o.db}` : ''}`;
}
