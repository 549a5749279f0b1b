import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { request } from 'undici';
import { InvalidEventError } from '../../src/errors.js';
import { parseHttpEvents, toStructuredJson } from '../../src/events/index.js';
import { createIngressApp } from '../../src/server/ingress.js';
import { IngressTargets, type IngressTarget } from '../../src/runtime/ingress-targets.js';
import { Metrics } from '../../src/observability/metrics.js';
import { channelYaml, startSluice, subscriptionYaml } from '../helpers/sluice.js';
import { startSink, type RecordingSink } from '../helpers/sink.js';

// JSON.parse does not recurse, JSON.stringify does: data nested thousands of levels deep
// parses fine and then overflowed the stack when a structured event's data was re-encoded
// (a RangeError, answered 500 and logged nowhere).

const DEPTHS = [5_000, 100_000];
const deepArray = (n: number) => '['.repeat(n) + ']'.repeat(n);
const deepObject = (n: number) => '{"a":'.repeat(n) + '1' + '}'.repeat(n);
const structured = (data: string, id = '1') => `{"specversion":"1.0","id":"${id}","source":"/deep","type":"deep","data":${data}}`;

describe('deeply nested JSON', () => {
  test('parseHttpEvents: structured and batch data too deep to re-encode is an InvalidEventError naming the depth', () => {
    for (const n of DEPTHS) {
      for (const data of [deepArray(n), deepObject(n)]) {
        assert.throws(
          () => parseHttpEvents({ 'content-type': 'application/cloudevents+json' }, Buffer.from(structured(data))),
          (e: unknown) => e instanceof InvalidEventError && e.message.includes(`nested too deeply (${n} levels)`),
        );
        assert.throws(
          () => parseHttpEvents({ 'content-type': 'application/cloudevents-batch+json' }, Buffer.from(`[${structured('1', 'a')},${structured(data, 'b')}]`)),
          (e: unknown) => e instanceof InvalidEventError && /^batch element 1: "data" is nested too deeply/.test(e.message),
        );
      }
    }
  });

  test('parseHttpEvents: binary mode keeps the bytes and never parses them, and they re-encode to structured mode', () => {
    for (const n of DEPTHS) {
      const body = Buffer.from(deepArray(n));
      const { events } = parseHttpEvents({ 'content-type': 'application/json', 'ce-specversion': '1.0', 'ce-id': '1', 'ce-source': '/deep', 'ce-type': 'deep' }, body);
      assert.ok(events[0]!.data!.equals(body));
      // Structured delivery embeds the JSON text as received (JSON.parse checks it without recursing).
      assert.ok(toStructuredJson(events[0]!).endsWith(`"data":${deepArray(n)}}`));
    }
  });

  describe('over HTTP', () => {
    let sink: RecordingSink;
    let sluice: Awaited<ReturnType<typeof startSluice>>;
    before(async () => {
      sink = await startSink();
      sluice = await startSluice(channelYaml('c') + subscriptionYaml('s', 'c', sink.url));
    });
    after(async () => {
      await sluice.close();
      await sink.close();
    });

    const post = async (headers: Record<string, string>, body: string) => {
      const res = await request(`${sluice.url}/channels/default/c`, { method: 'POST', headers, body });
      const text = await res.body.text();
      return { status: res.statusCode, json: text ? (JSON.parse(text) as { error: string; reason: string }) : undefined };
    };

    test('structured and batch: 400 SLUICE_ERR_INVALID_EVENT at 5,000 and 100,000 levels', async () => {
      for (const n of DEPTHS) {
        let r = await post({ 'content-type': 'application/cloudevents+json' }, structured(deepArray(n)));
        assert.equal(r.status, 400, `structured ${n}`);
        assert.equal(r.json?.reason, 'SLUICE_ERR_INVALID_EVENT');
        assert.match(r.json!.error, /nested too deeply/);
        r = await post({ 'content-type': 'application/cloudevents-batch+json; charset=utf-8' }, `[${structured(deepObject(n))}]`);
        assert.equal(r.status, 400, `batch ${n}`);
        assert.equal(r.json?.reason, 'SLUICE_ERR_INVALID_EVENT');
        assert.match(r.json!.error, /batch element 0: "data" is nested too deeply/);
      }
    });

    test('binary with application/json data: accepted as bytes and delivered unchanged', async () => {
      const before = sink.requests.length;
      for (const [i, n] of DEPTHS.entries()) {
        const r = await post({ 'content-type': 'application/json', 'ce-specversion': '1.0', 'ce-id': `deep-${i}`, 'ce-source': '/deep', 'ce-type': 'deep' }, deepArray(n));
        assert.equal(r.status, 202, `binary ${n}`);
      }
      await sink.waitFor(before + DEPTHS.length);
      assert.deepEqual(sink.requests.slice(before).map((q) => q.body.length).sort((a, b) => a - b), DEPTHS.map((n) => 2 * n));
      // Still serving.
      const r = await post({ 'content-type': 'application/cloudevents+json' }, structured('{"a":[1,2,3]}', 'after'));
      assert.equal(r.status, 202);
    });
  });

  test('an unexpected error in a target is answered 500 and logged', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'info' }, new Writable({ write(chunk: Buffer, _enc, cb) { lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>); cb(); } }));
    const targets = new IngressTargets();
    const broken: IngressTarget = { kind: 'channel', namespace: 'default', name: 'broken', notReadyReason: () => undefined, accept: () => Promise.reject(new TypeError('boom')) };
    targets.channels.set('default/broken', broken);
    const app = createIngressApp({ targets, logger, metrics: new Metrics(), maxBodyBytes: 1024, isDraining: () => false });
    try {
      const res = await app.inject({ method: 'POST', url: '/channels/default/broken', headers: { 'ce-specversion': '1.0', 'ce-id': '1', 'ce-source': '/s', 'ce-type': 't' }, payload: 'x' });
      assert.equal(res.statusCode, 500);
      assert.deepEqual(res.json(), { error: 'internal error', reason: 'SLUICE_ERR_INTERNAL' });
      const line = lines.find((l) => l.msg === 'ingress request failed');
      assert.ok(line, 'logged');
      assert.equal(line.level, 50);
      assert.match(JSON.stringify(line.err), /boom/);
    } finally {
      await app.close();
    }
  });
});
