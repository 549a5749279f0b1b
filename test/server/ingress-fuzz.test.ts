import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { connect } from 'node:net';
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { Agent, request, type Dispatcher } from 'undici';
import { channelYaml, startSluice, subscriptionYaml, waitUntil } from '../helpers/sluice.js';
import { startSink, type RecordingSink } from '../helpers/sink.js';
import { secretYaml, toChannel } from '../sources/e2e-helpers.js';

// Property: whatever arrives at the public ingress (any method, path, headers and body),
// the answer is 2xx or 4xx, never 5xx, and the process keeps serving. Fixed seed and a
// bounded run count, so a failure reproduces and the test stays fast.

// FUZZ_SEED / FUZZ_RUNS override them to explore further (a failure prints its seed and path).
const SEED = Number(process.env.FUZZ_SEED ?? 20_240_501);
const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const MAX_BODY = 64 * 1024;
const SECRET = 'fuzz-secret';

const EXAMPLES = createRequire(import.meta.url)('@octokit/webhooks-examples') as Array<{ name: string; examples: unknown[] }>;

const YAML =
  secretYaml('gh-secret', { secretToken: SECRET }) +
  '---\n' +
  channelYaml('c') +
  '%SUB%' +
  '---\napiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata: {name: b}\n' +
  `---
apiVersion: sources.knative.dev/v1alpha1
kind: GitHubSource
metadata: {name: gh}
spec:
  ownerAndRepository: octo-org/hello-world
  eventTypes: ["*"]
  secretToken: {secretKeyRef: {name: gh-secret, key: secretToken}}
  sink: ${toChannel('c')}
`;

interface FuzzRequest {
  method: Dispatcher.HttpMethod;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** Sign the body for the GitHub source (with the right secret or not). */
  sign?: 'right' | 'wrong';
}

// Header values undici will send: tab, printable ASCII and latin-1.
const headerChar = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)) },
  { weight: 1, arbitrary: fc.integer({ min: 0x80, max: 0xff }).map((c) => String.fromCharCode(c)) },
  { weight: 1, arbitrary: fc.constantFrom('\t', '%', '%2', '%25', '%C3%28', '%00', '%FF', '%E2%82%AC', '%0A', '%7F') },
);
const headerValue = fc.string({ unit: headerChar, maxLength: 40 }).map((s) => s.trim());
const token = fc.stringMatching(/^[A-Za-z0-9_!#$&'*+.^`|~-]{1,14}$/);

const validAttr = {
  'ce-specversion': fc.constantFrom('1.0', '0.3', '1', '', '1.0 '),
  'ce-id': fc.oneof(fc.uuid(), headerValue),
  'ce-source': fc.oneof(fc.constantFrom('/fuzz', 'https://example.com/x', 'urn:x'), headerValue),
  'ce-type': fc.oneof(fc.constantFrom('dev.fuzz', 'com.example.t'), headerValue),
  'ce-time': fc.oneof(fc.constantFrom('2024-05-01T12:00:00Z', '2024-02-30T00:00:00Z', 'yesterday', '2024-05-01T24:00:00+25:00'), headerValue),
  'ce-subject': headerValue,
  'ce-dataschema': headerValue,
  'ce-datacontenttype': headerValue,
  traceparent: fc.oneof(fc.constant('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'), headerValue),
  tracestate: headerValue,
};

const ceHeaders = fc
  .record(
    Object.fromEntries(Object.entries(validAttr).map(([k, v]) => [k, fc.option(v, { freq: 3, nil: undefined })])) as Record<string, fc.Arbitrary<string | undefined>>,
  )
  .chain((base) =>
    fc.dictionary(token.map((t) => 'ce-' + t), headerValue, { maxKeys: 4 }).map((ext) => {
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries({ ...base, ...ext })) if (v !== undefined) out[k] = v;
      return out;
    }),
  );

const contentType = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(
    'application/cloudevents+json',
    'application/cloudevents+json; charset=utf-8',
    'Application/CloudEvents+JSON;charset="UTF-8"',
    'application/cloudevents+json; charset=latin1',
    'application/cloudevents-batch+json',
    'application/cloudevents-batch+json; charset=UTF-8',
    'application/cloudevents+xml',
    'application/cloudevents',
    'application/cloudevents-batch+protobuf',
    'application/json',
    'application/json; charset=iso-8859-1',
    'text/plain',
    'application/octet-stream',
    'application/x-www-form-urlencoded',
    '',
    ';',
    'garbage',
  ) },
  { weight: 1, arbitrary: headerValue },
);

