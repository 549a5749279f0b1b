// `sluice start` and the durable backends, from the outside: the flags are checked with
// errors naming them, nothing dials NATS or Redis unless a resource needs it, and a
// channel whose server is down says so (readiness, status, 503) and still shuts down.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { request } from 'undici';
import { backendSettings, type BackendFlags } from '../../src/cli/backend-flags.js';
import { DEFAULT_NATS_URL, DEFAULT_REDIS_URL } from '../../src/channels/durable-backends.js';
import { InvalidOptionError } from '../../src/errors.js';
import { cliCommand, configDir, waitUntil } from './durable-e2e-helpers.js';

interface Run {
  code: Promise<number | null>;
  output: () => string;
  kill: (signal: NodeJS.Signals) => void;
}

async function sluice(args: string[]): Promise<Run> {
  const child = spawn(process.execPath, [...(await cliCommand()), ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SLUICE_NATS_URL: '', SLUICE_REDIS_URL: '' } });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return { code: new Promise((resolve) => child.once('exit', (c) => resolve(c))), output: () => out, kill: (s) => child.kill(s) };
}

/** The ingress and admin ports a `sluice start --port 0 --admin-port 0` bound, from its JSON log. */
async function boundPorts(run: Run): Promise<{ port: number; admin: number }> {
  let found: { port: number; admin: number } | undefined;
  await waitUntil(
    () => {
      for (const line of run.output().split('\n')) {
        if (!line.includes('sluice is running')) continue;
        const entry = JSON.parse(line) as { ingress: string; admin: string };
        found = { port: Number(new URL(entry.ingress).port), admin: Number(new URL(entry.admin).port) };
        return true;
      }
      return false;
    },
    30_000,
    'sluice to log its bound ports',
  ).catch((e: Error) => {
    throw new Error(`${e.message}\n${run.output()}`);
  });
  return found!;
}

