import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startSink } from '../helpers/sink.js';
import { startSluice } from '../helpers/sluice.js';
import { appendStep, dataOf, send } from './flow-helpers.js';

test('hops between a Sequence\'s channels stay in process: a --public-url nobody listens on does not stop them', async () => {
  const s1 = await startSink(appendStep('first'));
  const s2 = await startSink(appendStep('second'));
  const final = await startSink();
  const yaml = `apiVersion: flows.knative.dev/v1
kind: Sequence
metadata: {name: tunnel}
spec:
  steps:
    - uri: "${s1.url}"
    - uri: "${s2.url}"
  reply: {uri: "${final.url}"}
`;
  // Port 9 (discard) has no listener here: a hop sent over HTTP to the public URL would fail.
  const sluice = await startSluice(yaml, { publicUrl: 'http://127.0.0.1:9' });
  try {
    assert.equal(await send(`${sluice.url}/flows/default/sequences/tunnel`, 'e1', { steps: [] }), 202);
    await final.waitFor(1, 10_000);
    assert.deepEqual(dataOf(final.requests[0]!).steps, ['first', 'second']);
  } finally {
    await sluice.close();
    await Promise.all([s1.close(), s2.close(), final.close()]);
  }
});
