import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CloudEvent, emitterFor, httpTransport, Mode } from 'cloudevents';
import { startSluice, waitUntil } from '../helpers/sluice.js';
import { startSink, type RecordingSink } from '../helpers/sink.js';
import { runCli } from '../cli/run-cli.js';

type Sluice = Awaited<ReturnType<typeof startSluice>>;
const TOKEN = 'redrive-secret';

// A Trigger's dead letters, through the CLI, against a server with an admin token.
describe('sluice deadletters list|redrive (CLI, Trigger)', () => {
  let s: Sluice;
  let subscriber: RecordingSink;
  let dls: RecordingSink;
  let failing = true;
  const cli = (...args: string[]) => runCli([...args, '--server', s.adminUrl, '--token', TOKEN]);

  before(async () => {
    subscriber = await startSink((_req, res) => {
      res.statusCode = failing ? 503 : 200;
      res.end();
    });
    dls = await startSink();
    s = await startSluice(
      `apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {name: shop}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: orders}
spec:
  broker: shop
  filter: {attributes: {type: order.created}}
  subscriber: {uri: "${subscriber.url}"}
  delivery: {retry: 0, deadLetterSink: {uri: "${dls.url}"}}
`,
      { adminToken: TOKEN },
    );
    const emit = emitterFor(httpTransport(`${s.url}/default/shop`), { mode: Mode.BINARY });
    for (let i = 1; i <= 3; i++) await emit(new CloudEvent({ id: `t-${i}`, source: i === 2 ? '/eu' : '/us', type: 'order.created', data: { n: i } }));
    await dls.waitFor(3);
    // The dead-letter sink has each event before its answer reaches Sluice, which records the entry then.
    await waitUntil(async () => {
      const res = await fetch(`${s.adminUrl}/api/v1/deadletters`, { headers: { authorization: `Bearer ${TOKEN}` } });
      return ((await res.json()) as { items: unknown[] }).items.length === 3;
    }, 5000, 'three dead letters listed');
  });
  after(async () => {
    await s?.close();
    await subscriber?.close();
    await dls?.close();
  });

  test('list: table and json, by trigger and filter', async () => {
    await waitUntil(async () => JSON.parse((await cli('deadletters', 'list', '-o', 'json')).stdout || '{"items":[]}').items.length === 3, 5000, 'three dead letters');
    const table = await cli('deadletters', 'list', 'trigger/orders');
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^ENTRY\s+SUBSCRIPTION\s+EVENT ID\s+TYPE/);
    assert.equal(table.stdout.trim().split('\n').length, 4);
    assert.match(table.stdout, /trigger\/default\/orders\s+t-1\s+order\.created\s+\/us\s+503/);
    const json = await cli('deadletters', 'list', 'trigger/default/orders', '--filter', 'source=/eu', '-o', 'json');
    const items = JSON.parse(json.stdout).items as Array<{ eventId: string; kind: string }>;
    assert.deepEqual(items.map((i) => [i.eventId, i.kind]), [['t-2', 'trigger']]);
  });

  test('redrive --dry-run sends nothing; --id redrives one; then all the rest; a second run sends nothing', async () => {
    const dry = await cli('deadletters', 'redrive', 'trigger/orders', '--dry-run');
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stderr, /would send 3/);
    assert.equal((dry.stdout.match(/would-send/g) ?? []).length, 3);
    assert.equal(subscriber.requests.length, 3, 'only the original attempts');

    failing = false;
    const one = await cli('deadletters', 'redrive', 'trigger/orders', '--id', 't-3');
    assert.equal(one.code, 0, one.stderr);
    assert.match(one.stdout, /t-3\s+order\.created\s+delivered\s+200\s+1/);
    assert.equal(subscriber.requests.length, 4);
    assert.equal(subscriber.requests[3]!.headers['ce-id'], 't-3');
    assert.equal(subscriber.requests[3]!.headers['ce-sluiceredrivecount'], '1');
    assert.equal(subscriber.requests[3]!.headers['ce-knativebrokerttl'], undefined, 'the broker TTL stays inside the broker');

    const rest = await cli('deadletters', 'redrive', 'trigger/orders', '-o', 'json');
    assert.equal(rest.code, 0, rest.stderr);
    const answer = JSON.parse(rest.stdout) as { delivered: number; skipped: number };
    assert.deepEqual([answer.delivered, answer.skipped], [2, 1]);
    assert.deepEqual(subscriber.requests.slice(4).map((r) => r.headers['ce-id']).sort(), ['t-1', 't-2']);

    const again = await cli('deadletters', 'redrive', 'trigger/orders');
    assert.equal(again.code, 0);
    assert.match(again.stderr, /sent 0: 0 delivered, 0 failed again, 3 skipped/);
    assert.equal(subscriber.requests.length, 6);
  });

  test('errors: unknown trigger, bad filter, bad subscription name, missing token', async () => {
    const missing = await cli('deadletters', 'redrive', 'trigger/nope');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /Trigger default\/nope not found/);
    const badFilter = await cli('deadletters', 'list', '--filter', 'color=red');
    assert.equal(badFilter.code, 1);
    assert.match(badFilter.stderr, /--filter "color=red": use key=value with key one of id, type/);
    const badName = await cli('deadletters', 'redrive', 'orders');
    assert.equal(badName.code, 1);
    assert.match(badName.stderr, /subscription\/<name> or trigger\/<name>/);
    const noToken = await runCli(['deadletters', 'list', '--server', s.adminUrl]);
    assert.equal(noToken.code, 1);
    assert.match(noToken.stderr, /--token/);
  });
});
