// `sluice start` and the durable backends, from the outside: the flags are checked with
// errors naming them, nothing dials NATS or Redis unless a resource needs it, and a
// channel whose server is down says so (readiness, status, 503) and still shuts down.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { request } from 'undici';
import { freePort } from '../helpers/nats-server.js';
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

test('bad backend flags exit 1 naming the flag, before anything starts', async () => {
  const cfg = configDir('apiVersion: messaging.knative.dev/v1\nkind: InMemoryChannel\nmetadata: {name: c}\n');
  try {
    const cases: Array<[string[], RegExp]> = [
      [['--default-channel', 'KafkaChannel'], /--default-channel.*KafkaChannel|KafkaChannel.*--default-channel/s],
      [['--nats-token', 't', '--nats-user', 'u'], /--nats-token cannot be combined with --nats-user/],
      [['--nats-creds', '/nonexistent/sluice.creds'], /--nats-creds: cannot read \/nonexistent\/sluice\.creds/],
      [['--redis-url', 'http://127.0.0.1:6379'], /--redis-url.*redis:\/\/ or rediss:\/\//],
      [['--nats-url', 'http://127.0.0.1:4222'], /--nats-url/],
    ];
    const runs = await Promise.all(cases.map(async ([flags]) => sluice(['start', '-f', cfg.dir, '--port', '0', '--admin-port', '0', ...flags])));
    for (const [i, run] of runs.entries()) {
      assert.notEqual(await run.code, 0, `${cases[i]![0].join(' ')} exits non-zero`);
      assert.match(run.output(), cases[i]![1]);
    }
  } finally {
    cfg.dispose();
  }
});

test('in-memory resources never dial NATS or Redis; a NATS channel while NATS is down: 503, readiness and status say why, SIGTERM exits', async () => {
  const counter = await connectionCounter();
  const down = await freePort();
  const memory = configDir('apiVersion: messaging.knative.dev/v1\nkind: InMemoryChannel\nmetadata: {name: mem}\n');
  const durable = configDir(`apiVersion: messaging.knative.dev/v1
kind: Channel
metadata: {name: orders}
---
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata: {name: orders-sub}
spec:
  channel: {apiVersion: messaging.knative.dev/v1, kind: Channel, name: orders}
  subscriber: {uri: "http://127.0.0.1:9/"}
`);
  const [p1, a1, p2, a2] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const common = ['--host', '127.0.0.1', '--log-format', 'json'];
  const lazy = await sluice(['start', '-f', memory.dir, '--port', String(p1), '--admin-port', String(a1), ...common,
    '--nats-url', `nats://127.0.0.1:${counter.port}`, '--redis-url', `redis://127.0.0.1:${counter.port}`]);
  // A plain Channel made durable by --default-channel, on a NATS nobody listens to.
  const unreachable = await sluice(['start', '-f', durable.dir, '--port', String(p2), '--admin-port', String(a2), ...common,
    '--default-channel', 'NatsJetStreamChannel', '--nats-url', `nats://127.0.0.1:${down}`]);
  try {
    await waitUntil(async () => (await request(`http://127.0.0.1:${a1}/readyz`).catch(() => undefined))?.statusCode === 200, 30_000, `the in-memory broker ready: ${lazy.output()}`);
    const accepted = await request(`http://127.0.0.1:${p1}/channels/default/mem`, {
      method: 'POST',
      headers: { 'ce-specversion': '1.0', 'ce-id': '1', 'ce-source': '/t', 'ce-type': 't' },
      body: 'x',
    });
    assert.equal(accepted.statusCode, 202);
    assert.equal(counter.count(), 0, 'no connection to the NATS or Redis address');

    const reason = new RegExp(`NATS at nats://127\\.0\\.0\\.1:${down} is unreachable`);
    let readiness: { status?: string; pending?: string[] } = {};
    await waitUntil(async () => {
      const r = await request(`http://127.0.0.1:${a2}/readyz`).catch(() => undefined);
      if (!r) return false;
      readiness = (await r.body.json()) as typeof readiness;
      return r.statusCode === 503 && (readiness.pending ?? []).some((p) => reason.test(p));
    }, 30_000, `readiness naming NATS: ${unreachable.output()}`);
    const res = await request(`http://127.0.0.1:${p2}/channels/default/orders`, {
      method: 'POST',
      headers: { 'ce-specversion': '1.0', 'ce-id': '1', 'ce-source': '/t', 'ce-type': 't' },
      body: 'x',
    });
    assert.equal(res.statusCode, 503);
    const body = (await res.body.json()) as { error: string; reason: string };
    assert.match(body.error, reason);
    assert.equal(body.reason, 'SLUICE_ERR_NOT_READY');
    const status = await request(`http://127.0.0.1:${a2}/api/v1/resources/Channel/default/orders`);
    const channel = (await status.body.json()) as { spec: { channelTemplate: { kind: string } }; status: { conditions: Array<{ status: string; reason: string; message: string }> } };
    assert.equal(channel.spec.channelTemplate.kind, 'NatsJetStreamChannel');
    assert.equal(channel.status.conditions[0]!.status, 'False');
    assert.equal(channel.status.conditions[0]!.reason, 'BackendNotReady');
    assert.match(channel.status.conditions[0]!.message, reason);
  } finally {
    lazy.kill('SIGTERM');
    unreachable.kill('SIGTERM');
    // Never connected to NATS, still exits cleanly (the reconnect loop is cancelled).
    assert.equal(await lazy.code, 0);
    assert.equal(await unreachable.code, 0, unreachable.output());
    await counter.close();
    memory.dispose();
    durable.dispose();
  }
});
