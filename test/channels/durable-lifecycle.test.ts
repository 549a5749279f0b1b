// Resources changed at runtime on a broker with durable channels: a new Subscription
// creates its consumer (NATS) or queue (Redis), a deleted one removes it, and deleting
// the channel removes the stream or the queues and the subscription set.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { Redis } from 'ioredis';
import { CloudEvent, emitterFor, httpTransport } from 'cloudevents';
import { durableNameFor, streamNameFor } from '../../src/channels/nats/index.js';
import { queueNameFor, subscriptionsKeyFor } from '../../src/channels/bullmq/index.js';
import { parseResourcesText } from '../../src/resources/index.js';
import { createSluiceKinds } from '../../src/kinds.js';
import { startNatsServer, type NatsServer } from '../helpers/nats-server.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { startSink, type RecordingSink } from '../helpers/sink.js';
import { startSluice, waitUntil } from '../helpers/sluice.js';

let nats: NatsServer;
let redis: RedisServer;
let sink: RecordingSink;
let nc: NatsConnection;
let jsm: JetStreamManager;
let redisClient: Redis;

before(async () => {
  [nats, redis, sink] = await Promise.all([startNatsServer(), startRedisServer({ appendfsync: 'everysec' }), startSink()]);
  nc = await connect({ servers: nats.url });
  jsm = await jetstreamManager(nc);
  redisClient = new Redis(redis.port, '127.0.0.1');
});
after(async () => {
  await nc.close();
  redisClient.disconnect();
  await sink.close();
  await Promise.all([nats.dispose(), redis.dispose()]);
});

const exists = (p: Promise<unknown>) => p.then(() => true, () => false);

function subscriptionYaml(name: string, channelKind: string, apiVersion: string, channel: string): string {
  return `apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata: {name: ${name}}
spec:
  channel: {apiVersion: ${apiVersion}, kind: ${channelKind}, name: ${channel}}
  subscriber: {uri: "${sink.url}"}
`;
}

/** Applies YAML to a running broker, as the admin API and the file watcher do. */
async function apply(server: Awaited<ReturnType<typeof startSluice>>, yaml: string): Promise<void> {
  const loaded = parseResourcesText(yaml, 'change.yaml', { registry: createSluiceKinds() });
  assert.deepEqual(loaded.errors, []);
  await server.runtime.apply(loaded.resources);
}

describe('durable channels changed at runtime', () => {
  test('NatsJetStreamChannel: a subscription added creates its durable consumer, removed deletes it; the channel deleted removes its stream', async () => {
    const api = 'messaging.knative.dev/v1alpha1';
    const server = await startSluice(`apiVersion: ${api}\nkind: NatsJetStreamChannel\nmetadata: {name: life}\n`, { nats: { servers: nats.url } });
    const stream = streamNameFor('default', 'life');
    try {
      await waitUntil(() => server.runtime.readiness().ready, 15_000, 'the channel ready');
      assert.ok(await exists(jsm.streams.info(stream)), 'stream created');
      await apply(server, subscriptionYaml('added', 'NatsJetStreamChannel', api, 'life'));
      const durable = durableNameFor('default/added');
      assert.ok(await exists(jsm.consumers.info(stream, durable)), 'consumer created when the subscription was applied');
      await emitterFor(httpTransport(`${server.url}/channels/default/life`))(new CloudEvent({ id: 'life-1', source: '/t', type: 't', data: { a: 1 } }));
      await sink.waitFor(1, 15_000);
      await server.runtime.delete('Subscription', 'default', 'added');
      await waitUntil(async () => !(await exists(jsm.consumers.info(stream, durable))), 15_000, 'the consumer deleted');
      await server.runtime.delete('NatsJetStreamChannel', 'default', 'life');
      await waitUntil(async () => !(await exists(jsm.streams.info(stream))), 15_000, 'the stream deleted');
    } finally {
      await server.close();
    }
  });

  test('RedisChannel: a subscription added registers its queue, removed obliterates it; the channel deleted removes the subscription set', async () => {
    const api = 'messaging.sluice.dev/v1alpha1';
    const server = await startSluice(`apiVersion: ${api}\nkind: RedisChannel\nmetadata: {name: life}\n`, { redis: { url: redis.url } });
    const set = subscriptionsKeyFor('sluice', 'default', 'life');
    const queueKeys = () => redisClient.keys(`sluice:${queueNameFor('default', 'life', 'default/added')}:*`);
    try {
      await waitUntil(() => server.runtime.readiness().ready, 15_000, 'the channel ready');
      const before = sink.requests.length;
      await apply(server, subscriptionYaml('added', 'RedisChannel', api, 'life'));
      assert.deepEqual(await redisClient.smembers(set), ['default/added']);
      await emitterFor(httpTransport(`${server.url}/channels/default/life`))(new CloudEvent({ id: 'life-2', source: '/t', type: 't', data: { a: 2 } }));
      await sink.waitFor(before + 1, 15_000);
      assert.ok((await queueKeys()).length > 0, 'the queue exists in Redis');
      await server.runtime.delete('Subscription', 'default', 'added');
      await waitUntil(async () => (await redisClient.smembers(set)).length === 0 && (await queueKeys()).length === 0, 15_000, 'the queue removed');
      await apply(server, subscriptionYaml('again', 'RedisChannel', api, 'life'));
      assert.deepEqual(await redisClient.smembers(set), ['default/again']);
      await server.runtime.delete('RedisChannel', 'default', 'life');
      await waitUntil(async () => (await redisClient.exists(set)) === 0, 15_000, 'the subscription set removed');
    } finally {
      await server.close();
    }
  });
});