const gitHubHeaders = fc.record(
  {
    'x-github-event': fc.oneof(fc.constantFrom('push', 'issues', 'ping', 'Push Event', ''), token),
    'x-github-delivery': fc.oneof(fc.uuid(), headerValue),
    'x-hub-signature-256': fc.oneof(fc.constant('sha256=' + '0'.repeat(64)), headerValue),
    'x-hub-signature': headerValue,
  },
  { requiredKeys: [] },
);

const percentSegment = fc.oneof(
  fc.constantFrom('channels', 'default', 'c', 'b', 'sources', 'gh', 'display', 'services', 'x', '%63hannels', '%2F', '%', '%zz', '..', '.', '%00', '%C3%28', 'default%2Fc'),
  fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 12 }).map((s) => s.replace(/[?#/]/g, '')),
  fc.string({ maxLength: 8 }).map(encodeURIComponent),
);
const path = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('/channels/default/c', '/default/b', '/sources/default/gh') },
  { weight: 1, arbitrary: fc.constantFrom('/channels/default/missing', '/sources/default/missing', '/default/missing', '/display/default/x', '/services/default/x/y', '/', '/channels/default/c/', '//channels//default//c', '/channels/default/c?x=1&y') },
  { weight: 3, arbitrary: fc.array(percentSegment, { maxLength: 5 }).map((parts) => '/' + parts.join('/')) },
);

const jsonValue = fc.jsonValue({ maxDepth: 4 });
/** A structured event with valid attributes, then broken in a few random ways. */
const nearValidEvent = fc
  .record({
    base: fc.record({ specversion: fc.constant('1.0' as unknown), id: fc.uuid() as fc.Arbitrary<unknown>, source: fc.constant('/fuzz' as unknown), type: fc.constant('dev.fuzz' as unknown) }),
    optional: fc.dictionary(fc.constantFrom('datacontenttype', 'dataschema', 'subject', 'time', 'data', 'data_base64', 'traceparent', 'knativebrokerttl'), fc.oneof(jsonValue, fc.string(), fc.base64String())),
    remove: fc.subarray(['specversion', 'id', 'source', 'type']),
    replace: fc.dictionary(fc.constantFrom('specversion', 'id', 'source', 'type', 'time'), jsonValue, { maxKeys: 2 }),
    extra: fc.dictionary(fc.string({ maxLength: 10 }), jsonValue, { maxKeys: 3 }),
  })
  .map(({ base, optional, remove, replace, extra }) => {
    const ev: Record<string, unknown> = { ...base, ...optional, ...extra };
    for (const k of remove) delete ev[k];
    return { ...ev, ...replace };
  });
const validEvent = fc.uuid().map((id) => ({ specversion: '1.0', id, source: '/fuzz', type: 'dev.fuzz', data: { ok: true } }));

const deepNesting = fc.record({ depth: fc.integer({ min: 1, max: 20_000 }), open: fc.constantFrom('[', '{"a":'), inData: fc.boolean(), closed: fc.boolean() }).map(({ depth, open, inData, closed }) => {
  const close = open === '[' ? ']' : '}';
  const value = open.repeat(depth) + (open === '[' ? '' : '1') + (closed ? close.repeat(depth) : '');
  return inData ? `{"specversion":"1.0","id":"deep","source":"/fuzz","type":"dev.fuzz","data":${value}}` : value;
});

const hugeString = fc.integer({ min: -64, max: 64 }).map((delta) => {
  const head = '{"specversion":"1.0","id":"huge","source":"/fuzz","type":"dev.fuzz","data":"';
  return head + 'x'.repeat(Math.max(0, MAX_BODY + delta - head.length - 2)) + '"}';
});

