import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startSluice, waitUntil } from '../helpers/sluice.js';
import { startSink, type RecordingSink } from '../helpers/sink.js';

// Live re-apply must not lose events in flight: while events stream into a channel, its
// subscription is re-pointed and the channel itself is replaced (a spec change), through
// the admin API. Every event answered 202 must reach a subscriber (duplicates allowed).

const TOTAL = 400;

function slowSink(): Promise<RecordingSink> {
  // A little latency per delivery keeps a backlog in the channel while it is replaced.
  return startSink((_req, res) => {
    setTimeout(() => {
      res.statusCode = 202;
      res.end();
    }, 200);
  });
}

function resources(subscriber: string, capacity: number): string {
  return `apiVersion: messaging.knative.dev/v1
kind: InMemoryChannel
metadata: {name: flow}
spec: {capacity: ${capacity}}
---
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata: {name: flow-sub}
spec:
  channel: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: flow}
  subscriber: {uri: "${subscriber}"}
`;
}

test('no event is lost while a subscription is re-pointed and its channel replaced through the admin API', async () => {
  const a = await slowSink();
  const b = await slowSink();
  const sluice = await startSluice('');
  const apply = async (yaml: string) => {
    const res = await fetch(`${sluice.adminUrl}/api/v1/resources`, { method: 'PUT', headers: { 'content-type': 'application/yaml' }, body: yaml });
    assert.equal(res.status, 200, await res.text());
  };
  try {
    await apply(resources(a.url, 10_000));
    const statuses: number[] = [];
    let next = 0;
    const changes: Array<[number, string]> = [
      [100, resources(b.url, 10_000)], // subscriber changes, same channel
      [200, resources(b.url, 20_000)], // channel spec changes: a new channel replaces the old
      [300, resources(a.url, 30_000)], // both at once
    ];
    const applied: Array<Promise<void>> = [];
    const producer = async () => {
      while (next < TOTAL) {
        const i = next++;
        const due = changes.find(([at]) => at === i);
        if (due) applied.push(apply(due[1]));
        const res = await fetch(`${sluice.url}/channels/default/flow`, {
          method: 'POST',
          headers: { 'ce-specversion': '1.0', 'ce-id': `e-${i}`, 'ce-source': '/live-apply', 'ce-type': 'dev.test', 'content-type': 'text/plain' },
          body: String(i),
        });
        await res.arrayBuffer();
        statuses.push(res.status);
      }
    };
    await Promise.all(Array.from({ length: 8 }, producer));
    await Promise.all(applied);
    assert.deepEqual(
      statuses.filter((s) => s !== 202),
      [],
      'every event is accepted while resources change',
    );
    const received = () => new Set([...a.requests, ...b.requests].map((r) => String(r.headers['ce-id'])));
    await waitUntil(() => received().size === TOTAL, 20_000, `all ${TOTAL} events delivered (got ${received().size})`).catch((err: Error) => {
      const got = received();
      const lost = Array.from({ length: TOTAL }, (_, i) => `e-${i}`).filter((id) => !got.has(id));
      throw new Error(`${err.message}: lost ${lost.length}: ${lost.slice(0, 10).join(', ')}`);
    });
    assert.ok(b.requests.length > 0 && a.requests.length > 0, 'both subscribers got events');
  } finally {
    await sluice.close();
    await a.close();
    await b.close();
  }
});
