// End-to-end scenarios for a durable channel backend, each driving real `sluice start`
// processes against a private nats-server or redis-server: what issue 3 promises about
// crashes, replicas and backend outages, checked from the outside.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ServerProcess } from '../helpers/nats-server.js';
import { Broker, configDir, EventSink, gate, Producer, range, waitUntil } from './durable-e2e-helpers.js';

export interface BackendUnderTest {
  /** `NATS` or `Redis`, for test names. */
  name: string;
  /** The channel kind and its apiVersion. */
  kind: string;
  apiVersion: string;
  /** Starts a private server on a free port (and temp data dir). */
  start: () => Promise<ServerProcess & { url: string }>;
  /** `sluice start` flags pointing at the server. */
  flags: (url: string) => string[];
  /** What readiness says while the server is down. */
  unreachable: RegExp;
}

/** ackWait PT2S: a killed broker's in-flight deliveries go to the next one within seconds, not 30 s. */
function channelYaml(b: BackendUnderTest, name: string): string {
  return `apiVersion: ${b.apiVersion}
kind: ${b.kind}
metadata: {name: ${name}}
spec: {ackWait: PT2S}
`;
}

function subscriptionYaml(b: BackendUnderTest | 'Channel', name: string, channel: string, subscriber: string, delivery = ''): string {
  const ref = b === 'Channel' ? 'apiVersion: messaging.knative.dev/v1, kind: Channel' : `apiVersion: ${b.apiVersion}, kind: ${b.kind}`;
  return `---
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata: {name: ${name}}
spec:
  channel: {${ref}, name: ${channel}}
  subscriber: {uri: "${subscriber}"}
${delivery}`;
}