/** A TCP server that only counts who connects: stands where NATS and Redis would be. */
async function connectionCounter(): Promise<{ port: number; count: () => number; close: () => Promise<void> }> {
  let n = 0;
  const server: Server = createServer((socket) => {
    n++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return { port, count: () => n, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

test('backend flags are checked with errors naming the flag; empty values mean the defaults', () => {
  const base = { natsUrl: DEFAULT_NATS_URL, redisUrl: DEFAULT_REDIS_URL, defaultChannel: 'InMemoryChannel' };
  const cases: Array<[Partial<BackendFlags>, RegExp]> = [
    [{ defaultChannel: 'KafkaChannel' }, /--default-channel: "KafkaChannel" is not one of InMemoryChannel, NatsJetStreamChannel, RedisChannel/],
    [{ natsToken: 't', natsUser: 'u' }, /--nats-token cannot be combined with --nats-user/],
    [{ natsPassword: 'p' }, /--nats-password needs --nats-user/],
    [{ natsCreds: '/nonexistent/sluice.creds' }, /--nats-creds: cannot read \/nonexistent\/sluice\.creds/],
    [{ natsTlsCert: '/etc/hostname' }, /--nats-tls-cert needs --nats-tls-key/],
    [{ natsUrl: 'http://127.0.0.1:4222' }, /--nats-url: "http:\/\/127\.0\.0\.1:4222" must be nats:\/\/host:port/],
    [{ redisUrl: 'http://127.0.0.1:6379' }, /--redis-url.*redis:\/\/ or rediss:\/\//],
    [{ redisPrefix: 'a:b' }, /--redis-prefix.*may only use letters/],
  ];
  for (const [flags, message] of cases) {
    assert.throws(() => backendSettings({ ...base, ...flags }), (e: unknown) => e instanceof InvalidOptionError && message.test(e.message), JSON.stringify(flags));
  }
  const s = backendSettings({ natsUrl: '', redisUrl: '', defaultChannel: '', natsUser: 'u', natsPassword: 's3cret' });
  assert.deepEqual(s.nats, { servers: [DEFAULT_NATS_URL], user: 'u', pass: 's3cret' });
  assert.deepEqual(s.redis, { url: DEFAULT_REDIS_URL });
  assert.equal(s.defaultChannelTemplate.kind, 'InMemoryChannel');
  const durable = backendSettings({ ...base, natsUrl: 'nats://a:4222, nats://b:4222', defaultChannel: 'NatsJetStreamChannel' });
  assert.deepEqual(durable.nats.servers, ['nats://a:4222', 'nats://b:4222']);
  assert.deepEqual(durable.defaultChannelTemplate, { apiVersion: 'messaging.knative.dev/v1alpha1', kind: 'NatsJetStreamChannel' });
});

test('a bad backend flag stops sluice start before anything listens', async () => {
  const cfg = configDir('apiVersion: messaging.knative.dev/v1\nkind: InMemoryChannel\nmetadata: {name: c}\n');
  try {
    const run = await sluice(['start', '-f', cfg.dir, '--port', '0', '--admin-port', '0', '--redis-url', 'http://127.0.0.1:6379']);
    assert.equal(await run.code, 1);
    assert.match(run.output(), /^sluice: --redis-url.*redis:\/\/ or rediss:\/\//m);
  } finally {
    cfg.dispose();
  }
});

/** What a broker whose channel's server is down must show: readiness, a 503 naming it, the Ready condition. */
async function assertUnreachable(ports: { port: number; admin: number }, run: Run, kind: string, name: string, reason: RegExp): Promise<void> {
  let last = '';
  await waitUntil(async () => {
    const r = await request(`http://127.0.0.1:${ports.admin}/readyz`).catch(() => undefined);
    if (!r) return false;
    const readiness = (await r.body.json()) as { pending?: string[] };
    last = `${r.statusCode} ${JSON.stringify(readiness)}`;
    return r.statusCode === 503 && (readiness.pending ?? []).some((p) => reason.test(p));
  }, 30_000, 'readiness naming the server').catch((e: Error) => {
    throw new Error(`${e.message}; last /readyz: ${last}\n${run.output()}`);
  });
  const res = await request(`http://127.0.0.1:${ports.port}/channels/default/${name}`, {
    method: 'POST',
    headers: { 'ce-specversion': '1.0', 'ce-id': '1', 'ce-source': '/t', 'ce-type': 't' },
    body: 'x',
  });
  assert.equal(res.statusCode, 503);
  const body = (await res.body.json()) as { error: string; reason: string };
  assert.match(body.error, reason);
  assert.equal(body.reason, 'SLUICE_ERR_NOT_READY');
  const status = await request(`http://127.0.0.1:${ports.admin}/api/v1/resources/${kind}/default/${name}`);
  const resource = (await status.body.json()) as { status: { conditions: Array<{ type: string; status: string; reason: string; message: string }> } };
  const ready = resource.status.conditions.find((c) => c.type === 'Ready')!;
  assert.equal(ready.status, 'False');
  assert.equal(ready.reason, 'BackendNotReady');
  assert.match(ready.message, reason);
}

test('in-memory resources never dial NATS or Redis; a durable channel whose server is down: 503, readiness and status say why, SIGTERM exits', async () => {
  const counter = await connectionCounter();
  // "Down" servers: a port held by a listener that drops every connection, so that no
  // other test's server can start there meanwhile.
  const dropper = await connectionCounter();
  const down = dropper.port;
  const memory = configDir('apiVersion: messaging.knative.dev/v1\nkind: InMemoryChannel\nmetadata: {name: mem}\n');
  const subscription = (channel: string, ref: string) => `---
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata: {name: ${channel}-sub}
spec:
  channel: {${ref}, name: ${channel}}
  subscriber: {uri: "http://127.0.0.1:9/"}
`;
  // A plain Channel made durable by --default-channel, and a RedisChannel, on servers nobody listens to.
  const nats = configDir('apiVersion: messaging.knative.dev/v1\nkind: Channel\nmetadata: {name: orders}\n' + subscription('orders', 'apiVersion: messaging.knative.dev/v1, kind: Channel'));
  const redis = configDir(
    'apiVersion: messaging.sluice.dev/v1alpha1\nkind: RedisChannel\nmetadata: {name: payments}\n' + subscription('payments', 'apiVersion: messaging.sluice.dev/v1alpha1, kind: RedisChannel'),
  );
  // Port 0 for both listeners, read back from the "sluice is running" line: a port picked
  // here and handed over could be taken by a parallel test before sluice binds it.
  const args = (dir: string) => ['start', '-f', dir, '--port', '0', '--admin-port', '0', '--host', '127.0.0.1', '--log-format', 'json'];
  const runs = await Promise.all([
    sluice([...args(memory.dir), '--nats-url', `nats://127.0.0.1:${counter.port}`, '--redis-url', `redis://127.0.0.1:${counter.port}`]),
    sluice([...args(nats.dir), '--default-channel', 'NatsJetStreamChannel', '--nats-url', `nats://127.0.0.1:${down}`]),
    sluice([...args(redis.dir), '--redis-url', `redis://127.0.0.1:${down}`]),
  ]);
  const [lazy, natsDown, redisDown] = runs as [Run, Run, Run];
  try {
    const ports = await Promise.all(runs.map((r) => boundPorts(r)));
    await waitUntil(async () => (await request(`http://127.0.0.1:${ports[0]!.admin}/readyz`).catch(() => undefined))?.statusCode === 200, 30_000, `the in-memory broker ready: ${lazy.output()}`);
    const accepted = await request(`http://127.0.0.1:${ports[0]!.port}/channels/default/mem`, {
      method: 'POST',
      headers: { 'ce-specversion': '1.0', 'ce-id': '1', 'ce-source': '/t', 'ce-type': 't' },
      body: 'x',
    });
    assert.equal(accepted.statusCode, 202);
    assert.equal(counter.count(), 0, 'no connection to the NATS or Redis address');
    await assertUnreachable(ports[1]!, natsDown, 'Channel', 'orders', new RegExp(`NATS at nats://127\\.0\\.0\\.1:${down} is unreachable`));
    await assertUnreachable(ports[2]!, redisDown, 'RedisChannel', 'payments', new RegExp(`Redis at redis://127\\.0\\.0\\.1:${down} is unreachable`));
  } finally {
    for (const r of runs) r.kill('SIGTERM');
    await Promise.all(runs.map((r) => r.code));
    await Promise.all([counter.close(), dropper.close()]);
    for (const c of [memory, nats, redis]) c.dispose();
  }
  // Never connected to their server, and still exit cleanly on SIGTERM (no endless reconnect or close).
  for (const r of runs) assert.equal(await r.code, 0, r.output());
});
