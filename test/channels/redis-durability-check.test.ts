// Redis without AOF answers writes from memory only: a Redis crash then loses events
// Sluice already answered 202 for. At connect Sluice reads Redis's persistence settings,
// warns (default) or, with requireAof (`--redis-require-aof`), refuses events.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { request } from 'undici';
import { RedisChannel, RedisConnectionManager } from '../../src/channels/bullmq/index.js';
import { backendSettings } from '../../src/cli/backend-flags.js';
import { UnavailableError } from '../../src/errors.js';
import type { Logger } from '../../src/observability/logger.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { startSluice } from '../helpers/sluice.js';
import { ev, waitUntil } from './conformance.js';

interface LogLine {
  level: number;
  msg: string;
  [k: string]: unknown;
}

/** A pino logger whose JSON lines land in `lines`. */
function captureLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) });
  return { logger, lines };
}

const WARN = 40;
let seq = 0;
let noAof: RedisServer;
let aof: RedisServer;

before(async () => {
  // Later arguments win: the helper's `--appendonly yes` is overridden.
  [noAof, aof] = await Promise.all([startRedisServer({ extraArgs: ['--appendonly', 'no'] }), startRedisServer()]);
});
after(async () => {
  await Promise.all([noAof.dispose(), aof.dispose()]);
});

async function open(url: string, options: { requireAof?: boolean } = {}) {
  const { logger, lines } = captureLogger();
  const conn = new RedisConnectionManager({ url, logger, ...options });
  const channel = new RedisChannel({ connection: conn, namespace: 'durability', name: `ch-${process.pid}-${++seq}`, logger });
  const close = async () => (await channel.close(), await conn.close());
  await waitUntil(() => conn.persistence() !== undefined, 15_000, 'persistence checked').catch(async (e: unknown) => {
    await close();
    throw e;
  });
  return { conn, channel, lines, close };
}