const body: fc.Arbitrary<Buffer | undefined> = fc.oneof(
  { weight: 1, arbitrary: fc.constant(undefined) },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 2048 }).map((b) => Buffer.from(b)) },
  { weight: 2, arbitrary: fc.json({ maxDepth: 5 }).map((s) => Buffer.from(s)) },
  { weight: 4, arbitrary: fc.oneof(validEvent, nearValidEvent).map((e) => Buffer.from(JSON.stringify(e))) },
  { weight: 3, arbitrary: fc.array(fc.oneof(validEvent, nearValidEvent, jsonValue), { maxLength: 5 }).map((a) => Buffer.from(JSON.stringify(a))) },
  { weight: 1, arbitrary: deepNesting.map((s) => Buffer.from(s)) },
  { weight: 1, arbitrary: hugeString.map((s) => Buffer.from(s)) },
  { weight: 1, arbitrary: fc.constantFrom(...EXAMPLES.flatMap((g) => g.examples.slice(0, 1))).map((p) => Buffer.from(JSON.stringify(p))) },
  // Valid JSON with a byte that is not UTF-8 inside a string.
  { weight: 1, arbitrary: validEvent.map((e) => Buffer.concat([Buffer.from(JSON.stringify(e).slice(0, -2)), Buffer.from([0xff, 0xfe]), Buffer.from('"}')])) },
);

const method = fc.oneof({ weight: 8, arbitrary: fc.constant('POST' as const) }, { weight: 2, arbitrary: fc.constantFrom('GET', 'HEAD', 'PUT', 'DELETE', 'PATCH', 'OPTIONS') as fc.Arbitrary<Dispatcher.HttpMethod> });
const eventPath = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('/channels/default/c', '/default/b', '/channels/default/c?x=1') },
  { weight: 2, arbitrary: path },
);
const misc = fc.dictionary(token.filter((t) => !/^(content-length|transfer-encoding|host|connection|expect|upgrade|keep-alive|te|trailer)$/i.test(t)), headerValue, { maxKeys: 2 });
const hostHeader = fc.option(fc.constantFrom('c-kn-channel.default.svc.cluster.local', 'missing-kn-channel.default.svc', 'C-KN-CHANNEL.DEFAULT.SVC.CLUSTER.LOCAL:80', 'x-kn-channel..svc'), { freq: 10, nil: undefined });
const validCe = fc.uuid().map((id) => ({ 'ce-specversion': '1.0', 'ce-id': id, 'ce-source': '/fuzz', 'ce-type': 'dev.fuzz' }) as Record<string, string>);
/** Valid ce- headers, sometimes with a few replaced, removed or added. */
const binaryCe = fc.oneof(
  { weight: 3, arbitrary: validCe },
  {
    weight: 3,
    arbitrary: fc.tuple(validCe, ceHeaders, fc.subarray(['ce-specversion', 'ce-id', 'ce-source', 'ce-type'], { maxLength: 1 })).map(([valid, more, remove]) => {
      const h: Record<string, string> = { ...valid, ...more };
      for (const k of remove) delete h[k];
      return h;
    }),
  },
  { weight: 1, arbitrary: ceHeaders },
);

type Parts = { method: Dispatcher.HttpMethod; path: string; headers: Record<string, string>; body?: Buffer | undefined; sign?: 'right' | 'wrong' | undefined };
const finish = ({ method, path, headers, body, sign }: Parts, host: string | undefined, extra: Record<string, string>): FuzzRequest => {
  const h: Record<string, string> = { ...extra, ...headers };
  if (host !== undefined) h.host = host;
  const noBody = method === 'GET' || method === 'HEAD';
  return { method, path, headers: h, ...(body && !noBody ? { body } : {}), ...(sign ? { sign } : {}) };
};

const binaryMode = fc.record({ method, path: eventPath, ce: binaryCe, ct: fc.option(contentType, { freq: 4, nil: undefined }), body }).map(
  ({ method, path, ce, ct, body }): Parts => ({ method, path, headers: ct === undefined ? ce : { ...ce, 'content-type': ct }, body }),
);
const structuredCt = fc.constantFrom('application/cloudevents+json', 'application/cloudevents+json; charset=utf-8', 'Application/CloudEvents+JSON;charset="UTF-8"', 'application/cloudevents+json; charset=latin1');
const batchCt = fc.constantFrom('application/cloudevents-batch+json', 'application/cloudevents-batch+json; charset=UTF-8', 'application/cloudevents-batch+json;charset=utf-16');
const structuredMode = fc
  .record({
    method,
    path: eventPath,
    ct: structuredCt,
    ce: fc.option(ceHeaders, { freq: 4, nil: undefined }),
    body: fc.oneof(
      { weight: 6, arbitrary: fc.oneof(validEvent, nearValidEvent).map((e) => Buffer.from(JSON.stringify(e))) },
      { weight: 1, arbitrary: deepNesting.map((s) => Buffer.from(s)) },
      { weight: 1, arbitrary: hugeString.map((s) => Buffer.from(s)) },
      { weight: 2, arbitrary: body },
    ),
  })
  .map(({ method, path, ct, ce, body }): Parts => ({ method, path, headers: { ...ce, 'content-type': ct }, body }));
