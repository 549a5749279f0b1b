import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ServerProcess, probeTcp, startOnFreePort } from './nats-server.js';

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
export function startRedisServer(options: { appendfsync?: 'always' | 'everysec'; extraArgs?: string[] } = {}): Promise<RedisServer> {
  return startOnFreePort((port) => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-redis-'));
    return new RedisServer({
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
  });
}
