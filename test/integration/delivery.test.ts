import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CloudEvent, HTTP, emitterFor, httpTransport, Mode } from 'cloudevents';
import { startSink, type RecordingSink } from '../helpers/sink.js';
import { channelYaml, startSluice, subscriptionYaml } from '../helpers/sluice.js';

type Sluice = Awaited<ReturnType<typeof startSluice>>;

const ce = (id: string, data: unknown = { n: id }) => new CloudEvent({ id, source: '/test', type: 'dev.test.event', data });

function asEvent(req: { headers: Record<string, unknown>; body: Buffer }) {
  return HTTP.toEvent({ headers: req.headers as Record<string, string>, body: req.body.length ? req.body.toString() : undefined }) as CloudEvent<unknown>;
}

describe('delivery through a channel (SDK emitter in, real HTTP sinks out)', () => {
  const sinks: RecordingSink[] = [];
  let sluice: Sluice | undefined;
  const sink = async (...args: Parameters<typeof startSink>) => {
    const s = await startSink(...args);
    sinks.push(s);
    return s;
  };
  after(async () => {
    await sluice?.close();
    await Promise.all(sinks.map((s) => s.close()));
  });
  const fresh = async (yaml: string) => {
    await sluice?.close();
    sluice = await startSluice(yaml);
    return sluice;
  };

  test('fan-out: every subscriber gets every event, in binary mode with Prefer: reply', async () => {
    const a = await sink();
    const b = await sink();
    const s = await fresh(channelYaml('fan') + subscriptionYaml('to-a', 'fan', a.url) + subscriptionYaml('to-b', 'fan', b.url));
    const emit = emitterFor(httpTransport(`${s.url}/channels/default/fan`), { mode: Mode.BINARY });
    for (let i = 0; i < 5; i++) await emit(ce(String(i)));
    const emitS = emitterFor(httpTransport(`${s.url}/channels/default/fan`), { mode: Mode.STRUCTURED });
    await emitS(ce('s1', { structured: true }));
    await a.waitFor(6);
    await b.waitFor(6);
    for (const r of a.requests) {
      assert.equal(r.headers['prefer'], 'reply');
      assert.ok(r.headers['ce-id'], 'binary mode');
      const e = asEvent(r);
      assert.equal(e.source, '/test');
    }
    const s1 = a.requests.map(asEvent).find((e) => e.id === 's1')!;
    assert.deepEqual(s1.data, { structured: true });
    assert.deepEqual(new Set(a.requests.map((r) => r.headers['ce-id'])), new Set(b.requests.map((r) => r.headers['ce-id'])));
  });

  test('batched mode is accepted and each event delivered', async () => {
    const a = await sink();
    const s = await fresh(channelYaml('batch') + subscriptionYaml('to-a', 'batch', a.url));
    const body = JSON.stringify([
      { specversion: '1.0', id: 'b1', source: '/t', type: 't', data: { x: 1 } },
      { specversion: '1.0', id: 'b2', source: '/t', type: 't', data_base64: Buffer.from([0, 1, 2, 255]).toString('base64'), datacontenttype: 'application/octet-stream' },
    ]);
    const res = await fetch(`${s.url}/channels/default/batch`, { method: 'POST', headers: { 'content-type': 'application/cloudevents-batch+json' }, body });
    assert.equal(res.status, 202);
    await a.waitFor(2);
    const b2 = a.requests.find((r) => r.headers['ce-id'] === 'b2')!;
    assert.deepEqual([...b2.body], [0, 1, 2, 255]);
    assert.equal(b2.headers['content-type'], 'application/octet-stream');
  });

  test('retries with linear backoff, then success', async () => {
    let calls = 0;
    const a = await sink((_req, res) => {
      res.statusCode = ++calls <= 2 ? 503 : 200;
      res.end();
    });
    const s = await fresh(channelYaml('retry') + subscriptionYaml('to-a', 'retry', a.url, '  delivery: {retry: 3, backoffPolicy: linear, backoffDelay: PT0.1S}\n'));
    await emitterFor(httpTransport(`${s.url}/channels/default/retry`))(ce('r1'));
    await a.waitFor(3);
    const t = a.requests.map((r) => r.receivedAt);
    assert.ok(t[1]! - t[0]! >= 90, `first retry waited ${t[1]! - t[0]!} ms (expected ~100)`);
    assert.ok(t[2]! - t[1]! >= 190, `second retry waited ${t[2]! - t[1]!} ms (expected ~200)`);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(a.requests.length, 3, 'no delivery after success');
  });

  test('exhausted retries go to the dead-letter sink with the knativeerror extensions', async () => {
    const a = await sink((_req, res) => {
      res.statusCode = 500;
      res.end('boom: subscriber exploded');
    });
    const dls = await sink();
    const s = await fresh(
      channelYaml('dl') +
        subscriptionYaml('to-a', 'dl', a.url, `  delivery: {retry: 2, backoffPolicy: exponential, backoffDelay: PT0.01S, deadLetterSink: {uri: "${dls.url}"}}\n`),
    );
    await emitterFor(httpTransport(`${s.url}/channels/default/dl`))(ce('d1', { keep: 'me' }));
    await dls.waitFor(1);
    assert.equal(a.requests.length, 3, 'retry 2 = 3 attempts');
    const e = asEvent(dls.requests[0]!);
    assert.equal(e.id, 'd1');
    assert.deepEqual(e.data, { keep: 'me' });
    assert.equal(e['knativeerrorcode'], '500');
    assert.equal(e['knativeerrordest'], a.url);
    assert.equal(Buffer.from(String(e['knativeerrordata']), 'base64').toString(), 'boom: subscriber exploded');
  });

  test('400 is not retried: straight to the dead-letter sink', async () => {
    const a = await sink((_req, res) => {
      res.statusCode = 400;
      res.end();
    });
    const dls = await sink();
    const s = await fresh(channelYaml('nr') + subscriptionYaml('to-a', 'nr', a.url, `  delivery: {retry: 5, backoffDelay: PT0.01S, deadLetterSink: {uri: "${dls.url}"}}\n`));
    await emitterFor(httpTransport(`${s.url}/channels/default/nr`))(ce('n1'));
    await dls.waitFor(1);
    assert.equal(a.requests.length, 1);
    assert.equal(dls.requests[0]!.headers['ce-knativeerrorcode'], '400');
  });

  test('a reply event goes to spec.reply', async () => {
    const a = await sink((_req, res) => {
      res.writeHead(200, { 'ce-specversion': '1.0', 'ce-id': 'reply-1', 'ce-source': '/replier', 'ce-type': 'dev.test.reply', 'content-type': 'application/json' });
      res.end(JSON.stringify({ answer: 42 }));
    });
    const replies = await sink();
    const s = await fresh(channelYaml('rp') + subscriptionYaml('to-a', 'rp', a.url, `  reply: {uri: "${replies.url}"}\n`));
    await emitterFor(httpTransport(`${s.url}/channels/default/rp`))(ce('q1'));
    await replies.waitFor(1);
    const e = asEvent(replies.requests[0]!);
    assert.equal(e.id, 'reply-1');
    assert.deepEqual(e.data, { answer: 42 });
  });

  test('a reply into another channel travels on (ref to a channel)', async () => {
    const a = await sink((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/cloudevents+json' });
      res.end(JSON.stringify({ specversion: '1.0', id: 'r2', source: '/replier', type: 'dev.test.reply', data: { via: 'structured' } }));
    });
    const end = await sink();
    const yaml =
      channelYaml('first') +
      '---\n' +
      channelYaml('second') +
      subscriptionYaml('to-a', 'first', a.url, '  reply: {ref: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: second}}\n') +
      subscriptionYaml('to-end', 'second', end.url);
    const s = await fresh(yaml);
    await emitterFor(httpTransport(`${s.url}/channels/default/first`))(ce('q2'));
    await end.waitFor(1);
    assert.equal(end.requests[0]!.headers['ce-id'], 'r2');
  });

  test('Retry-After on 429 is honoured up to retryAfterMax', async () => {
    let calls = 0;
    const a = await sink((_req, res) => {
      if (++calls === 1) {
        res.writeHead(429, { 'retry-after': '1' });
        res.end();
        return;
      }
      res.statusCode = 202;
      res.end();
    });
    const s = await fresh(channelYaml('ra') + subscriptionYaml('to-a', 'ra', a.url, '  delivery: {retry: 2, backoffDelay: PT0.01S, retryAfterMax: PT5S}\n'));
    await emitterFor(httpTransport(`${s.url}/channels/default/ra`))(ce('ra1'));
    await a.waitFor(2, 5000);
    const gap = a.requests[1]!.receivedAt - a.requests[0]!.receivedAt;
    assert.ok(gap >= 950, `waited ${gap} ms for Retry-After: 1`);
  });

  test('a hanging subscriber does not delay another; its timeout sends it to the dead-letter sink', async () => {
    const hang = await sink(() => {});
    const fast = await sink();
    const dls = await sink();
    const s = await fresh(
      channelYaml('hang') +
        subscriptionYaml('to-hang', 'hang', hang.url, `  delivery: {retry: 0, timeout: PT0.3S, deadLetterSink: {uri: "${dls.url}"}}\n`) +
        subscriptionYaml('to-fast', 'hang', fast.url),
    );
    const emit = emitterFor(httpTransport(`${s.url}/channels/default/hang`));
    const t0 = Date.now();
    for (let i = 0; i < 3; i++) await emit(ce(`h${i}`));
    await fast.waitFor(3);
    assert.ok(Date.now() - t0 < 250, 'fast subscriber served before the hanging one timed out');
    await dls.waitFor(3, 5000);
    assert.equal(dls.requests[0]!.headers['ce-knativeerrorcode'], '500');
  });
});
