import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { HTTP, type CloudEvent } from 'cloudevents';
import { startSink, type ReceivedRequest, type RecordingSink } from '../helpers/sink.js';
import { startSluice, waitUntil } from '../helpers/sluice.js';
import { channelAndSubscription, readyOf, statusOf, toChannel, type Sluice } from './e2e-helpers.js';

const pingYaml = (name: string, sink: string, data: string) => `---
apiVersion: sources.knative.dev/v1
kind: PingSource
metadata: {name: ${name}}
spec:
  schedule: "* * * * * *"
  timezone: Europe/Paris
${data}
  sink: ${sink}
`;

const asCloudEvent = (r: ReceivedRequest) =>
  HTTP.toEvent({ headers: r.headers as Record<string, string>, body: r.body.length ? r.body.toString('utf8') : undefined }) as CloudEvent<unknown>;

describe('PingSource end to end (per-second schedule)', () => {
  let direct: RecordingSink;
  let viaChannel: RecordingSink;
  let sluice: Sluice;

  before(async () => {
    [direct, viaChannel] = await Promise.all([startSink(), startSink()]);
    sluice = await startSluice(
      pingYaml('json-ping', `{uri: "${direct.url}"}`, '  contentType: application/json\n  data: \'{"message": "Hello world!"}\'') +
        channelAndSubscription('pings', viaChannel.url) +
        pingYaml('binary-ping', toChannel('pings'), '  contentType: application/octet-stream\n  dataBase64: "AAEC/w=="') +
        `---
apiVersion: messaging.sluice.dev/v1alpha1
kind: EventDisplay
metadata: {name: shown}
---
apiVersion: sources.knative.dev/v1
kind: PingSource
metadata: {name: to-display}
spec:
  schedule: "* * * * * *"
  data: plain text
  sink: {ref: {apiVersion: messaging.sluice.dev/v1alpha1, kind: EventDisplay, name: shown}}
`,
    );
  });
  after(async () => {
    await sluice.close();
    await Promise.all([direct.close(), viaChannel.close()]);
  });

  test('status: Ready with sinkUri and the event type Knative lists', () => {
    assert.equal(readyOf(sluice, 'PingSource', 'json-ping')?.status, 'True');
    const st = statusOf(sluice, 'PingSource', 'binary-ping');
    assert.equal(st.sinkUri, `${sluice.url}/channels/default/pings`);
    assert.deepEqual(st.ceAttributes, [{ type: 'dev.knative.sources.ping', source: '/apis/v1/namespaces/default/pingsources/binary-ping' }]);
  });

  test('data and contentType reach a uri sink as Knative sends them', async () => {
    await direct.waitFor(2, 5000);
    const [a, b] = direct.requests.map(asCloudEvent);
    for (const e of [a!, b!]) {
      assert.equal(e.type, 'dev.knative.sources.ping');
      assert.equal(e.source, '/apis/v1/namespaces/default/pingsources/json-ping');
      assert.equal(e.datacontenttype, 'application/json');
      assert.deepEqual(e.data, { message: 'Hello world!' });
      assert.ok(e.validate());
    }
    assert.notEqual(a!.id, b!.id, 'a fresh id per tick');
    assert.ok(Date.parse(String(b!.time)) > Date.parse(String(a!.time)), 'time is the tick');
  });

  test('dataBase64 goes through a channel and a subscription byte for byte', async () => {
    await viaChannel.waitFor(1, 5000);
    const r = viaChannel.requests[0]!;
    assert.deepEqual([...r.body], [0, 1, 2, 255]);
    assert.equal(r.headers['content-type'], 'application/octet-stream');
    assert.equal(r.headers['ce-source'], '/apis/v1/namespaces/default/pingsources/binary-ping');
  });

  test('a ref to an EventDisplay is resolved like any addressable', async () => {
    await waitUntil(() => (sluice.displays.displays.get('default/shown')?.recent().length ?? 0) > 0, 5000, 'a ping shown');
    assert.equal(sluice.displays.displays.get('default/shown')!.recent()[0]!.data, 'plain text');
  });

  test('deleting a PingSource stops its ticks while the others keep going', async () => {
    await sluice.runtime.delete('PingSource', 'default', 'json-ping');
    // One tick of the source still running lets a request sent just before the delete land.
    await viaChannel.waitFor(viaChannel.requests.length + 1, 5000);
    const stoppedAt = direct.requests.length;
    // Two more ticks: the deleted one would have ticked too.
    await viaChannel.waitFor(viaChannel.requests.length + 2, 5000);
    assert.equal(direct.requests.length, stoppedAt);
    assert.equal(sluice.runtime.listResources().some((r) => r.metadata.name === 'json-ping'), false);
  });
});