const batchMode = fc
  .record({
    method,
    path: eventPath,
    ct: batchCt,
    body: fc.oneof(
      { weight: 6, arbitrary: fc.array(fc.oneof({ weight: 3, arbitrary: validEvent }, { weight: 2, arbitrary: nearValidEvent }, { weight: 1, arbitrary: jsonValue }), { maxLength: 6 }).map((a) => Buffer.from(JSON.stringify(a))) },
      { weight: 1, arbitrary: deepNesting.map((s) => Buffer.from(`[${s}]`)) },
      { weight: 2, arbitrary: body },
    ),
  })
  .map(({ method, path, ct, body }): Parts => ({ method, path, headers: { 'content-type': ct }, body }));
const gitHubMode = fc
  .record({
    method,
    path: fc.oneof({ weight: 5, arbitrary: fc.constant('/sources/default/gh') }, { weight: 1, arbitrary: path }),
    gh: gitHubHeaders,
    ct: fc.option(fc.oneof(fc.constantFrom('application/json', 'application/x-www-form-urlencoded'), contentType), { freq: 4, nil: undefined }),
    body: fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom(...EXAMPLES.flatMap((g) => g.examples.slice(0, 2))).map((p) => Buffer.from(JSON.stringify(p))) },
      { weight: 2, arbitrary: body },
    ),
    sign: fc.option(fc.constantFrom('right' as const, 'wrong' as const), { freq: 4, nil: undefined }),
  })
  .map(({ method, path, gh, ct, body, sign }): Parts => ({ method, path, headers: ct === undefined ? gh : { ...gh, 'content-type': ct }, body, sign }));
/** Anything goes: every part chosen independently. */
const chaosMode = fc
  .record({ method, path, ce: fc.option(ceHeaders, { nil: undefined }), gh: fc.option(gitHubHeaders, { freq: 3, nil: undefined }), ct: fc.option(contentType, { freq: 4, nil: undefined }), body })
  .map(({ method, path, ce, gh, ct, body }): Parts => ({ method, path, headers: { ...ce, ...gh, ...(ct === undefined ? {} : { 'content-type': ct }) }, body }));

const fuzzRequest: fc.Arbitrary<FuzzRequest> = fc
  .tuple(
    fc.oneof({ weight: 3, arbitrary: binaryMode }, { weight: 3, arbitrary: structuredMode }, { weight: 2, arbitrary: batchMode }, { weight: 2, arbitrary: gitHubMode }, { weight: 2, arbitrary: chaosMode }),
    hostHeader,
    misc,
  )
  .map(([parts, host, extra]) => finish(parts, host, extra));

