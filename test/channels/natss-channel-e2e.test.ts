import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, nanos, type NatsConnection } from '@nats-io/transport-node';
import { subjectFor } from '../../src/channels/nats/index.js';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.js';
import { startSink, type RecordingSink } from '../helpers/sink.js';
import { startSluice, waitUntil } from '../helpers/sluice.js';

// A NatsJetStreamChannel written in eventing-natss's schema, run by Sluice against a private
// nats-server: it delivers, its stream and consumer carry the natss values, the fields
// Sluice does not honour are named in its status, and an overrideName that points at a
// stream Sluice did not make is refused (and never deleted).

const HOUR_NS = nanos(3_600_000);

function natssYaml(sinkUrl: string): string {
  return `apiVersion: messaging.knative.dev/v1alpha1
kind: NatsJetStreamChannel
metadata:
  name: natss-orders
  labels:
spec:
  delivery:
    retry: 2
    backoffDelay: PT0.1S
  stream:
    overrideName: NATSS_ORDERS
    config:
      retention: Interest
      storage: File
      maxAge: 24h
      duplicateWindow: 10m
      maxMsgSize: 65536
      maxMsgs: 1000
  consumerConfigTemplate:
    deliverPolicy: New
    ackWait: 45s
    maxAckPending: 8
    maxDeliver: 5
---
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata: {name: natss-orders-sub}
spec:
  channel: {apiVersion: messaging.knative.dev/v1alpha1, kind: NatsJetStreamChannel, name: natss-orders}
  subscriber: {uri: "${sinkUrl}orders"}
`;
}

interface Status {
  conditions?: Array<{ type: string; status: string; reason?: string; message?: string }>;
  ignoredFields?: string[];
}

describe('NatsJetStreamChannel in eventing-natss schema, end to end', () => {
  let nats: NatsServer;
  let sink: RecordingSink;
  let sluice: Awaited<ReturnType<typeof startSluice>>;
  let nc: NatsConnection;
  let jsm: JetStreamManager;

  before(async () => {
    nats = await startNatsServer();
    sink = await startSink();
    sluice = await startSluice(natssYaml(sink.url), { nats: { servers: nats.url }, drainTimeoutMs: 500 });
    nc = await connect({ servers: nats.url });
    jsm = await jetstreamManager(nc);
  });
  after(async () => {
    await sluice?.close();
    await nc?.close();
    await sink?.close();
    await nats?.dispose();
  });

  const status = async (kind: string, name: string): Promise<Status | undefined> => {
    const res = await fetch(`${sluice.adminUrl}/api/v1/resources/${kind}/default/${name}`);
    return res.status === 200 ? ((await res.json()) as { status?: Status }).status : undefined;
  };
  const readyOf = (st: Status | undefined) => st?.conditions?.find((c) => c.type === 'Ready');

  test('the channel becomes Ready and delivers an event to its subscriber', async () => {
    await waitUntil(async () => readyOf(await status('NatsJetStreamChannel', 'natss-orders'))?.status === 'True', 15_000, 'channel Ready');
    await waitUntil(async () => readyOf(await status('Subscription', 'natss-orders-sub'))?.status === 'True', 15_000, 'subscription Ready');
    const res = await fetch(`${sluice.url}/channels/default/natss-orders`, {
      method: 'POST',
      headers: { 'ce-specversion': '1.0', 'ce-id': 'natss-1', 'ce-source': '/test', 'ce-type': 'order.created', 'content-type': 'application/json' },
      body: '{"order":1}',
    });
    assert.equal(res.status, 202, await res.text());
    await sink.waitFor(1, 15_000);
    assert.equal(sink.requests[0]!.url, '/orders');
    assert.equal(sink.requests[0]!.headers['ce-id'], 'natss-1');
    assert.equal(sink.requests[0]!.body.toString(), '{"order":1}');
  });

  test("the JetStream stream is named by overrideName and carries natss's maxAge, storage and limits", async () => {
    const info = await jsm.streams.info('NATSS_ORDERS');
    assert.equal(info.config.max_age, 24 * HOUR_NS);
    assert.equal(info.config.storage, 'file');
    assert.equal(info.config.duplicate_window, nanos(600_000));
    assert.equal(info.config.max_msg_size, 65_536);
    assert.equal(info.config.max_msgs, 1000);
    assert.deepEqual(info.config.subjects, [subjectFor('default', 'natss-orders')]);
    // Interest is explained in the status, not applied: Sluice trims acknowledged events itself.
    assert.equal(info.config.retention, 'limits');
    assert.equal(info.config.discard, 'new');
  });

  test("the subscription's consumer carries ackWait, maxAckPending and deliverPolicy; JetStream never gives up on an event", async () => {
    const consumers = [];
    for await (const c of jsm.consumers.list('NATSS_ORDERS')) consumers.push(c);
    assert.equal(consumers.length, 1);
    const c = consumers[0]!.config;
    assert.equal(c.ack_wait, nanos(45_000));
    assert.equal(c.max_ack_pending, 8);
    assert.equal(c.deliver_policy, 'new');
    assert.equal(c.max_deliver, -1);
  });

  test('the status names the fields Sluice accepted without honouring, with why', async () => {
    const st = await status('NatsJetStreamChannel', 'natss-orders');
    assert.deepEqual(st?.ignoredFields, ['spec.stream.config.retention', 'spec.consumerConfigTemplate.maxDeliver']);
    const message = readyOf(st)?.message ?? '';
    assert.match(message, /ignored: spec\.stream\.config\.retention \(Sluice keeps the stream on limits retention/);
    assert.match(message, /spec\.consumerConfigTemplate\.maxDeliver \(the subscription's delivery/);
  });

  test("an overrideName naming a stream Sluice did not make is refused, and deleting the channel leaves that stream", async () => {
    await jsm.streams.add({ name: 'FOREIGN', subjects: ['foreign.>'] });
    const admin = (method: string, path: string, body?: string) =>
      fetch(`${sluice.adminUrl}${path}`, { method, ...(body ? { headers: { 'content-type': 'application/yaml' }, body } : {}) });
    const applied = await admin(
      'POST',
      '/api/v1/resources',
      'apiVersion: messaging.knative.dev/v1alpha1\nkind: NatsJetStreamChannel\nmetadata: {name: squatter}\nspec:\n  stream: {overrideName: FOREIGN}\n',
    );
    assert.equal(applied.status, 200, await applied.text());
    await waitUntil(async () => /does not hold this channel's subject/.test(readyOf(await status('NatsJetStreamChannel', 'squatter'))?.message ?? ''), 15_000, 'refused');
    assert.equal(readyOf(await status('NatsJetStreamChannel', 'squatter'))?.status, 'False');
    assert.equal((await admin('DELETE', '/api/v1/resources/NatsJetStreamChannel/default/squatter')).status, 200);
    await waitUntil(async () => (await status('NatsJetStreamChannel', 'squatter')) === undefined, 15_000, 'deleted');
    // The channel's destroy runs once it has drained: give it that long, then check.
    await new Promise((r) => setTimeout(r, 1500));
    const info = await jsm.streams.info('FOREIGN');
    assert.deepEqual(info.config.subjects, ['foreign.>']);
  });
});
