import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { HTTP, type CloudEvent } from 'cloudevents';
import { Dispatcher, type DeliveryTarget } from '../../src/dispatcher/index.js';
import { resolveDeliveryPolicy } from '../../src/subscriptions/index.js';
import { startSink, type ReceivedRequest, type RecordingSink, type SinkResponder } from '../helpers/sink.js';
import { count, event, LEVEL, newMetrics, recordingLogger, recordingObserver } from './helpers.js';

function asCloudEvent(r: ReceivedRequest): CloudEvent<unknown> {
  return HTTP.toEvent({ headers: r.headers as Record<string, string>, body: r.body.length ? r.body.toString() : undefined }) as CloudEvent<unknown>;
}

const BINARY_REPLY = { 'ce-specversion': '1.0', 'ce-id': 'reply-1', 'ce-source': '/replier', 'ce-type': 'dev.test.reply', 'content-type': 'application/json' };

// The same contract whether the POSTs run in the delivery thread or on the main thread.
for (const deliveryThread of [true, false]) describe(`Dispatcher: replies (${deliveryThread ? 'delivery thread' : 'main thread'})`, () => {
  const metrics = newMetrics();
  const { logger, lines } = recordingLogger();
  const observer = recordingObserver();
  const dispatcher = new Dispatcher({ logger, metrics, observer, deliveryThread, maxReplyBytes: 64 * 1024 });
  const sinks: RecordingSink[] = [];
  after(async () => {
    await dispatcher.close();
    await Promise.all(sinks.map((s) => s.close()));
  });
  const sink = async (responder?: SinkResponder): Promise<RecordingSink> => {
    const s = await startSink(responder);
    sinks.push(s);
    return s;
  };
  const target = (subscriberUri: string, over: Partial<DeliveryTarget> = {}): DeliveryTarget => ({
    namespace: 'ns',
    resource: 'chan',
    subscription: 'replies',
    subscriberUri,
    policy: resolveDeliveryPolicy({ retry: 2, backoffDelay: 'PT0.01S' }),
    ...over,
  });

  test('a 200 with a binary-mode CloudEvent is a reply and goes to the reply sink', async () => {
    const sub = await sink((_req, res) => {
      res.writeHead(200, BINARY_REPLY);
      res.end(JSON.stringify({ answer: 42 }));
    });
    const replies = await sink();
    const ev = event();
    assert.deepEqual(await dispatcher.handlerFor(target(sub.url, { replyUri: replies.url }))(ev, { attempt: 1 }), { outcome: 'done' });
    assert.equal(replies.requests.length, 1);
    const r = replies.requests[0]!;
    assert.equal(r.headers['prefer'], undefined, 'replies are plain POSTs');
    const ce = asCloudEvent(r);
    assert.equal(ce.id, 'reply-1');
    assert.equal(ce.source, '/replier');
    assert.deepEqual(ce.data, { answer: 42 });
    assert.equal(await count(metrics.repliesSent, { outcome: 'sent' }), 1);
    assert.equal(observer.outcomes.at(-1)!.outcome, 'delivered');
  });

  test('a 200 with a structured-mode CloudEvent is a reply (forwarded in binary mode)', async () => {
    const sub = await sink((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/cloudevents+json; charset=utf-8' });
      res.end(JSON.stringify({ specversion: '1.0', id: 'r2', source: '/replier', type: 'dev.test.reply', datacontenttype: 'application/json', data: { via: 'structured' } }));
    });
    const replies = await sink();
    assert.deepEqual(await dispatcher.handlerFor(target(sub.url, { replyUri: replies.url }))(event(), { attempt: 1 }), { outcome: 'done' });
    const r = replies.requests[0]!;
    assert.equal(r.headers['ce-id'], 'r2');
    assert.deepEqual(asCloudEvent(r).data, { via: 'structured' });
  });

  test('a 202 body is never a reply, nor is a 200 body that is not a CloudEvent', async () => {
    let status = 202;
    const sub = await sink((_req, res) => {
      res.writeHead(status, status === 202 ? BINARY_REPLY : { 'content-type': 'application/json' });
      res.end(JSON.stringify({ answer: 1 }));
    });
    const replies = await sink();
    const h = dispatcher.handlerFor(target(sub.url, { replyUri: replies.url, subscription: 'not-replies' }));
    assert.deepEqual(await h(event(), { attempt: 1 }), { outcome: 'done' });
    status = 200;
    assert.deepEqual(await h(event(), { attempt: 1 }), { outcome: 'done' });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(replies.requests.length, 0);
    assert.equal(await count(metrics.repliesSent, { subscription: 'not-replies' }), 0);
  });

  test('an invalid CloudEvent on 200 is logged and ignored; the delivery still succeeded', async () => {
    let n = 0;
    const sub = await sink((_req, res) => {
      if (++n === 1) {
        res.writeHead(200, { 'content-type': 'application/cloudevents+json' });
        res.end('{"specversion":"1.0","id":');
      } else {
        res.writeHead(200, { ...BINARY_REPLY, 'ce-specversion': '0.3' });
        res.end('{}');
      }
    });
    const replies = await sink();
    const h = dispatcher.handlerFor(target(sub.url, { replyUri: replies.url, subscription: 'bad-replies' }));
    assert.deepEqual(await h(event(), { attempt: 1 }), { outcome: 'done' });
    assert.deepEqual(await h(event(), { attempt: 1 }), { outcome: 'done' });
    assert.equal(replies.requests.length, 0);
    assert.equal(await count(metrics.eventsDelivered, { subscription: 'bad-replies' }), 2);
    assert.equal(await count(metrics.repliesSent, { subscription: 'bad-replies', outcome: 'invalid' }), 2);
    const warns = lines.filter((l) => l.subscription === 'bad-replies' && l.level === LEVEL.warn);
    assert.equal(warns.length, 2);
    assert.match(String(warns[0]!.msg), /not a valid CloudEvent/);
  });

  test('a reply larger than maxReplyBytes is ignored with a warning', async () => {
    const sub = await sink((_req, res) => {
      res.writeHead(200, BINARY_REPLY);
      res.end(JSON.stringify({ big: 'x'.repeat(100 * 1024) }));
    });
    const replies = await sink();
    const h = dispatcher.handlerFor(target(sub.url, { replyUri: replies.url, subscription: 'big-reply' }));
    assert.deepEqual(await h(event(), { attempt: 1 }), { outcome: 'done' });
    assert.equal(replies.requests.length, 0);
    assert.equal(await count(metrics.repliesSent, { subscription: 'big-reply', outcome: 'invalid' }), 1);
  });

  test('without a reply destination the reply is dropped with a debug log', async () => {
    const sub = await sink((_req, res) => {
      res.writeHead(200, BINARY_REPLY);
      res.end('{}');
    });
    assert.deepEqual(await dispatcher.handlerFor(target(sub.url, { subscription: 'no-reply' }))(event(), { attempt: 1 }), { outcome: 'done' });
    assert.equal(await count(metrics.repliesSent, { subscription: 'no-reply', outcome: 'dropped' }), 1);
    assert.ok(lines.some((l) => l.subscription === 'no-reply' && l.level === LEVEL.debug && /reply dropped/.test(String(l.msg))));
  });

  test('reply delivery is retried inline with the policy', async () => {
    const sub = await sink((_req, res) => {
      res.writeHead(200, BINARY_REPLY);
      res.end('{}');
    });
    let n = 0;
    const replies = await sink((_req, res) => {
      res.statusCode = ++n < 3 ? 503 : 202;
      res.end();
    });
    assert.deepEqual(await dispatcher.handlerFor(target(sub.url, { replyUri: replies.url }))(event(), { attempt: 1 }), { outcome: 'done' });
    assert.equal(replies.requests.length, 3);
    assert.equal(sub.requests.length, 1, 'the subscriber is not asked again');
  });

  test('a reply that cannot be delivered sends the original event to the dead-letter sink with the reply URL', async () => {
    const sub = await sink((_req, res) => {
      res.writeHead(200, BINARY_REPLY);
      res.end('{"answer":1}');
    });
    const replies = await sink((_req, res) => {
      res.statusCode = 500;
      res.end('reply sink down');
    });
    const dls = await sink();
    const original = event({}, Buffer.from('{"original":true}'));
    const h = dispatcher.handlerFor(target(sub.url, { replyUri: replies.url, deadLetterUri: dls.url, subscription: 'reply-fails' }));
    assert.deepEqual(await h(original, { attempt: 1 }), { outcome: 'done' });
    assert.equal(replies.requests.length, 3, 'retry 2 = 3 tries to the reply sink');
    assert.equal(dls.requests.length, 1);
    const r = dls.requests[0]!;
    assert.equal(r.headers['ce-id'], original.attributes.id, 'the original event, not the reply');
    assert.deepEqual(r.body, Buffer.from('{"original":true}'));
    assert.equal(r.headers['ce-knativeerrordest'], replies.url);
    assert.equal(r.headers['ce-knativeerrorcode'], '500');
    assert.equal(Buffer.from(String(r.headers['ce-knativeerrordata']), 'base64').toString(), 'reply sink down');
    assert.equal(await count(metrics.repliesSent, { subscription: 'reply-fails', outcome: 'failed' }), 1);
    assert.equal(await count(metrics.eventsDeadLettered, { subscription: 'reply-fails' }), 1);
  });

  test('prepareReply can adjust or drop a reply', async () => {
    const sub = await sink((_req, res) => {
      res.writeHead(200, BINARY_REPLY);
      res.end('{}');
    });
    const replies = await sink();
    const h = dispatcher.handlerFor(
      target(sub.url, {
        replyUri: replies.url,
        subscription: 'prepared',
        prepareReply: (reply, original) =>
          original.attributes.drop ? undefined : { attributes: { ...reply.attributes, knativebrokerttl: '254' }, data: reply.data },
      }),
    );
    await h(event(), { attempt: 1 });
    await h(event({ drop: 'yes' }), { attempt: 1 });
    assert.equal(replies.requests.length, 1);
    assert.equal(replies.requests[0]!.headers['ce-knativebrokerttl'], '254');
    assert.equal(await count(metrics.repliesSent, { subscription: 'prepared', outcome: 'dropped' }), 1);
  });

  test('a throwing prepareReply drops the reply but not the delivery', async () => {
    const sub = await sink((_req, res) => {
      res.writeHead(200, BINARY_REPLY);
      res.end('{}');
    });
    const replies = await sink();
    const h = dispatcher.handlerFor(
      target(sub.url, {
        replyUri: replies.url,
        subscription: 'prepare-throws',
        prepareReply: () => {
          throw new Error('bug');
        },
      }),
    );
    assert.deepEqual(await h(event(), { attempt: 1 }), { outcome: 'done' });
    assert.equal(sub.requests.length, 1);
    assert.equal(replies.requests.length, 0);
    assert.equal(await count(metrics.repliesSent, { subscription: 'prepare-throws', outcome: 'failed' }), 1);
  });
});
