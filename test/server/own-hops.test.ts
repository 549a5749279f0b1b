import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startSink, type ReceivedRequest } from '../helpers/sink.js';
import { channelYaml, startSluice, subscriptionYaml, waitUntil } from '../helpers/sluice.js';
import { brokerYaml, triggerYaml } from '../broker/broker-helpers.js';
import { relayServiceYaml, serviceSubscriptionYaml, type Relayed } from '../activator/e2e-helpers.js';

const TOKEN_SECRET = `apiVersion: v1
kind: Secret
metadata: {name: ingress-token}
stringData: {token: s3cret}
`;
const PROTECTED = 'annotations: {sluice.dev/ingress-token-secret: ingress-token}';

/** Every header a destination saw whose name says it is Sluice's own (there must be none). */
function sluiceHeaders(headers: ReceivedRequest['headers']): string[] {
  return Object.keys(headers).filter((h) => h.startsWith('x-sluice'));
}

/** Replays what a destination received (its headers and body) into `url`, as a subscriber that kept them could. */
async function replay(url: string, seen: { headers: ReceivedRequest['headers']; body: string | Buffer }): Promise<number> {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(seen.headers)) {
    if (typeof v === 'string' && !['host', 'content-length', 'connection', 'transfer-encoding'].includes(k)) headers[k] = v;
  }
  const res = await fetch(url, { method: 'POST', headers, body: seen.body });
  await res.arrayBuffer();
  return res.status;
}

// Sluice's hops into its own channels and brokers are in-process calls: there is no
// credential to leak, and ingress tokens still let Sluice's own work through.
test('a token-protected broker takes its triggers replies in process; subscribers see no Sluice credential and replaying what they saw gets 401', async () => {
  const replier = await startSink((req, res) => {
    res.writeHead(200, { 'ce-specversion': '1.0', 'ce-id': `reply-${req.headers['ce-id']}`, 'ce-source': '/replier', 'ce-type': 'answer', 'content-type': 'application/json' });
    res.end('{"ok":true}');
  });
  const answers = await startSink();
  const sluice = await startSluice(
    TOKEN_SECRET +
      brokerYaml('locked').replace('metadata: {name: locked}', `metadata:\n  name: locked\n  ${PROTECTED}`) +
      triggerYaml('questions', 'locked', replier.url, '  filter: {attributes: {type: question}}') +
      triggerYaml('answers', 'locked', answers.url, '  filter: {attributes: {type: answer}}'),
  );
  try {
    const post = (headers: Record<string, string>) =>
      fetch(`${sluice.url}/default/locked`, {
        method: 'POST',
        headers: { 'ce-specversion': '1.0', 'ce-id': 'q1', 'ce-source': '/test', 'ce-type': 'question', 'content-type': 'application/json', ...headers },
        body: '{}',
      });
    assert.equal((await post({})).status, 401, 'the broker is protected');
    // The header earlier versions used for their own hops is no credential at all now.
    assert.equal((await post({ 'x-sluice-internal-hop': 'guess' })).status, 401);
    assert.equal((await post({ authorization: 'Bearer s3cret' })).status, 202);
    await answers.waitFor(1, 10_000);
    assert.equal(answers.requests[0]!.headers['ce-id'], 'reply-q1', 'the reply re-entered the protected broker');
    await waitUntil(() => replier.requests.length >= 1);
    for (const r of [...replier.requests, ...answers.requests]) {
      assert.deepEqual(sluiceHeaders(r.headers), [], 'no Sluice credential reaches a subscriber');
      assert.equal(await replay(`${sluice.url}/default/locked`, r), 401, 'what a subscriber saw does not open the broker');
    }
  } finally {
    await sluice.close();
    await replier.close();
    await answers.close();
  }
});

test('a chained protected channel, a reply into it and a dead-letter sink: in process, nothing leaks to uri subscribers or Services', async () => {
  const relayed = await startSink();
  const echo = await startSink((req, res) => {
    // Answers each event with a reply (to the protected channel `replies`).
    res.writeHead(200, { 'ce-specversion': '1.0', 'ce-id': `r-${req.headers['ce-id']}`, 'ce-source': '/echo', 'ce-type': 'echoed', 'content-type': 'text/plain' });
    res.end('echo');
  });
  const dead = await startSink();
  const failing = await startSink((_req, res) => {
    res.statusCode = 500;
    res.end('no');
  });
  const sluice = await startSluice(
    TOKEN_SECRET +
      '---\n' +
      channelYaml('front') +
      '---\n' +
      channelYaml('inner').replace('metadata: {name: inner}', `metadata:\n  name: inner\n  ${PROTECTED}`) +
      '---\n' +
      channelYaml('replies').replace('metadata: {name: replies}', `metadata:\n  name: replies\n  ${PROTECTED}`) +
      // front -> inner (a protected channel, by ref) and -> echo, whose replies go to `replies`.
      `---
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata: {name: chain}
spec:
  channel: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: front}
  subscriber: {ref: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: inner}}
` +
      subscriptionYaml('to-echo', 'front', echo.url, `  reply: {ref: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: replies}}\n`) +
      serviceSubscriptionYaml('inner-to-service', 'inner', 'relay') +
      // A reply to a Service goes through the activator's proxy (an HTTP hop on Sluice's own port).
      subscriptionYaml('to-echo-reply-service', 'front', echo.url, `  reply: {ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: relay}}\n`) +
      relayServiceYaml('relay', { env: { RELAY_TO: relayed.url } }) +
      subscriptionYaml('replies-to-failing', 'replies', failing.url, `  delivery:\n    retry: 0\n    deadLetterSink: {uri: "${dead.url}"}\n`),
  );
  try {
    const res = await fetch(`${sluice.url}/channels/default/front`, {
      method: 'POST',
      headers: { 'ce-specversion': '1.0', 'ce-id': 'e1', 'ce-source': '/test', 'ce-type': 'start', 'content-type': 'application/json' },
      body: '{"n":1}',
    });
    assert.equal(res.status, 202);
    // The Service (behind the activator) got the event through the protected channel.
    await relayed.waitFor(2, 20_000);
    const atService = relayed.requests.map((r) => JSON.parse(r.body.toString()) as Relayed);
    assert.deepEqual(atService.map((r) => r.headers['ce-id']).sort(), ['e1', 'r-e1'], 'the event through the protected channel, and the reply through the proxy');
    for (const r of atService) assert.deepEqual(sluiceHeaders(r.headers), [], 'a Service replica sees no Sluice credential');
    // The reply went into the protected `replies` channel, then failed on to the dead-letter sink.
    await dead.waitFor(1, 10_000);
    assert.equal(dead.requests[0]!.headers['ce-id'], 'r-e1');
    for (const r of [...echo.requests, ...failing.requests, ...dead.requests]) assert.deepEqual(sluiceHeaders(r.headers), []);
    for (const seen of [...atService, echo.requests[0]!, dead.requests[0]!]) {
      assert.equal(await replay(`${sluice.url}/channels/default/inner`, seen), 401);
      assert.equal(await replay(`${sluice.url}/channels/default/replies`, seen), 401);
    }
  } finally {
    await sluice.close();
    for (const s of [relayed, echo, dead, failing]) await s.close();
  }
});
