import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ActivatorQueueFullError } from '../../src/errors.js';
import { Dispatcher, type DeliveryTarget, type EndpointResolver } from '../../src/dispatcher/index.js';
import { resolveDeliveryPolicy } from '../../src/subscriptions/index.js';
import { startSink, type RecordingSink } from '../helpers/sink.js';
import { count, event, newMetrics, RawServer, recordingLogger, recordingObserver } from './helpers.js';

/** An EndpointResolver like the activator's: holds `acquire` until `wake()` is called. */
class FakeActivator implements EndpointResolver {
  acquired = 0;
  released = 0;
  signals: AbortSignal[] = [];
  #waiting: Array<() => void> = [];
  constructor(
    readonly url: string,
    readonly hold: boolean,
    readonly failWith?: Error,
  ) {}
  async acquire(signal: AbortSignal) {
    this.signals.push(signal);
    if (this.failWith) throw this.failWith;
    if (this.hold) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    this.acquired++;
    return { url: this.url, release: () => void this.released++ };
  }
  get held(): number {
    return this.#waiting.length;
  }
  wake(): void {
    for (const w of this.#waiting.splice(0)) w();
  }
}

async function until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('Dispatcher: activator endpoint', () => {
  const metrics = newMetrics();
  const observer = recordingObserver();
  const dispatcher = new Dispatcher({ logger: recordingLogger().logger, metrics, observer });
  const closers: Array<() => Promise<void>> = [];
  after(async () => {
    await dispatcher.close();
    await Promise.all(closers.map((c) => c()));
  });
  const target = (endpoint: EndpointResolver, over: Partial<DeliveryTarget> = {}): DeliveryTarget => ({
    namespace: 'ns',
    resource: 'chan',
    subscription: 'scaled',
    subscriberUri: 'http://svc.ns.example/',
    endpoint,
    policy: resolveDeliveryPolicy({ retry: 2, backoffDelay: 'PT0.01S', timeout: 'PT0.2S' }),
    ...over,
  });

  test('each attempt awaits acquire, posts to the granted url and releases; the wake is not part of the timeout', async () => {
    const sink = await startSink();
    closers.push(() => sink.close());
    const activator = new FakeActivator(sink.url, true);
    const h = dispatcher.handlerFor(target(activator));
    const pending = h(event(), { attempt: 1 });
    await until(() => activator.held === 1, 'acquire to be called');
    // Hold longer than the 200 ms attempt timeout: a cold start must not fail the attempt.
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(sink.requests.length, 0, 'nothing sent before the service is ready');
    activator.wake();
    assert.deepEqual(await pending, { outcome: 'done' });
    assert.equal(sink.requests.length, 1);
    assert.equal(sink.requests[0]!.headers['prefer'], 'reply');
    assert.deepEqual([activator.acquired, activator.released], [1, 1]);
    assert.equal(observer.attempts.at(-1)!.statusCode, 202);
  });

  test('release is called when the attempt fails too', async () => {
    const hang = await new RawServer(() => {}).start();
    closers.push(() => hang.close());
    const activator = new FakeActivator(hang.url, false);
    assert.deepEqual(await dispatcher.handlerFor(target(activator))(event(), { attempt: 1 }), { outcome: 'retry', delayMs: 20 });
    assert.deepEqual([activator.acquired, activator.released], [1, 1]);
  });

  test('acquire rejecting is a retryable 503, and the last one reaches the dead-letter sink with code 503', async () => {
    const dls = await startSink();
    closers.push(() => dls.close());
    const activator = new FakeActivator('http://unused.example/', false, new ActivatorQueueFullError('queue full'));
    const h = dispatcher.handlerFor(target(activator, { deadLetterUri: dls.url, subscription: 'cold' }));
    assert.deepEqual(await h(event(), { attempt: 1 }), { outcome: 'retry', delayMs: 20 });
    assert.equal(observer.attempts.at(-1)!.statusCode, 503);
    assert.ok(observer.attempts.at(-1)!.error instanceof ActivatorQueueFullError);
    assert.deepEqual(await h(event(), { attempt: 3 }), { outcome: 'done' });
    assert.equal(dls.requests[0]!.headers['ce-knativeerrorcode'], '503');
    assert.equal(dls.requests[0]!.headers['ce-knativeerrordest'], 'http://svc.ns.example/');
    assert.equal(await count(metrics.deliveries, { subscription: 'cold', response_code_class: '5xx' }), 2);
  });
});

describe('Dispatcher: close()', () => {
  test('aborts inline dead-letter waits and hands the event back to the channel', async () => {
    const sub = await startSink((_req, res) => {
      res.statusCode = 500;
      res.end();
    });
    const dls = await startSink((_req, res) => {
      res.statusCode = 503;
      res.end();
    });
    const observer = recordingObserver();
    const metrics = newMetrics();
    const d = new Dispatcher({ logger: recordingLogger().logger, metrics, observer });
    try {
      const h = d.handlerFor({
        namespace: 'ns',
        resource: 'chan',
        subscription: 'closing',
        subscriberUri: sub.url,
        deadLetterUri: dls.url,
        // The first dead-letter retry waits 2 × 30 s: only close() can end it early.
        policy: resolveDeliveryPolicy({ retry: 1, backoffDelay: 'PT30S' }),
      });
      const pending = h(event(), { attempt: 2 });
      await dls.waitFor(1);
      await d.close();
      assert.deepEqual(await pending, { outcome: 'retry', delayMs: 0 });
      assert.equal(dls.requests.length, 1);
      assert.equal(observer.outcomes.at(-1)!.outcome, 'retrying');
      assert.equal(await count(metrics.eventsFailed), 0, 'shutdown is not a delivery failure');
      // After close, handlers return the event without sending.
      assert.deepEqual(await h(event(), { attempt: 1 }), { outcome: 'retry', delayMs: 1000 });
      assert.equal(sub.requests.length, 1);
      assert.equal(d.closed, true);
      await d.close();
    } finally {
      await d.close();
      await sub.close();
      await dls.close();
    }
  });

  test('aborts an in-flight attempt and an activator wake', async () => {
    const hang = await new RawServer(() => {}).start();
    const activator = new FakeActivator('http://unused.example/', true);
    const d = new Dispatcher({ logger: recordingLogger().logger, metrics: newMetrics() });
    try {
      const base = { namespace: 'ns', resource: 'chan', subscription: 's', policy: resolveDeliveryPolicy({ retry: 0, timeout: 'PT60S' }) };
      const inflight = d.handlerFor({ ...base, subscriberUri: hang.url })(event(), { attempt: 1 });
      const waking = d.handlerFor({ ...base, subscriberUri: 'http://svc.example/', endpoint: activator })(event(), { attempt: 1 });
      await until(() => hang.sockets.size === 1 && activator.signals.length === 1, 'the attempt and the acquire to start');
      const aborted = new Promise<void>((resolve) => activator.signals[0]!.addEventListener('abort', () => resolve()));
      await d.close();
      await aborted;
      activator.wake();
      assert.deepEqual(await inflight, { outcome: 'retry', delayMs: 0 });
      assert.deepEqual(await waking, { outcome: 'retry', delayMs: 0 });
    } finally {
      await d.close();
      await hang.close();
    }
  });
});

describe('Dispatcher.send', () => {
  let sink: RecordingSink | undefined;
  after(async () => sink?.close());

  test('one plain POST in binary mode, failures as data', async () => {
    sink = await startSink((_req, res) => {
      res.statusCode = 503;
      res.end('busy');
    });
    const d = new Dispatcher({ logger: recordingLogger().logger, metrics: newMetrics() });
    try {
      const ev = event({}, Buffer.from('{"a":1}'));
      const r = await d.send(sink.url, ev, { headers: { 'x-trace': 't1' } });
      assert.equal(r.ok, false);
      assert.equal(r.statusCode, 503);
      assert.equal(r.body.toString(), 'busy');
      assert.equal(sink.requests.length, 1, 'send never retries');
      const got = sink.requests[0]!;
      assert.equal(got.headers['ce-id'], ev.attributes.id);
      assert.equal(got.headers['x-trace'], 't1');
      assert.equal(got.headers['prefer'], undefined);
      sink.setResponder((_req, res) => {
        res.statusCode = 202;
        res.end();
      });
      assert.equal((await d.send(sink.url, ev)).ok, true);
      const retried = await d.sendWithRetry(sink.url, ev, resolveDeliveryPolicy({ retry: 3 }));
      assert.equal(retried.statusCode, 202);
    } finally {
      await d.close();
    }
  });
});

describe('Dispatcher under concurrency', () => {
  test('hundreds of concurrent attempts: all delivered, no listener-leak warning', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => void warnings.push(w);
    process.on('warning', onWarning);
    const sink = await startSink((_req, res) => {
      setTimeout(() => {
        res.statusCode = 202;
        res.end();
      }, 20);
    });
    const d = new Dispatcher({ logger: recordingLogger().logger, metrics: newMetrics() });
    try {
      const h = d.handlerFor({ namespace: 'ns', resource: 'c', subscription: 's', subscriberUri: sink.url, policy: resolveDeliveryPolicy({ timeout: 'PT30S' }) });
      const results = await Promise.all(Array.from({ length: 300 }, () => h(event(), { attempt: 1 })));
      assert.ok(results.every((r) => r.outcome === 'done'));
      assert.equal(sink.requests.length, 300);
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(warnings.filter((w) => w.name === 'MaxListenersExceededWarning'), []);
    } finally {
      process.off('warning', onWarning);
      await d.close();
      await sink.close();
    }
  });
});
