import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startSink } from '../helpers/sink.js';
import { startSluice, waitUntil } from '../helpers/sluice.js';
import { brokerYaml, triggerYaml } from '../broker/broker-helpers.js';
import { INTERNAL_HOP_HEADER } from '../../src/server/ingress-auth.js';

// A Broker behind an ingress token must still take its own triggers' replies: Sluice's
// hops back into its ingress carry a per-process credential that outsiders never see.
test('a token-protected broker accepts its triggers replies; subscribers never see the internal credential', async () => {
  const replier = await startSink((req, res) => {
    res.writeHead(200, { 'ce-specversion': '1.0', 'ce-id': `reply-${req.headers['ce-id']}`, 'ce-source': '/replier', 'ce-type': 'answer', 'content-type': 'application/json' });
    res.end('{"ok":true}');
  });
  const answers = await startSink();
  const sluice = await startSluice(
    `apiVersion: v1
kind: Secret
metadata: {name: broker-token}
stringData: {token: s3cret}
` +
      brokerYaml('locked', 'metadata:\n  annotations: {sluice.dev/ingress-token-secret: broker-token}\n').replace('metadata: {name: locked}\nmetadata:\n  annotations:', 'metadata:\n  name: locked\n  annotations:') +
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
    // A forged internal-hop header is no credential.
    assert.equal((await post({ [INTERNAL_HOP_HEADER]: 'guess' })).status, 401);
    assert.equal((await post({ authorization: 'Bearer s3cret' })).status, 202);
    await answers.waitFor(1, 10_000);
    assert.equal(answers.requests[0]!.headers['ce-id'], 'reply-q1');
    await waitUntil(() => replier.requests.length >= 1);
    for (const r of [...replier.requests, ...answers.requests]) assert.equal(r.headers[INTERNAL_HOP_HEADER], undefined, 'never sent to subscribers');
  } finally {
    await sluice.close();
    await replier.close();
    await answers.close();
  }
});
