import type { Redis } from 'ioredis';

/**
 * What Redis says about its persistence. A RedisChannel answers 202 once Redis took the
 * write; without AOF (`appendonly no`), that write lives only in memory until the next
 * RDB snapshot, so a Redis crash or restart loses events their senders were told were
 * accepted (seen: 234 of 3,793 in one test).
 */
export type RedisPersistence =
  | { readonly checked: true; readonly appendonly: boolean; readonly appendfsync: string | undefined; readonly via: 'CONFIG GET' | 'INFO persistence' }
  | { readonly checked: false; readonly error: string; readonly transient: boolean };

/**
 * Reads `appendonly`/`appendfsync` with CONFIG GET; where CONFIG is disabled, renamed or
 * not allowed (managed Redis, ACLs) falls back to `INFO persistence` (`aof_enabled`),
 * which such services usually allow. Never throws.
 */
export async function checkRedisPersistence(redis: Redis): Promise<RedisPersistence> {
  let configError: unknown;
  try {
    const flat = (await redis.call('CONFIG', 'GET', 'append*')) as unknown;
    if (Array.isArray(flat)) {
      const config = new Map<string, string>();
      for (let i = 0; i + 1 < flat.length; i += 2) config.set(String(flat[i]).toLowerCase(), String(flat[i + 1]));
      const appendonly = config.get('appendonly');
      if (appendonly !== undefined) return { checked: true, appendonly: appendonly === 'yes', appendfsync: config.get('appendfsync'), via: 'CONFIG GET' };
    }
    configError = new Error('CONFIG GET appendonly returned nothing');
  } catch (e) {
    configError = e;
  }
  try {
    const info = await redis.info('persistence');
    const m = /^aof_enabled:(\d)/m.exec(info);
    if (m) return { checked: true, appendonly: m[1] === '1', appendfsync: undefined, via: 'INFO persistence' };
    return { checked: false, error: `CONFIG GET failed (${messageOf(configError)}) and INFO persistence has no aof_enabled`, transient: false };
  } catch (e) {
    // A reply error (unknown command, NOPERM) will not change by asking again; a timeout or a dropped connection may.
    const transient = !isReplyError(configError) || !isReplyError(e);
    return { checked: false, error: `CONFIG GET failed (${messageOf(configError)}) and INFO persistence failed (${messageOf(e)})`, transient };
  }
}

export interface PersistenceAssessment {
  /** How loudly to log `message`. */
  readonly level: 'info' | 'warn';
  readonly message: string;
  /** With requireAof: why the channels refuse events; undefined when Redis is fine. */
  readonly refusal: string | undefined;
}

/** What the broker makes of Redis's persistence settings, for the log and, with `requireAof`, for readiness. */
export function assessPersistence(p: RedisPersistence, target: string, requireAof: boolean): PersistenceAssessment {
  const refuseHint = 'start sluice with --redis-require-aof to refuse events instead (RedisChannels not Ready, ingress 503)';
  if (!p.checked) {
    return {
      level: 'warn',
      message:
        `could not check whether Redis at ${target} persists events (${p.error}): if it runs without AOF (appendonly no), ` +
        'a Redis crash or restart loses events already answered 202' +
        (requireAof ? '; --redis-require-aof is set, so RedisChannels refuse events until it can be checked' : ''),
      refusal: requireAof ? `cannot verify that Redis at ${target} has AOF on (${p.error}) and --redis-require-aof is set` : undefined,
    };
  }
  if (!p.appendonly) {
    return {
      level: 'warn',
      message: requireAof
        ? `Redis at ${target} runs without AOF (appendonly no) and --redis-require-aof is set: RedisChannels refuse events (not Ready, ingress 503) until Redis runs with appendonly yes`
        : `Redis at ${target} runs without AOF (appendonly no): a Redis crash or restart LOSES EVENTS ALREADY ANSWERED 202 ` +
          `(everything since the last RDB snapshot). Run Redis with appendonly yes, or ${refuseHint}`,
      refusal: requireAof ? `Redis at ${target} runs without AOF (appendonly no), and --redis-require-aof is set: a Redis crash would lose accepted events` : undefined,
    };
  }
  if (p.appendfsync === 'no') {
    return {
      level: 'warn',
      message: `Redis at ${target} has AOF on but appendfsync no: a crash of the machine (not of Redis alone) can lose the last ~30 s of events answered 202; appendfsync everysec bounds that to ~1 s`,
      refusal: undefined,
    };
  }
  const fsync = p.appendfsync ? `, appendfsync ${p.appendfsync}` : '';
  const window = p.appendfsync === 'everysec' ? ': a crash of the machine can lose about the last second of events' : '';
  return { level: 'info', message: `Redis at ${target} persists events (appendonly yes${fsync}, read with ${p.via})${window}`, refusal: undefined };
}

function isReplyError(e: unknown): boolean {
  return e instanceof Error && e.name === 'ReplyError';
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