describe('Redis persistence check', () => {
  test('appendonly no: one loud warning that a Redis crash loses events answered 202; events still taken by default', async () => {
    const r = await open(noAof.url);
    try {
      const warnings = r.lines.filter((l) => l.level === WARN && /without AOF/.test(l.msg));
      assert.equal(warnings.length, 1, JSON.stringify(r.lines));
      assert.match(warnings[0]!.msg, /appendonly no.*crash or restart LOSES EVENTS ALREADY ANSWERED 202/);
      assert.match(warnings[0]!.msg, /--redis-require-aof/);
      assert.equal(warnings[0]!.appendonly, false);
      assert.equal(r.channel.ready(), true);
      assert.match(r.channel.durabilityWarning() ?? '', /without AOF/);
      await r.channel.publish(ev('a'));
    } finally {
      await r.close();
    }
  });

  test('appendonly no with requireAof: the channel is not ready, says why, and refuses publishes', async () => {
    const r = await open(noAof.url, { requireAof: true });
    try {
      assert.equal(r.conn.isConnected(), true);
      assert.equal(r.channel.ready(), false);
      assert.match(r.channel.notReadyReason() ?? '', /runs without AOF \(appendonly no\), and --redis-require-aof is set/);
      await assert.rejects(r.channel.publish(ev('b')), (e: unknown) => e instanceof UnavailableError && /without AOF/.test(e.message));
      assert.equal(r.lines.filter((l) => l.level === WARN && /refuse events/.test(l.msg)).length, 1);
    } finally {
      await r.close();
    }
  });

  test('requireAof: turning AOF on in a running Redis lets events in without a restart', async () => {
    const later = await startRedisServer({ extraArgs: ['--appendonly', 'no'] });
    const r = await open(later.url, { requireAof: true });
    try {
      assert.equal(r.channel.ready(), false);
      await r.conn.publisher.call('CONFIG', 'SET', 'appendonly', 'yes');
      await waitUntil(() => r.channel.ready(), 20_000, 'ready once AOF is on');
      await r.channel.publish(ev('d'));
      assert.ok(r.lines.some((l) => /persists events \(appendonly yes/.test(l.msg)), JSON.stringify(r.lines));
    } finally {
      await r.close();
      await later.dispose();
    }
  });

  test('appendonly yes: no warning, and requireAof lets events through', async () => {
    const r = await open(aof.url, { requireAof: true });
    try {
      assert.deepEqual(r.lines.filter((l) => l.level >= WARN), []);
      assert.ok(r.lines.some((l) => /persists events \(appendonly yes, appendfsync always/.test(l.msg)), JSON.stringify(r.lines));
      assert.equal(r.channel.ready(), true);
      assert.equal(r.channel.durabilityWarning(), undefined);
      await r.channel.publish(ev('c'));
    } finally {
      await r.close();
    }
  });

  test('CONFIG disabled (managed Redis): read from INFO persistence instead', async () => {
    const managed = await startRedisServer({ extraArgs: ['--appendonly', 'no', '--rename-command', 'CONFIG', ''] });
    const r = await open(managed.url);
    try {
      const w = r.lines.filter((l) => l.level === WARN);
      assert.equal(w.length, 1, JSON.stringify(r.lines));
      assert.match(w[0]!.msg, /without AOF/);
    } finally {
      await r.close();
      await managed.dispose();
    }
  });

  test('neither CONFIG nor INFO allowed (ACL): says durability could not be checked; requireAof refuses', async () => {
    // An ACL, not rename-command: ioredis itself needs INFO to connect unless it is refused with NOPERM.
    const locked = await startRedisServer({ extraArgs: ['--user', 'default', 'on', 'nopass', '~*', '&*', '+@all', '-config', '-info'] });
    try {
      const warn = await open(locked.url);
      try {
        const w = warn.lines.filter((l) => l.level === WARN);
        assert.equal(w.length, 1, JSON.stringify(warn.lines));
        assert.match(w[0]!.msg, /could not check whether Redis at .* persists events/);
        assert.equal(warn.channel.ready(), true);
      } finally {
        await warn.close();
      }
      const strict = await open(locked.url, { requireAof: true });
      try {
        assert.equal(strict.channel.ready(), false);
        assert.match(strict.channel.notReadyReason() ?? '', /cannot verify that Redis at .* has AOF on .*--redis-require-aof/);
      } finally {
        await strict.close();
      }
    } finally {
      await locked.dispose();
    }
  });

  test('--redis-require-aof reaches the Redis options; off by default', () => {
    assert.equal(backendSettings({ redisUrl: noAof.url }).redis.requireAof, undefined);
    assert.equal(backendSettings({ redisUrl: noAof.url, redisRequireAof: true }).redis.requireAof, true);
  });

  test('a broker with requireAof on Redis without AOF: channel not Ready with the reason, ingress 503', async () => {
    const { logger, lines } = captureLogger();
    const yaml = `apiVersion: messaging.sluice.dev/v1alpha1
kind: RedisChannel
metadata: {name: strict}
`;
    const s = await startSluice(yaml, { logger, redis: { url: noAof.url, requireAof: true } });
    try {
      await waitUntil(() => lines.some((l) => /--redis-require-aof is set/.test(l.msg)), 15_000, 'persistence checked');
      const status = s.runtime.listResources().find((r) => r.kind === 'RedisChannel' && r.metadata.name === 'strict')?.status as
        | { conditions: Array<{ type: string; status: string; message?: string }> }
        | undefined;
      const ready = status?.conditions.find((c) => c.type === 'Ready');
      assert.equal(ready?.status, 'False', JSON.stringify(status));
      assert.match(ready?.message ?? '', /without AOF \(appendonly no\), and --redis-require-aof is set/);
      assert.equal(s.runtime.readiness().ready, false);
      const res = await request(`${s.url}/channels/default/strict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'ce-specversion': '1.0', 'ce-id': 'x1', 'ce-type': 't', 'ce-source': '/s' },
        body: '{}',
      });
      assert.equal(res.statusCode, 503);
      assert.match(await res.body.text(), /without AOF/);
    } finally {
      await s.close();
    }
  });
});
