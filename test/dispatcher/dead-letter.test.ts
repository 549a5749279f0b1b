import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { HTTP, type CloudEvent } from 'cloudevents';
import { Dispatcher, type DeliveryTarget } from '../../src/dispatcher/index.js';
import { resolveDeliveryPolicy } from '../../src/subscriptions/index.js';
import { startSink, type ReceivedRequest, type RecordingSink, type SinkResponder } from '../helpers/sink.js';
import { closedPortUrl, count, event, LEVEL, newMetrics, RawServer, recordingLogger, recordingObserver, runLikeChannel } from './helpers.js';

function asCloudEvent(r: ReceivedRequest): CloudEvent<unknown> {
  return HTTP.toEvent({ headers: r.headers as Record<string, string>, body: r.body.length ? r.body.toString() : undefined }) as CloudEvent<unknown>;
}

// The same contract whether the POSTs run in the delivery thread or on the main thread.
for (const deliveryThread of [true, false]) describe(`Dispatcher: dead-letter sink (${deliveryThread ? 'delivery thread' : 'main thread'})`, () => {
  const metrics = newMetrics();
  const { logger, lines } = recordingLogger();
  const observer = recordingObserver();
  const dispatcher = new Dispatcher({ logger, metrics, observer, deliveryThread });
  const sinks: Array<{ close(): Promise<void> }> = [];
  after(async () => {
    await dispatcher.close();
    await Promise.all(sinks.map((s) => s.close()));
  });
  const sink = async (responder?: SinkResponder): Promise<RecordingSink> => {
    const s = await startSink(responder);
    sinks.push(s);
    return s;
  };
  const failing = (status: number, body?: string | Buffer) =>
    sink((_req, res) => {
      res.statusCode = status;
      res.end(body);
    });
  const target = (subscriberUri: string, deadLetterUri: string | undefined, over: Partial<DeliveryTarget> = {}): DeliveryTarget => ({
    namespace: 'ns',
    resource: 'chan',
    subscription: 'sub',
    subscriberUri,
    deadLetterUri,
    policy: resolveDeliveryPolicy({ retry: 2, backoffDelay: 'PT0.01S' }),
    ...over,
  });

  test('after the last attempt: the original event plus knativeerrordest, -code and -data', async () => {
    const sub = await failing(500, 'boom!');
    const dls = await sink();
    const data = Buffer.from('{"keep":"me"}');
    const ev = event({ myext: 'x' }, data);
    const { calls, results } = await runLikeChannel(dispatcher.handlerFor(target(sub.url, dls.url)), ev);
    assert.equal(calls, 3, 'retry 2 = 3 attempts');
    assert.deepEqual(results.at(-1), { outcome: 'done' });
    assert.equal(sub.requests.length, 3);
    assert.equal(dls.requests.length, 1);
    const r = dls.requests[0]!;
    assert.deepEqual(r.body, data, 'data unchanged');
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal(r.headers['ce-knativeerrordest'], sub.url);
    assert.equal(r.headers['ce-knativeerrorcode'], '500');
    assert.equal(r.headers['ce-knativeerrordata'], 'Ym9vbSE=', 'standard padded base64 of "boom!"');
    const ce = asCloudEvent(r);
    assert.equal(ce.id, ev.attributes.id);
    assert.equal(ce.source, ev.attributes.source);
    assert.equal(ce.type, ev.attributes.type);
    assert.equal(ce['myext'], 'x');
    assert.equal(ce['knativeerrorcode'], '500');
    assert.deepEqual(ce.data, { keep: 'me' });
    assert.equal(await count(metrics.eventsDeadLettered, { subscription: 'sub' }), 1);
    assert.equal(observer.outcomes.at(-1)!.outcome, 'dead-lettered');
    assert.equal(observer.outcomes.at(-1)!.attempts, 3);
    assert.equal(observer.outcomes.at(-1)!.statusCode, 500);
  });

  test('knativeerrordata carries exactly the first 1024 bytes of a longer body', async () => {
    const body = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7) % 256));
    const sub = await failing(503, body);
    const dls = await sink();
    await runLikeChannel(dispatcher.handlerFor(target(sub.url, dls.url, { policy: resolveDeliveryPolicy({ retry: 0 }) })), event());
    const got = dls.requests[0]!.headers['ce-knativeerrordata'] as string;
    assert.equal(got, body.subarray(0, 1024).toString('base64'));
    assert.equal(Buffer.from(got, 'base64').length, 1024);
    assert.equal(got.length, 1368);
    assert.equal(dls.requests[0]!.headers['ce-knativeerrorcode'], '503');
  });

  test('a 4xx is not retried: straight to the dead-letter sink; no body means no knativeerrordata', async () => {
    const sub = await failing(400);
    const dls = await sink();
    const { calls } = await runLikeChannel(dispatcher.handlerFor(target(sub.url, dls.url, { policy: resolveDeliveryPolicy({ retry: 5 }) })), event());
    assert.equal(calls, 1);
    assert.equal(sub.requests.length, 1);
    const h = dls.requests[0]!.headers;
    assert.equal(h['ce-knativeerrorcode'], '400');
    assert.equal(h['ce-knativeerrordata'], undefined);
  });

  test('transport failures and timeouts are code 500 with the URL that failed', async () => {
    const hang = await new RawServer(() => {}).start();
    sinks.push(hang);
    const dls = await sink();
    await runLikeChannel(dispatcher.handlerFor(target(hang.url, dls.url, { policy: resolveDeliveryPolicy({ retry: 0, timeout: 'PT0.2S' }) })), event());
    const refused = await closedPortUrl();
    await runLikeChannel(dispatcher.handlerFor(target(refused, dls.url, { policy: resolveDeliveryPolicy({ retry: 0 }) })), event());
    assert.equal(dls.requests.length, 2);
    assert.deepEqual(dls.requests.map((r) => [r.headers['ce-knativeerrordest'], r.headers['ce-knativeerrorcode'], r.headers['ce-knativeerrordata']]), [
      [hang.url, '500', undefined],
      [refused, '500', undefined],
    ]);
  });

  test('stale knativeerror extensions from an earlier pass are replaced', async () => {
    const sub = await failing(409);
    const dls = await sink();
    const ev = event({ knativeerrordest: 'http://old/', knativeerrorcode: '418', knativeerrordata: 'b2xk' });
    await runLikeChannel(dispatcher.handlerFor(target(sub.url, dls.url, { policy: resolveDeliveryPolicy({ retry: 0 }) })), ev);
    const h = dls.requests[0]!.headers;
    assert.deepEqual([h['ce-knativeerrordest'], h['ce-knativeerrorcode'], h['ce-knativeerrordata']], [sub.url, '409', undefined]);
  });

  test('the dead-letter sink is itself retried with the same policy', async () => {
    const sub = await failing(500);
    let dlsCalls = 0;
    const dls = await sink((_req, res) => {
      res.statusCode = ++dlsCalls < 3 ? 503 : 202;
      res.end();
    });
    const h = dispatcher.handlerFor(target(sub.url, dls.url, { subscription: 'dls-retry' }));
    assert.deepEqual(await h(event(), { attempt: 3 }), { outcome: 'done' });
    assert.equal(dls.requests.length, 3);
    assert.equal(await count(metrics.eventsDeadLettered, { subscription: 'dls-retry' }), 1);
    assert.equal(await count(metrics.eventsFailed, { subscription: 'dls-retry' }), 0);
  });

  test('a dead-letter sink that keeps failing: warn log and eventsFailed, no loop', async () => {
    const sub = await failing(500);
    const dls = await failing(500, 'dls down');
    const h = dispatcher.handlerFor(target(sub.url, dls.url, { subscription: 'dls-down' }));
    const { calls, results } = await runLikeChannel(h, event());
    assert.equal(calls, 3);
    assert.deepEqual(results.at(-1), { outcome: 'done' });
    assert.equal(dls.requests.length, 3, 'retry 2 = 3 tries to the dead-letter sink, then stop');
    assert.equal(await count(metrics.eventsFailed, { subscription: 'dls-down', reason: 'dead_letter_failed' }), 1);
    assert.equal(await count(metrics.eventsDeadLettered, { subscription: 'dls-down' }), 0);
    const warn = lines.find((l) => l.subscription === 'dls-down' && l.level === LEVEL.warn);
    assert.ok(warn, 'a warning names the failure');
    assert.equal(warn.deadLetterStatusCode, 500);
    assert.equal(warn.statusCode, 500);
    assert.equal(observer.outcomes.at(-1)!.outcome, 'failed');
    // Nothing more happens afterwards.
    const before = dls.requests.length + sub.requests.length;
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(dls.requests.length + sub.requests.length, before);
  });

  test('a dead-letter sink answering 400 is not retried', async () => {
    const sub = await failing(500);
    const dls = await failing(400);
    const h = dispatcher.handlerFor(target(sub.url, dls.url, { subscription: 'dls-400' }));
    assert.deepEqual(await h(event(), { attempt: 3 }), { outcome: 'done' });
    assert.equal(dls.requests.length, 1);
    assert.equal(await count(metrics.eventsFailed, { subscription: 'dls-400', reason: 'dead_letter_failed' }), 1);
  });
});
