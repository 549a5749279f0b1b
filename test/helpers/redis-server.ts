import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ServerProcess, freePort, probeTcp } from './nats-server.js';

export class RedisServer extends ServerProcess {
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }
}

/**
 * Starts a private `redis-server` on a free loopback port with its data in a temp dir.
 * AOF is on (`appendfsync always` by default) so a stop or even a SIGKILL loses nothing
 * the server acknowledged; `noeviction` because BullMQ must never lose keys to eviction.
 */
export async function startRedisServer(options: { appendfsync?: 'always' | 'everysec'; extraArgs?: string[] } = {}): Promise<RedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'sluice-redis-'));
  const server = new RedisServer({
    name: 'redis-server',
    command: process.env.REDIS_SERVER_BIN ?? '/usr/bin/redis-server',
    args: [
      '--port', String(port),
      '--bind', '127.0.0.1',
      '--dir', dir,
      '--save', '',
      '--appendonly', 'yes',
      '--appendfsync', options.appendfsync ?? 'always',
      '--maxmemory-policy', 'noeviction',
      '--daemonize', 'no',
      ...(options.extraArgs ?? []),
    ],
    port,
    dir,
    // -LOADING while the AOF is replayed; only +PONG means it serves commands.
    probe: (p) => probeTcp(p, '+PONG', 'PING\r\n'),
  });
  try {
    await server.start();
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return server;
}