describe('ingress fuzzing', () => {
  let sink: RecordingSink;
  let sluice: Awaited<ReturnType<typeof startSluice>>;
  let agent: Agent;

  before(async () => {
    sink = await startSink();
    sluice = await startSluice(YAML.replace('%SUB%', subscriptionYaml('s', 'c', sink.url)), { maxBodyBytes: MAX_BODY });
    agent = new Agent({ connections: 4 });
  });
  after(async () => {
    await agent.close();
    await sluice.close();
    await sink.close();
  });

  test(`${RUNS} arbitrary requests (seed ${SEED}): every answer is 2xx or 4xx, and a valid event still goes through`, async (t) => {
    const statuses = new Map<number, number>();
    let oversizeResets = 0;
    await fc.assert(
      fc.asyncProperty(fuzzRequest, async (r) => {
        const headers = { ...r.headers };
        if (r.sign) {
          headers['x-hub-signature-256'] = 'sha256=' + createHmac('sha256', r.sign === 'right' ? SECRET : 'wrong').update(r.body ?? Buffer.alloc(0)).digest('hex');
        }
        let status: number;
        try {
          const res = await request(`${sluice.url}${r.path}`, { method: r.method, headers, body: r.body ?? null, dispatcher: agent });
          status = res.statusCode;
          const text = await res.body.text();
          if (status >= 400 && r.method !== 'HEAD' && text) {
            const j = JSON.parse(text) as { error?: unknown; reason?: unknown };
            assert.equal(typeof j.error, 'string', text);
            assert.equal(typeof j.reason, 'string', text);
          }
        } catch (err) {
          // A body over the limit may be cut off while it is still being sent (the 413 races the upload).
          if ((r.body?.length ?? 0) > MAX_BODY) {
            oversizeResets++;
            return;
          }
          throw err;
        }
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        assert.ok(status >= 200 && status < 500, `${r.method} ${r.path} answered ${status}`);
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: false },
    );
    t.diagnostic(`statuses: ${JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))}, oversize bodies cut off: ${oversizeResets}`);
    const counted = [...statuses.values()].reduce((a, b) => a + b, 0);
    assert.equal(counted + oversizeResets, RUNS);
    // The generators reach both sides: accepted events and every kind of refusal.
    assert.ok((statuses.get(202) ?? 0) > 10, JSON.stringify([...statuses]));
    assert.ok((statuses.get(400) ?? 0) > 10, JSON.stringify([...statuses]));

    // Still up: a valid event is accepted and delivered.
    const res = await request(`${sluice.url}/channels/default/c`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'ce-specversion': '1.0', 'ce-id': 'final-event', 'ce-source': '/fuzz', 'ce-type': 'dev.fuzz' },
      body: '{"final":true}',
    });
    await res.body.dump();
    assert.equal(res.statusCode, 202);
    await waitUntil(() => sink.requests.some((q) => q.headers['ce-id'] === 'final-event'), 5000, 'the final event at the sink');
  });

  // Found by the fuzzer: answers that fastify or node gave in their own shape, not Sluice's.
  test('errors raised before any route runs still answer {error, reason}', async () => {
    const send = async (path: string, headers: Record<string, string>) => {
      const res = await request(`${sluice.url}${path}`, { method: 'POST', headers, body: '{}', dispatcher: agent });
      return { status: res.statusCode, json: (await res.body.json()) as { error: string; reason: string } };
    };
    const ce = { 'ce-specversion': '1.0', 'ce-id': 'x', 'ce-source': '/fuzz', 'ce-type': 'dev.fuzz' };
    // A path that does not percent-decode.
    let r = await send('/%', ce);
    assert.equal(r.status, 400);
    assert.equal(r.json.reason, 'FST_ERR_BAD_URL');
    assert.match(r.json.error, /not a valid url/);
    // A Content-Type that is not a media type.
    for (const ct of ['garbage', ';', 'a b/c']) {
      r = await send('/channels/default/c', { ...ce, 'content-type': ct });
      assert.equal(r.status, 415, ct);
      assert.equal(r.json.reason, 'SLUICE_ERR_UNSUPPORTED_MEDIA_TYPE');
      assert.match(r.json.error, /is not a media type/);
    }
    // Bytes that are not HTTP, and headers over node's limit, straight from a socket.
    const raw = (bytes: string) =>
      new Promise<string>((resolve) => {
        let got = '';
        const socket = connect(Number(new URL(sluice.url).port), '127.0.0.1', () => socket.write(bytes));
        socket.setEncoding('latin1');
        socket.on('data', (d: string) => { got += d; });
        socket.on('error', () => {});
        socket.on('close', () => resolve(got));
      });
    let answer = await raw('NOT HTTP AT ALL\r\n\r\n');
    assert.match(answer, /^HTTP\/1\.1 400 [\s\S]*"reason":"SLUICE_ERR_BAD_REQUEST"\}$/);
    answer = await raw(`POST /channels/default/c HTTP/1.1\r\nHost: x\r\nce-big: ${'x'.repeat(20_000)}\r\n\r\n`);
    assert.match(answer, /^HTTP\/1\.1 431 [\s\S]*"reason":"SLUICE_ERR_HEADERS_TOO_LARGE"\}$/);
  });
});
