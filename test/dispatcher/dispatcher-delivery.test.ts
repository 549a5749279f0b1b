import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { HTTP, type CloudEvent } from 'cloudevents';
import { Dispatcher, type DeliveryTarget } from '../../src/dispatcher/index.js';
import { resolveDeliveryPolicy } from '../../src/subscriptions/index.js';
import { startSink, type RecordingSink, type ReceivedRequest } from '../helpers/sink.js';
import { closedPortUrl, count, event, LEVEL, newMetrics, RawServer, recordingLogger, recordingObserver, runLikeChannel } from './helpers.js';

function asCloudEvent(r: ReceivedRequest): CloudEvent<unknown> {
  return HTTP.toEvent({ headers: r.headers as Record<string, string>, body: r.body.length ? r.body.toString() : undefined }) as CloudEvent<unknown>;
}

// The same contract whether the POSTs run in the delivery thread or on the main thread.
for (const deliveryThread of [true, false]) describe(`Dispatcher: one attempt per handler call (${deliveryThread ? 'delivery thread' : 'main thread'})`, () => {
  const metrics = newMetrics();
  const { logger, lines } = recordingLogger();
  const observer = recordingObserver();
  const dispatcher = new Dispatcher({ logger, metrics, observer, deliveryThread });
  const closers: Array<() => Promise<void>> = [];
  let status = 202;
  let sink: RecordingSink;

  before(async () => {
    sink = await startSink((_req, res) => {
      res.statusCode = status;
      res.end();
    });
    closers.push(() => sink.close());
  });
  after(async () => {
    await dispatcher.close();
    await Promise.all(closers.map((c) => c()));
  });

  const target = (over: Partial<DeliveryTarget> = {}): DeliveryTarget => ({
    namespace: 'ns',
    resource: 'orders',
    subscription: 'to-sink',
    subscriberUri: sink.url,
    policy: resolveDeliveryPolicy({ retry: 3, backoffPolicy: 'exponential', backoffDelay: 'PT0.01S' }),
    ...over,
  });

  test('success: binary mode with Prefer: reply, readable by the cloudevents SDK, bytes unchanged', async () => {
    status = 202;
    const data = Buffer.from(JSON.stringify({ order: 42, name: 'zoë' }));
    const ev = event({ subject: 'orders/42', myext: 'v1' }, data);
    const before = sink.requests.length;
    const result = await dispatcher.handlerFor(target())(ev, { attempt: 1 });
    assert.deepEqual(result, { outcome: 'done' });
    assert.equal(sink.requests.length, before + 1);
    const r = sink.requests.at(-1)!;
    assert.equal(r.method, 'POST');
    assert.equal(r.headers['prefer'], 'reply');
    assert.equal(r.headers['ce-id'], ev.attributes.id);
    assert.equal(r.headers['content-type'], 'application/json');
    assert.deepEqual(r.body, data);
    const ce = asCloudEvent(r);
    assert.equal(ce.id, ev.attributes.id);
    assert.equal(ce.source, '/test/dispatcher');
    assert.equal(ce.subject, 'orders/42');
    assert.equal(ce['myext'], 'v1');
    assert.deepEqual(ce.data, { order: 42, name: 'zoë' });
    assert.equal(await count(metrics.eventsDelivered, { subscription: 'to-sink' }), 1);
    assert.equal(await count(metrics.deliveries, { response_code_class: '2xx' }), 1);
    const o = observer.outcomes.at(-1)!;
    assert.equal(o.outcome, 'delivered');
    assert.equal(o.attempts, 1);
    assert.equal(observer.attempts.at(-1)!.statusCode, 202);
  });

  test('binary data that is not UTF-8 arrives byte for byte', async () => {
    status = 200;
    const data = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const ev = event({ datacontenttype: 'application/octet-stream' }, data);
    assert.deepEqual(await dispatcher.handlerFor(target())(ev, { attempt: 1 }), { outcome: 'done' });
    assert.deepEqual(sink.requests.at(-1)!.body, data);
  });

  test('every 2xx is success', async () => {
    const h = dispatcher.handlerFor(target());
    for (const s of [200, 201, 202, 204, 299]) {
      status = s;
      assert.deepEqual(await h(event(), { attempt: 1 }), { outcome: 'done' }, `status ${s}`);
    }
  });

  test('retryable statuses ask the channel to retry, with the backoff of that retry', async () => {
    const h = dispatcher.handlerFor(target());
    for (const s of [404, 408, 409, 429, 500, 502, 503, 504]) {
      status = s;
      assert.deepEqual(await h(event(), { attempt: 1 }), { outcome: 'retry', delayMs: 20 }, `status ${s}`);
    }
    status = 503;
    // Exponential PT0.01S: retry n waits 10 × 2^n ms.
    assert.deepEqual(await h(event(), { attempt: 2 }), { outcome: 'retry', delayMs: 40 });
    assert.deepEqual(await h(event(), { attempt: 3 }), { outcome: 'retry', delayMs: 80 });
    // attempt 4 = retry + 1 is the last: no dead-letter sink, so the event is dropped.
    assert.deepEqual(await h(event(), { attempt: 4 }), { outcome: 'done' });
    assert.ok(await count(metrics.eventsRetried, { subscription: 'to-sink' }) >= 10);
  });

  test('linear backoff and no backoffDelay', async () => {
    status = 500;
    const linear = dispatcher.handlerFor(target({ policy: resolveDeliveryPolicy({ retry: 5, backoffPolicy: 'linear', backoffDelay: 'PT0.25S' }) }));
    assert.deepEqual(await linear(event(), { attempt: 1 }), { outcome: 'retry', delayMs: 250 });
    assert.deepEqual(await linear(event(), { attempt: 3 }), { outcome: 'retry', delayMs: 750 });
    const immediate = dispatcher.handlerFor(target({ policy: resolveDeliveryPolicy({ retry: 5 }) }));
    assert.deepEqual(await immediate(event(), { attempt: 1 }), { outcome: 'retry', delayMs: 0 });
  });

  test('3xx and 4xx other than 404/408/409/429 are not retried', async () => {
    const h = dispatcher.handlerFor(target({ subscription: 'non-retry' }));
    for (const s of [301, 302, 400, 401, 403, 405, 410, 413, 422]) {
      status = s;
      const beforeCount = sink.requests.length;
      assert.deepEqual(await h(event(), { attempt: 1 }), { outcome: 'done' }, `status ${s}`);
      assert.equal(sink.requests.length, beforeCount + 1, 'one attempt only');
    }
    assert.equal(await count(metrics.eventsRetried, { subscription: 'non-retry' }), 0);
    assert.equal(await count(metrics.eventsFailed, { subscription: 'non-retry', reason: 'no_dead_letter_sink' }), 9);
    assert.equal(await count(metrics.deliveries, { subscription: 'non-retry', response_code_class: '4xx' }), 7);
    assert.equal(await count(metrics.deliveries, { subscription: 'non-retry', response_code_class: '3xx' }), 2);
    const drop = lines.filter((l) => l.subscription === 'non-retry' && l.level === LEVEL.warn);
    assert.equal(drop.length, 9);
    assert.match(String(drop[0]!.msg), /no dead-letter sink/);
  });

  test('Retry-After on 429/503 is honoured up to retryAfterMax, ignored without it', async () => {
    const ra = await startSink((_req, res) => {
      res.writeHead(429, { 'retry-after': '2' });
      res.end();
    });
    closers.push(() => ra.close());
    const policy = (retryAfterMax?: string) =>
      resolveDeliveryPolicy({ retry: 2, backoffPolicy: 'linear', backoffDelay: 'PT0.01S', ...(retryAfterMax ? { retryAfterMax } : {}) });
    const t = (p: ReturnType<typeof policy>) => target({ subscriberUri: ra.url, policy: p });
    assert.deepEqual(await dispatcher.handlerFor(t(policy('PT5S')))(event(), { attempt: 1 }), { outcome: 'retry', delayMs: 2000 });
    assert.deepEqual(await dispatcher.handlerFor(t(policy('PT1S')))(event(), { attempt: 1 }), { outcome: 'retry', delayMs: 1000 });
    assert.deepEqual(await dispatcher.handlerFor(t(policy()))(event(), { attempt: 1 }), { outcome: 'retry', delayMs: 10 });
  });

  test('a channel-like loop retries until success', async () => {
    let calls = 0;
    const flaky = await startSink((_req, res) => {
      res.statusCode = ++calls < 3 ? 503 : 202;
      res.end();
    });
    closers.push(() => flaky.close());
    const { results, calls: n } = await runLikeChannel(dispatcher.handlerFor(target({ subscriberUri: flaky.url })), event());
    assert.equal(n, 3);
    assert.deepEqual(results, [{ outcome: 'retry', delayMs: 20 }, { outcome: 'retry', delayMs: 40 }, { outcome: 'done' }]);
    assert.equal(flaky.requests.length, 3);
  });

  test('transport errors (nothing listening) are retried and counted as error', async () => {
    const url = await closedPortUrl();
    const h = dispatcher.handlerFor(target({ subscription: 'refused', subscriberUri: url }));
    assert.deepEqual(await h(event(), { attempt: 1 }), { outcome: 'retry', delayMs: 20 });
    assert.equal(await count(metrics.deliveries, { subscription: 'refused', response_code_class: 'error' }), 1);
    const a = observer.attempts.at(-1)!;
    assert.equal(a.statusCode, undefined);
    assert.ok(a.error instanceof Error);
  });

  test('a hanging subscriber hits the per-attempt timeout', async () => {
    const hang = await new RawServer(() => {}).start();
    closers.push(() => hang.close());
    const h = dispatcher.handlerFor(target({ subscription: 'hang', subscriberUri: hang.url, policy: resolveDeliveryPolicy({ retry: 1, timeout: 'PT0.3S' }) }));
    const t0 = Date.now();
    assert.deepEqual(await h(event(), { attempt: 1 }), { outcome: 'retry', delayMs: 0 });
    const took = Date.now() - t0;
    assert.ok(took >= 250 && took < 20_000, `timed out after ${took} ms`);
    const a = observer.attempts.at(-1)!;
    assert.equal((a.error as { code?: string }).code, 'SLUICE_ERR_DELIVERY_TIMEOUT');
  });

  test('the timeout also covers a body that never finishes', async () => {
    const slow = await new RawServer((s) => s.once('data', () => s.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'))).start();
    closers.push(() => slow.close());
    const h = dispatcher.handlerFor(target({ subscriberUri: slow.url, policy: resolveDeliveryPolicy({ retry: 1, timeout: 'PT0.3S' }) }));
    assert.deepEqual(await h(event(), { attempt: 1 }), { outcome: 'retry', delayMs: 0 });
    assert.equal((observer.attempts.at(-1)!.error as { code?: string }).code, 'SLUICE_ERR_DELIVERY_TIMEOUT');
  });

  test('a subscriber that closes the connection mid-response is a retryable failure', async () => {
    const rude = await new RawServer((s) =>
      s.once('data', () => {
        s.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\nce-specversion: 1.0\r\n\r\npartial');
        setImmediate(() => s.destroy());
      }),
    ).start();
    closers.push(() => rude.close());
    const h = dispatcher.handlerFor(target({ subscriberUri: rude.url }));
    assert.deepEqual(await h(event(), { attempt: 1 }), { outcome: 'retry', delayMs: 20 });
    assert.equal(observer.attempts.at(-1)!.statusCode, undefined);
  });

  test('the latency histogram records every attempt', async () => {
    const { values } = await metrics.deliveryLatency.get();
    // One series per response code class: count them all.
    const n = values
      .filter((v) => v.metricName === 'sluice_delivery_duration_seconds_count' && v.labels.subscription === 'to-sink')
      .reduce((sum, v) => sum + v.value, 0);
    assert.ok(n >= 20, `${n} attempts recorded`);
    assert.ok(values.some((v) => v.labels.subscription === 'to-sink' && v.labels.response_code_class === '2xx'));
  });
});

describe('Dispatcher: robustness', () => {
  test('a throwing observer never breaks delivery', async () => {
    const sink = await startSink();
    const { logger, lines } = recordingLogger();
    const d = new Dispatcher({
      logger,
      metrics: newMetrics(),
      observer: {
        onAttempt: () => {
          throw new Error('observer bug');
        },
        onOutcome: () => Promise.reject(new Error('async observer bug')) as unknown as void,
      },
    });
    try {
      const h = d.handlerFor({ namespace: 'ns', resource: 'c', subscription: 's', subscriberUri: sink.url, policy: resolveDeliveryPolicy(undefined) });
      assert.deepEqual(await h(event(), { attempt: 1 }), { outcome: 'done' });
      await new Promise((r) => setImmediate(r));
      assert.equal(lines.filter((l) => l.msg === 'delivery observer failed').length, 2);
    } finally {
      await d.close();
      await sink.close();
    }
  });

  test('an event that cannot be serialised is a failed attempt, not an exception', async () => {
    const sink = await startSink();
    const d = new Dispatcher({ logger: recordingLogger().logger, metrics: newMetrics() });
    try {
      const h = d.handlerFor({ namespace: 'ns', resource: 'c', subscription: 's', subscriberUri: sink.url, policy: resolveDeliveryPolicy({ retry: 1 }) });
      const bad = { attributes: { specversion: '1.0', id: 'x', source: '/s', type: 't', 'bad ext\n': 'v' } };
      const r = await h(bad, { attempt: 1 });
      assert.equal(r.outcome, 'retry');
      assert.deepEqual(await h(bad, { attempt: 2 }), { outcome: 'done' });
    } finally {
      await d.close();
      await sink.close();
    }
  });

  test('options and targets are validated when built', () => {
    const logger = recordingLogger().logger;
    const metrics = newMetrics();
    assert.throws(() => new Dispatcher({ logger, metrics, defaultTimeoutMs: 0 }), { code: 'SLUICE_ERR_INVALID_OPTION', message: /defaultTimeoutMs/ });
    assert.throws(() => new Dispatcher({ logger, metrics, connectionsPerOrigin: 1.5 }), { message: /connectionsPerOrigin/ });
    assert.throws(() => new Dispatcher({ logger: {} as never, metrics }), { message: /logger/ });
    const d = new Dispatcher({ logger, metrics });
    const base: DeliveryTarget = { namespace: 'ns', resource: 'c', subscription: 's', subscriberUri: 'http://127.0.0.1:1/', policy: resolveDeliveryPolicy(undefined) };
    assert.throws(() => d.handlerFor({ ...base, subscriberUri: 'not a url' }), { code: 'SLUICE_ERR_INVALID_OPTION', message: /ns\/s: subscriberUri/ });
    assert.throws(() => d.handlerFor({ ...base, deadLetterUri: 'ftp://x/' }), { message: /deadLetterUri.*http or https/ });
    assert.throws(() => d.handlerFor({ ...base, policy: { ...base.policy, retry: -1 } }), { message: /policy\.retry/ });
    assert.throws(() => d.handlerFor({ ...base, subscription: '' }), { message: /subscription/ });
    return assert.rejects(d.send('nope', event()), { code: 'SLUICE_ERR_INVALID_OPTION' }).finally(() => d.close());
  });
});
