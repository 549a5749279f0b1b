import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { startSink, type ReceivedRequest, type RecordingSink } from '../helpers/sink.js';
import { startSluice, waitUntil } from '../helpers/sluice.js';
import { asEvent, brokerYaml, emitTo, metricValue, triggerYaml, waitIdle, type Sluice } from './broker-helpers.js';

/** Answers 200 with a reply event in binary mode. */
function reply(res: ServerResponse, attrs: { id: string; type: string; source?: string }, data = '{"reply":true}'): void {
  res.writeHead(200, {
    'ce-specversion': '1.0',
    'ce-id': attrs.id,
    'ce-source': attrs.source ?? '/replier',
    'ce-type': attrs.type,
    'content-type': 'application/json',
  });
  res.end(data);
}

describe('Broker delivery: replies, loop guard, per-trigger isolation, dead letters', () => {
  const sinks: RecordingSink[] = [];
  const servers: Sluice[] = [];
  const sink = async (responder?: Parameters<typeof startSink>[0]) => {
    const x = await startSink(responder);
    sinks.push(x);
    return x;
  };
  const sluice = async (yaml: string) => {
    const x = await startSluice(yaml);
    servers.push(x);
    return x;
  };
  after(async () => {
    await Promise.all(servers.map((x) => x.close()));
    await Promise.all(sinks.map((x) => x.close()));
  });

  test('a reply re-enters the broker and is evaluated against every trigger, the one that produced it included', async () => {
    let n = 0;
    // Answers questions with an answer; answers nothing else.
    const asker = await sink((req, res) => {
      if (req.headers['ce-type'] === 'question') reply(res, { id: `answer-${++n}`, type: 'answer' });
      else {
        res.statusCode = 202;
        res.end();
      }
    });
    const answers = await sink();
    const s = await sluice(
      brokerYaml('default') +
        triggerYaml('everything', 'default', asker.url) +
        triggerYaml('answers', 'default', answers.url, '  filters: [{exact: {type: answer}}]'),
    );
    await emitTo(`${s.url}/default/default`)({ id: 'q1', type: 'question' });
    await answers.waitFor(1);
    await asker.waitFor(2);
    await waitIdle(s, 'default');
    assert.deepEqual(asker.requests.map((r) => r.headers['ce-type']).sort(), ['answer', 'question']);
    const a = asEvent(answers.requests[0]!);
    assert.equal(a.id, 'answer-1');
    assert.deepEqual(a.data, { reply: true });
    assert.ok(a.knativearrivaltime, 'the reply passed through the broker ingress');
    assert.equal(answers.requests[0]!.headers['ce-knativebrokerttl'], undefined);
  });

  test('a subscriber that always replies with the same type is stopped by knativebrokerttl (255 passes)', async () => {
    let n = 0;
    const looper = await sink((_req, res) => reply(res, { id: `again-${++n}`, type: 'ping' }));
    const s = await sluice(brokerYaml('loop') + triggerYaml('pinger', 'loop', looper.url, '  filters: [{exact: {type: ping}}]'));
    await emitTo(`${s.url}/default/loop`)({ id: 'first', type: 'ping' });
    await waitUntil(async () => (await metricValue(s, 'sluice_broker_ttl_expired_total', { resource: 'loop' })) === 1, 20_000, 'the loop to be cut');
    await waitIdle(s, 'loop');
    // Arrived with no TTL (255), then each reply re-entered one lower, down to 1; the reply of that one was dropped.
    assert.equal(looper.requests.length, 255);
    assert.ok(looper.requests.every((r) => r.headers['ce-knativebrokerttl'] === undefined));
    // An event that arrives with a TTL of its own is decremented on entry.
    const before = looper.requests.length;
    const r = await fetch(`${s.url}/default/loop`, {
      method: 'POST',
      headers: { 'ce-specversion': '1.0', 'ce-id': 'short', 'ce-source': '/t', 'ce-type': 'ping', 'ce-knativebrokerttl': '4' },
    });
    assert.equal(r.status, 202);
    await waitUntil(async () => (await metricValue(s, 'sluice_broker_ttl_expired_total', { resource: 'loop' })) === 2, 10_000, 'the second loop to be cut');
    await waitIdle(s, 'loop');
    assert.equal(looper.requests.length - before, 3);
  });

  test("one trigger's stuck and failing subscriber does not delay another trigger; each has its own retries and dead letters", async () => {
    const held: Array<() => void> = [];
    let failing = false;
    const slow = await sink((_req, res) => {
      // Holds every request until released, then fails them all (retryable).
      const fail = () => {
        res.statusCode = 503;
        res.end('busy');
      };
      if (failing) fail();
      else held.push(fail);
    });
    const fast = await sink();
    const slowDls = await sink();
    const fastDls = await sink();
    const s = await sluice(
      brokerYaml('iso') +
        triggerYaml('slow', 'iso', slow.url, `  delivery: {retry: 2, backoffPolicy: linear, backoffDelay: PT0.05S, deadLetterSink: {uri: "${slowDls.url}"}}`) +
        triggerYaml('fast', 'iso', fast.url, `  delivery: {retry: 2, deadLetterSink: {uri: "${fastDls.url}"}}`),
    );
    const emit = emitTo(`${s.url}/default/iso`);
    for (let i = 0; i < 20; i++) await emit({ id: `e${i}` });
    await fast.waitFor(20);
    // Every event reached the fast trigger while the slow one still holds its first attempts.
    await slow.waitFor(20);
    assert.equal(slowDls.requests.length, 0);
    failing = true;
    for (const release of held.splice(0)) release();
    await slowDls.waitFor(20, 15_000);
    await waitIdle(s, 'iso');
    assert.equal(slow.requests.length, 60, 'three attempts each (retry: 2)');
    assert.equal(fast.requests.length, 20, 'the fast trigger delivered each event once');
    assert.equal(fastDls.requests.length, 0);
    const dead = asEvent(slowDls.requests[0]!);
    assert.equal(dead.knativeerrordest, slow.url);
    assert.equal(dead.knativeerrorcode, '503');
    assert.equal(Buffer.from(String(dead.knativeerrordata), 'base64').toString(), 'busy');
    assert.deepEqual(dead.data, { test: true });
    assert.ok(dead.knativearrivaltime);
  });

  test("the broker's delivery (dead-letter sink included) applies to triggers without their own, and a trigger's replaces it whole", async () => {
    const failing = await sink((_req, res) => {
      res.statusCode = 500;
      res.end('nope');
    });
    const brokerDls = await sink();
    const ownDls = await sink();
    const s = await sluice(
      brokerYaml('dl', `spec:\n  delivery: {retry: 1, deadLetterSink: {uri: "${brokerDls.url}"}}\n`) +
        triggerYaml('inherits', 'dl', `${failing.url}inherits`) +
        triggerYaml('own', 'dl', `${failing.url}own`, `  delivery: {deadLetterSink: {uri: "${ownDls.url}"}}`),
    );
    await emitTo(`${s.url}/default/dl`)({ id: 'x1', type: 'dev.test.fail' });
    await brokerDls.waitFor(1);
    await ownDls.waitFor(1);
    await waitIdle(s, 'dl');
    const byPath = (p: string) => failing.requests.filter((r: ReceivedRequest) => r.url === p).length;
    assert.equal(byPath('/inherits'), 2, "the broker's retry: 1");
    assert.equal(byPath('/own'), 1, "the trigger's delivery has no retry, and is not merged with the broker's");
    assert.equal(asEvent(brokerDls.requests[0]!).knativeerrordest, `${failing.url}inherits`);
    assert.equal(asEvent(ownDls.requests[0]!).knativeerrorcode, '500');
    const views = s.runtime.listResources();
    const own = views.find((v) => v.kind === 'Trigger' && v.metadata.name === 'own')!.status as { deadLetterSinkUri?: string };
    assert.equal(own.deadLetterSinkUri, ownDls.url);
    const broker = views.find((v) => v.kind === 'Broker')!.status as { deadLetterSinkUri?: string };
    assert.equal(broker.deadLetterSinkUri, brokerDls.url);
  });
});
