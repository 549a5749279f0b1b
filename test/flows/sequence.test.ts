import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { waitUntil } from '../helpers/sluice.js';
import { appendStep, dataOf, Fixture, readyOf, send, statusOf } from './flow-helpers.js';

const sequenceYaml = (name: string, steps: string[], more = '') => `---
apiVersion: flows.knative.dev/v1
kind: Sequence
metadata: {name: ${name}}
spec:
  channelTemplate: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel}
  steps:
${steps.map((s) => `  - ${s}`).join('\n')}
${more}
`;

describe('Sequence', () => {
  const f = new Fixture();
  after(() => f.close());

  test("Knative's sample shape: 3 steps each transforming the event, the last reply to a sink; status Ready", async () => {
    const s1 = await f.sink(appendStep('first'));
    const s2 = await f.sink(appendStep('second'));
    const s3 = await f.sink(appendStep('third'));
    const final = await f.sink();
    const s = await f.sluice(sequenceYaml('sequence', [`uri: "${s1.url}"`, `uri: "${s2.url}"`, `uri: "${s3.url}"`], `  reply: {uri: "${final.url}"}`));
    const st = await statusOf(s, 'Sequence', 'sequence');
    assert.equal(readyOf(st)?.status, 'True', JSON.stringify(st));
    assert.equal(st?.address?.url, `${s.url}/flows/default/sequences/sequence`);
    const channels = st?.channelStatuses as Array<{ channel: { kind: string; name: string }; ready: { status: string } }>;
    const subs = st?.subscriptionStatuses as Array<{ subscription: { kind: string; name: string }; ready: { status: string } }>;
    assert.deepEqual(channels.map((c) => [c.channel.kind, c.channel.name, c.ready.status]), [0, 1, 2].map((i) => ['InMemoryChannel', `sequence.sequence.${i}`, 'True']));
    assert.deepEqual(subs.map((x) => [x.subscription.kind, x.subscription.name, x.ready.status]), [0, 1, 2].map((i) => ['Subscription', `sequence-kn-sequence-${i}`, 'True']));

    assert.equal(await send(st!.address!.url, 'e1', { steps: [] }), 202);
    await final.waitFor(1);
    assert.deepEqual(dataOf(final.requests[0]!).steps, ['first', 'second', 'third']);
    assert.equal(final.requests[0]!.headers['ce-id'], 'e1');
    assert.deepEqual(dataOf(s2.requests[0]!).steps, ['first']);
    assert.deepEqual(dataOf(s3.requests[0]!).steps, ['first', 'second']);
    for (const x of [s1, s2, s3]) assert.equal(x.requests.length, 1);
  });

  test('a ref to a Sequence works as a Trigger subscriber and as a Subscription subscriber', async () => {
    const s1 = await f.sink(appendStep('a'));
    const s2 = await f.sink(appendStep('b'));
    const viaTrigger = await f.sink();
    const viaSubscription = await f.sink();
    const seqRef = (name: string) => `{ref: {apiVersion: flows.knative.dev/v1, kind: Sequence, name: ${name}}}`;
    const s = await f.sluice(
      sequenceYaml('from-trigger', [`uri: "${s1.url}"`], `  reply: {uri: "${viaTrigger.url}"}`) +
        sequenceYaml('from-subscription', [`uri: "${s2.url}"`], `  reply: {uri: "${viaSubscription.url}"}`) +
        `---
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {name: default}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: to-sequence}
spec:
  broker: default
  filter: {attributes: {type: for.sequence}}
  subscriber: ${seqRef('from-trigger')}
---
apiVersion: messaging.knative.dev/v1
kind: InMemoryChannel
metadata: {name: orders}
---
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata: {name: orders-to-sequence}
spec:
  channel: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: orders}
  subscriber: ${seqRef('from-subscription')}
`,
    );
    assert.equal(readyOf(await statusOf(s, 'Trigger', 'to-sequence'))?.status, 'True');
    const sub = await statusOf(s, 'Subscription', 'orders-to-sequence');
    assert.equal(readyOf(sub)?.status, 'True', JSON.stringify(sub));
    assert.equal((sub?.physicalSubscription as { subscriberUri: string }).subscriberUri, `${s.url}/flows/default/sequences/from-subscription`);

    assert.equal(await send(`${s.url}/default/default`, 'b1', {}, 'for.sequence'), 202);
    assert.equal(await send(`${s.url}/default/default`, 'b2', {}, 'other'), 202);
    assert.equal(await send(`${s.url}/channels/default/orders`, 'c1', {}), 202);
    await viaTrigger.waitFor(1);
    await viaSubscription.waitFor(1);
    assert.deepEqual(dataOf(viaTrigger.requests[0]!).steps, ['a']);
    assert.equal(viaTrigger.requests[0]!.headers['ce-id'], 'b1');
    assert.deepEqual(dataOf(viaSubscription.requests[0]!).steps, ['b']);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(viaTrigger.requests.length, 1, 'the filtered-out event never reached the sequence');
    assert.equal(s1.requests.length, 1);
  });

  test('a failing step is retried per its delivery, then dead-lettered with the knativeerror extensions', async () => {
    const ok = await f.sink(appendStep('ok'));
    const failing = await f.sink((_req, res) => {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('step broke');
    });
    const dls = await f.sink();
    const final = await f.sink();
    const s = await f.sluice(
      sequenceYaml(
        'failing',
        [`uri: "${ok.url}"`, `uri: "${failing.url}"\n    delivery: {retry: 2, backoffPolicy: linear, backoffDelay: PT0.01S, deadLetterSink: {uri: "${dls.url}"}}`],
        `  reply: {uri: "${final.url}"}`,
      ),
    );
    assert.equal(readyOf(await statusOf(s, 'Sequence', 'failing'))?.status, 'True');
    assert.equal(await send(`${s.url}/flows/default/sequences/failing`, 'f1', { steps: [] }), 202);
    await dls.waitFor(1);
    assert.equal(failing.requests.length, 3, 'one attempt plus 2 retries');
    const dead = dls.requests[0]!;
    assert.equal(dead.headers['ce-id'], 'f1');
    assert.equal(dead.headers['ce-knativeerrorcode'], '500');
    assert.equal(dead.headers['ce-knativeerrordest'], failing.url);
    assert.equal(Buffer.from(String(dead.headers['ce-knativeerrordata']), 'base64').toString(), 'step broke');
    // What the failing step got (step 1's reply) is what is dead-lettered.
    assert.deepEqual(dataOf(dead).steps, ['ok']);
    assert.equal(final.requests.length, 0);
  });

  test('a step whose destination cannot be resolved leaves the Sequence not Ready, naming the step', async () => {
    const s = await f.sluice(sequenceYaml('broken', ['ref: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: missing}']));
    const st = await statusOf(s, 'Sequence', 'broken');
    assert.equal(readyOf(st)?.status, 'False');
    assert.equal(readyOf(st)?.reason, 'SubscriberResolveFailed');
    assert.match(readyOf(st)?.message ?? '', /spec\.steps\[0\].*missing not found/);
    assert.equal((await fetch(`${s.url}/flows/default/sequences/broken`, { method: 'POST' })).status, 404);
    // Once the channel exists, the Sequence wires itself.
    await s.runtime.apply(
      (await import('../../src/resources/index.js')).parseResourcesText('apiVersion: messaging.knative.dev/v1\nkind: InMemoryChannel\nmetadata: {name: missing}\n', 'x.yaml').resources,
    );
    await waitUntil(async () => readyOf(await statusOf(s, 'Sequence', 'broken'))?.status === 'True', 5000, 'Sequence Ready');
  });

  test('an update with fewer steps removes the extra channel, its address and subscription', async () => {
    const a = await f.sink(appendStep('a'));
    const b = await f.sink(appendStep('b'));
    const final = await f.sink();
    const yaml = (steps: string[]) => sequenceYaml('shrinks', steps, `  reply: {uri: "${final.url}"}`);
    const s = await f.sluice(yaml([`uri: "${a.url}"`, `uri: "${b.url}"`]));
    assert.equal(readyOf(await statusOf(s, 'Sequence', 'shrinks'))?.status, 'True');
    const { parseResourcesText } = await import('../../src/resources/index.js');
    const { createSluiceKinds } = await import('../../src/kinds.js');
    await s.runtime.apply(parseResourcesText(yaml([`uri: "${a.url}"`]), 'x.yaml', { registry: createSluiceKinds() }).resources);
    const st = await statusOf(s, 'Sequence', 'shrinks');
    assert.equal((st?.subscriptionStatuses as unknown[]).length, 1);
    assert.equal((await fetch(`${s.url}/flows/default/sequences/shrinks/steps/1`, { method: 'POST' })).status, 404);
    assert.equal(await send(`${s.url}/flows/default/sequences/shrinks`, 'u1', { steps: [] }), 202);
    await final.waitFor(1);
    assert.deepEqual(dataOf(final.requests[0]!).steps, ['a']);
    assert.equal(b.requests.length, 0);
  });
});