export function runDurableEndToEnd(b: BackendUnderTest): void {
  describe(`durable channel end to end: ${b.name}`, () => {
    let server: ServerProcess & { url: string };
    before(async () => {
      server = await b.start();
    });
    after(async () => {
      await server.dispose();
    });

    describe('kill -9 of the broker mid-stream, with retries pending', () => {
      // One broker, two channels: `crash` takes 2000 events from 16 clients; its
      // subscriber acknowledges the first half, then holds every request, so the other
      // half is accepted but undelivered (some of it in flight). `retries` holds events
      // whose subscriber always fails, between their second and third attempt. The broker
      // is killed once all of that is true, then started again, and the subscriber lets
      // requests through; the tests below check what each channel did afterwards.
      const n = 2000;
      const retry = 2;
      const retryIds = range(10, 'retry');
      let sink: EventSink;
      let failing: EventSink;
      let dls: EventSink;
      let producer: Producer;
      let broker: Broker;
      let cfg: { dir: string; dispose: () => void };
      let atKill = { accepted: 0, delivered: 0, deadLettered: 0 };

      before(async () => {
        const held = gate();
        const answered = new Set<string>();
        sink = await new EventSink(async (id) => {
          if (!answered.has(id) && answered.size >= n / 2) await held.wait;
          answered.add(id);
          return 202;
        }).start();
        failing = await new EventSink(() => 503).start();
        dls = await new EventSink().start();
        // Exponential PT0.5S: 1 s before the 2nd attempt, 2 s before the 3rd (after the restart).
        const delivery = `  delivery:
    retry: ${retry}
    backoffPolicy: exponential
    backoffDelay: PT0.5S
    deadLetterSink: {uri: "${dls.url}"}
`;
        cfg = configDir(
          channelYaml(b, 'crash') +
            subscriptionYaml(b, 'crash-sub', 'crash', sink.url) +
            '---\n' +
            channelYaml(b, 'retries') +
            subscriptionYaml(b, 'retries-sub', 'retries', failing.url, delivery),
        );
        producer = new Producer();
        broker = await Broker.create(cfg.dir, b.flags(server.url));
        await producer.sendAll(() => `${broker.url}/channels/default/crash`, range(n, 'crash'), 16);
        // After `crash`, so that the 3rd attempts (3 s from now) come after the restart.
        await producer.sendAll(() => `${broker.url}/channels/default/retries`, retryIds, 4);
        const failedTwice = async () =>
          retryIds.every((id) => (failing.attempts.get(id)?.length ?? 0) >= 2) && (await broker.counter('sluice_events_retried_total')) >= 2 * retryIds.length;
        await waitUntil(async () => sink.delivered.size >= n / 2 && (await failedTwice()), 60_000, `${n / 2} events delivered and two failed attempts per retried event`);
        atKill = { accepted: producer.accepted.size - retryIds.length, delivered: sink.delivered.size, deadLettered: dls.delivered.size };
        await broker.kill();
        await broker.start();
        held.open();
      });

      after(async () => {
        await broker?.kill();
        await producer?.close();
        await Promise.all([sink?.close(), failing?.close(), dls?.close()]);
        cfg?.dispose();
      });

      test('every event answered 202 reaches the subscriber', async (t) => {
        assert.equal(atKill.accepted, n, 'every event was accepted before the kill');
        const accepted = [...producer.accepted].filter((id) => id.startsWith('crash-'));
        await waitUntil(() => sink.missing(accepted).length === 0, 60_000, 'every accepted event delivered').catch((e: Error) => {
          const missing = sink.missing(accepted);
          const tries = missing.slice(0, 10).map((id) => `${id} sent ${sink.attempts.get(id)?.length ?? 0}x`);
          throw new Error(`${e.message}: ${missing.length} of ${n} missing (${tries.join(', ')})\n${broker.output}`);
        });
        t.diagnostic(`at the kill: ${atKill.accepted} accepted, ${atKill.delivered} delivered; sent more than once: ${[...sink.attempts.values()].filter((a) => a.length > 1).length}`);
      });

      test('pending retries continue after the restart with their backoff, then dead-letter', async (t) => {
        await waitUntil(() => dls.missing(retryIds).length === 0, 30_000, 'every failing event dead-lettered');
        for (const id of retryIds) {
          const times = failing.attempts.get(id)!;
          // retry + 1 attempts; one more at most when the kill cut an attempt short. Had the
          // restart forgotten the attempts made, there would be at least retry + 3.
          assert.ok(times.length >= retry + 1 && times.length <= retry + 2, `${id}: ${times.length} attempts`);
          // Lower bound only (waits of 1 s and 2 s): a busy machine can only make it longer.
          assert.ok(times.at(-1)! - times[0]! >= 2700, `${id}: attempts spread over ${times.at(-1)! - times[0]!} ms`);
        }
        const dead = dls.sink.requests[0]!;
        assert.equal(dead.headers['ce-knativeerrorcode'], '503');
        assert.equal(dead.headers['ce-knativeerrordest'], failing.url);
        t.diagnostic(`dead-lettered before the kill: ${atKill.deadLettered}`);
      });
    });

    test('two replicas share one subscription: every event delivered, both do work', async () => {
      // A little work per event, so that both replicas' consumers get a share.
      const sink = await new EventSink(() => 202, 5).start();
      const cfg = configDir(
        `apiVersion: messaging.knative.dev/v1
kind: Channel
metadata: {name: shared}
` + subscriptionYaml('Channel', 'shared-sub', 'shared', sink.url),
      );
      const producer = new Producer();
      // A plain Channel: --default-channel makes it durable on both replicas.
      const flags = [...b.flags(server.url), '--default-channel', b.kind];
      const [r1, r2] = await Promise.all([Broker.create(cfg.dir, flags), Broker.create(cfg.dir, flags)]);
      try {
        const ids = range(200, 'shared');
        let i = 0;
        // Alternate ingress between the replicas, as a load balancer would.
        await producer.sendAll(() => `${i++ % 2 ? r1.url : r2.url}/channels/default/shared`, ids, 8);
        await waitUntil(() => sink.missing(ids).length === 0, 60_000, 'every event delivered');
        // Each replica counts a delivery once the subscriber answered: poll until all are counted.
        let d1 = 0;
        let d2 = 0;
        await waitUntil(async () => {
          [d1, d2] = await Promise.all([r1.counter('sluice_events_delivered_total'), r2.counter('sluice_events_delivered_total')]);
          return d1 + d2 >= ids.length;
        }, 30_000, 'the replicas to count every delivery');
        assert.ok(d1 > 0 && d2 > 0, `both replicas delivered (${d1} / ${d2})`);
        assert.ok(d1 + d2 <= ids.length * 1.1, `the replicas did not each deliver everything (${d1} + ${d2})`);
      } finally {
        await Promise.all([r1.kill(), r2.kill()]);
        await producer.close();
        await sink.close();
        cfg.dispose();
      }
    });

    test(`${b.name} stopped and restarted under traffic: 503 while down, every accepted event delivered`, async () => {
      const sink = await new EventSink().start();
      const cfg = configDir(channelYaml(b, 'outage') + subscriptionYaml(b, 'outage-sub', 'outage', sink.url));
      const producer = new Producer();
      const broker = await Broker.create(cfg.dir, b.flags(server.url));
      let stop = false;
      let next = 0;
      const url = `${broker.url}/channels/default/outage`;
      // Four clients sending new events one after another, each once: no client-side retries here.
      const loops = Array.from({ length: 4 }, async () => {
        while (!stop) {
          await producer.send(url, `outage-${next++}`);
          await new Promise((r) => setTimeout(r, 5));
        }
      });
      try {
        await waitUntil(() => producer.accepted.size >= 30, 30_000, '30 events accepted before the outage');
        await server.stop();
        await waitUntil(() => producer.count(503) >= 10, 30_000, 'events refused with 503 while the backend is down');
        const readiness = await broker.readiness();
        assert.equal(readiness.ready, false);
        assert.ok(readiness.pending.some((p) => b.unreachable.test(p)), `readiness names the backend: ${readiness.pending.join('; ')}`);
        const cond = await broker.condition(b.kind, 'outage');
        assert.equal(cond?.status, 'False');
        assert.match(cond?.message ?? '', b.unreachable);
        await server.start();
        const acceptedAtRestart = producer.accepted.size;
        await waitUntil(() => producer.accepted.size >= acceptedAtRestart + 30, 60_000, '30 more events accepted after the backend came back');
      } finally {
        stop = true;
        await Promise.all(loops);
        if (!server.running) await server.start();
      }
      try {
        const others = [...producer.outcomes.keys()].filter((k) => k !== '202' && k !== '503');
        assert.deepEqual(others, [], 'every refusal is a 503');
        await waitUntil(() => sink.missing(producer.accepted).length === 0, 60_000, 'every accepted event delivered').catch((e: Error) => {
          throw new Error(`${e.message}: missing ${sink.missing(producer.accepted).slice(0, 10).join(', ')}`);
        });
        assert.ok((await broker.readiness()).ready, 'ready again');
      } finally {
        await broker.kill();
        await producer.close();
        await sink.close();
        cfg.dispose();
      }
    });
  });
}
