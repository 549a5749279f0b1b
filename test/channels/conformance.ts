// The Channel conformance suite: the same behaviour checked against every backend
// (memory, NATS JetStream, Redis/BullMQ). Backend-agnostic: what a backend cannot do
// (survive its own object, be stopped and restarted) is declared in `capabilities` and
// those cases are skipped.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Channel, ChannelSubscription, DeliveryHandler, DeliveryResult } from '../../src/channels/channel.js';
import type { SluiceEvent } from '../../src/events/types.js';
import { UnavailableError } from '../../src/errors.js';

export interface ChannelHarness {
  channel: Channel;
  /**
   * Another channel object for the same channel on the same backend, as a second broker
   * replica (or the same broker after a restart) would build it. Durable backends only.
   */
  open?: () => Promise<Channel>;
  /** Stops the backend server (SIGTERM) and brings it back on the same port and data. */
  stopBackend?: () => Promise<void>;
  startBackend?: () => Promise<void>;
  /** Closes every channel object the harness made and removes what the backend holds. */
  cleanup: () => Promise<void>;
}

export interface ChannelCapabilities {
  /** Accepted events outlive the channel object (`open()` sees what an earlier object left). */
  durable: boolean;
  /** `stopBackend`/`startBackend` work. */
  backendControl: boolean;
}

/** An event; `data: null` makes one without data. */
export const ev = (id: string, extra: Record<string, string> = {}, data: Buffer | null = Buffer.from(`data-${id}`)): SluiceEvent => ({
  attributes: { specversion: '1.0', id, source: '/conformance', type: 'dev.sluice.test', ...extra },
  ...(data === null ? {} : { data }),
});

export function waitUntil(cond: () => boolean, timeoutMs = 15_000, what = 'condition'): Promise<void> {
  return new Promise((resolve, reject) => {
    const start = Date.now();
    const tick = () => {
      let ok: boolean;
      try {
        ok = cond();
      } catch {
        ok = false;
      }
      if (ok) resolve();
      else if (Date.now() - start > timeoutMs) reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      else setTimeout(tick, 20);
    };
    tick();
  });
}

/** A subscription that records what it got; `respond` decides each outcome. */
export function recorder(id: string, respond: (e: SluiceEvent, attempt: number) => Promise<DeliveryResult> | DeliveryResult = () => ({ outcome: 'done' }), maxInFlight = 4) {
  const got: Array<{ id: string; attempt: number; event: SluiceEvent }> = [];
  const handler: DeliveryHandler = async (e, ctx) => {
    got.push({ id: e.attributes.id!, attempt: ctx.attempt, event: e });
    return respond(e, ctx.attempt);
  };
  const sub: ChannelSubscription = { id, maxInFlight, maxAttempts: 100, handler };
  return { sub, got, ids: () => got.map((g) => g.id) };
}

function gate() {
  let open!: () => void;
  const p = new Promise<void>((r) => (open = r));
  return { wait: () => p, open };
}

const sorted = (a: string[]) => [...a].sort((x, y) => Number(x) - Number(y) || x.localeCompare(y));
const range = (n: number, from = 0) => Array.from({ length: n }, (_, i) => String(from + i));

export function runChannelConformance(name: string, makeChannel: () => Promise<ChannelHarness>, capabilities: Partial<ChannelCapabilities> = {}): void {
  const caps: ChannelCapabilities = { durable: false, backendControl: false, ...capabilities };

  /** Runs `body` with a fresh channel and always cleans up, even when an assertion fails. */
  const withChannel = async (body: (h: ChannelHarness) => Promise<void>) => {
    const h = await makeChannel();
    try {
      await body(h);
    } finally {
      await h.cleanup();
    }
  };

  describe(`Channel conformance: ${name}`, () => {
    test('every subscription gets every event once, attributes and data unchanged', () =>
      withChannel(async ({ channel }) => {
        await waitUntil(() => channel.ready(), 15_000, 'channel ready');
        const a = recorder('ns/a');
        const b = recorder('ns/b');
        await channel.subscribe(a.sub);
        await channel.subscribe(b.sub);
        const odd = ev('odd', { subject: 'spaces, "quotes", 100% and\nnewline', exttext: 'héllo ✓ 😀' }, Buffer.from([0, 255, 13, 10, 1]));
        const noData = ev('nodata', { datacontenttype: 'application/json' }, null);
        const empty = ev('empty', {}, Buffer.alloc(0));
        const n = 30;
        for (const id of range(n)) await channel.publish(ev(id));
        await channel.publish(odd);
        await channel.publish(noData);
        await channel.publish(empty);
        await waitUntil(() => a.got.length >= n + 3 && b.got.length >= n + 3, 15_000, 'both subscriptions to get every event');
        for (const r of [a, b]) {
          assert.deepEqual(sorted(r.ids().filter((i) => /^\d+$/.test(i))), range(n));
          assert.equal(new Set(r.ids()).size, r.got.length, 'no event delivered twice');
          const o = r.got.find((g) => g.id === 'odd')!.event;
          assert.deepEqual(o.attributes, odd.attributes);
          assert.deepEqual(o.data, odd.data);
          const nd = r.got.find((g) => g.id === 'nodata')!.event;
          assert.equal(nd.data, undefined);
          assert.deepEqual(nd.attributes, noData.attributes);
          assert.equal(r.got.find((g) => g.id === 'empty')!.event.data?.length, 0);
          assert.ok(r.got.every((g) => g.attempt === 1));
        }
        assert.deepEqual(a.got.find((g) => g.id === '7')!.event.data, Buffer.from('data-7'));
      }));

    test('subscriptions are independent: a hanging and a failing one do not hold back another', () =>
      withChannel(async ({ channel }) => {
        await waitUntil(() => channel.ready(), 15_000, 'channel ready');
        const g = gate();
        const hang = recorder('ns/hang', async () => (await g.wait(), { outcome: 'done' }), 1);
        const failing = recorder('ns/failing', () => ({ outcome: 'retry', delayMs: 200 }), 2);
        const fast = recorder('ns/fast', () => ({ outcome: 'done' }), 2);
        for (const r of [hang, failing, fast]) await channel.subscribe(r.sub);
        for (const id of range(20)) await channel.publish(ev(id));
        await waitUntil(() => new Set(fast.ids()).size === 20, 15_000, 'the fast subscription to get all 20');
        assert.equal(hang.got.length, 1, 'the hanging subscription holds its one in-flight event');
        g.open();
        await channel.unsubscribe('ns/failing', { purge: true });
        await channel.unsubscribe('ns/hang', { purge: true });
      }));

    test('retry redelivers after the delay with the attempt number incremented', () =>
      withChannel(async ({ channel }) => {
        await waitUntil(() => channel.ready(), 15_000, 'channel ready');
        const t0 = Date.now();
        const r = recorder('ns/retry', (_e, attempt) => (attempt < 3 ? { outcome: 'retry', delayMs: 150 } : { outcome: 'done' }), 1);
        await channel.subscribe(r.sub);
        await channel.publish(ev('x'));
        await waitUntil(() => r.got.length >= 3, 15_000, 'three attempts');
        assert.deepEqual(r.got.map((g) => g.attempt), [1, 2, 3]);
        // Lower bound only (two 150 ms waits): a slow machine can only make it longer.
        assert.ok(Date.now() - t0 >= 280, `two retry delays elapsed (${Date.now() - t0} ms)`);
        // `done` on attempt 3 ends it: a marker published afterwards is the only thing that follows.
        await channel.publish(ev('marker'));
        await waitUntil(() => r.ids().includes('marker'), 15_000, 'the marker');
        assert.deepEqual(r.ids(), ['x', 'x', 'x', 'marker']);
      }));

    test('done acks: finished events are not delivered again (also to a new channel object when durable)', () =>
      withChannel(async (h) => {
        await waitUntil(() => h.channel.ready(), 15_000, 'channel ready');
        const r = recorder('ns/acks');
        await h.channel.subscribe(r.sub);
        for (const id of range(10)) await h.channel.publish(ev(id));
        await waitUntil(() => r.got.length >= 10, 15_000, '10 deliveries');
        await waitUntil(() => h.channel.stats().subscriptions['ns/acks']?.backlog === 0, 15_000, 'backlog 0');
        let target = h.channel;
        let again = r;
        if (caps.durable && h.open) {
          await h.channel.close({ deadline: Date.now() + 5000 });
          target = await h.open();
          again = recorder('ns/acks');
          await target.subscribe(again.sub);
          await waitUntil(() => target.ready(), 15_000, 'reopened channel ready');
        }
        await target.publish(ev('marker'));
        await waitUntil(() => again.ids().includes('marker'), 15_000, 'the marker');
        const after = again === r ? r.ids().slice(10) : again.ids();
        assert.deepEqual(after, ['marker'], 'only the marker arrives: the acked events are gone');
      }));

    test('unsubscribe stops delivery to that subscription only', () =>
      withChannel(async ({ channel }) => {
        await waitUntil(() => channel.ready(), 15_000, 'channel ready');
        const a = recorder('ns/a');
        const b = recorder('ns/b');
        await channel.subscribe(a.sub);
        await channel.subscribe(b.sub);
        for (const id of range(3)) await channel.publish(ev(id));
        await waitUntil(() => a.got.length >= 3 && b.got.length >= 3, 15_000, 'first three');
        await channel.unsubscribe('ns/a', { purge: true });
        assert.equal(channel.stats().subscriptions['ns/a'], undefined);
        for (const id of range(3, 3)) await channel.publish(ev(id));
        await waitUntil(() => b.got.length >= 6, 15_000, 'b to get six');
        assert.deepEqual(sorted(a.ids()), range(3));
        await channel.unsubscribe('ns/missing'); // unknown ids are a no-op
      }));

    test('stats report backlog and in-flight per subscription', () =>
      withChannel(async ({ channel }) => {
        await waitUntil(() => channel.ready(), 15_000, 'channel ready');
        const g = gate();
        const r = recorder('ns/stats', async () => (await g.wait(), { outcome: 'done' }), 2);
        await channel.subscribe(r.sub);
        for (const id of range(5)) await channel.publish(ev(id));
        await waitUntil(() => {
          const s = channel.stats().subscriptions['ns/stats'];
          return s?.inFlight === 2 && s.backlog === 5;
        }, 15_000, 'inFlight 2 and backlog 5');
        const st = channel.stats();
        assert.equal(st.depth, 5);
        assert.equal(typeof st.capacity, 'number');
        g.open();
        await waitUntil(() => r.got.length === 5, 15_000, 'all five delivered');
        await waitUntil(() => {
          const s = channel.stats();
          return s.subscriptions['ns/stats']?.backlog === 0 && s.subscriptions['ns/stats'].inFlight === 0 && s.depth === 0;
        }, 15_000, 'backlog and depth back to 0');
      }));

    test('close() waits for in-flight deliveries; nothing accepted is lost', () =>
      withChannel(async (h) => {
        await waitUntil(() => h.channel.ready(), 15_000, 'channel ready');
        const g = gate();
        let running = 0;
        const finished: string[] = [];
        const r = recorder('ns/drain', async (e) => {
          running++;
          await g.wait();
          running--;
          finished.push(e.attributes.id!);
          return { outcome: 'done' };
        }, 2);
        await h.channel.subscribe(r.sub);
        for (const id of range(6)) await h.channel.publish(ev(id));
        await waitUntil(() => running === 2, 15_000, 'two deliveries in flight');
        let closed = false;
        const closing = h.channel.close({ deadline: Date.now() + 20_000 }).then(() => (closed = true));
        await new Promise((res) => setImmediate(res));
        assert.equal(closed, false, 'close waits while deliveries run');
        await assert.rejects(h.channel.publish(ev('late')), UnavailableError);
        assert.equal(h.channel.ready(), false);
        g.open();
        await closing;
        assert.equal(running, 0, 'no delivery still running after close()');
        if (caps.durable && h.open) {
          // What the closed object did not finish, the next one does; what it finished stays finished.
          const next = await h.open();
          const rest = recorder('ns/drain');
          await next.subscribe(rest.sub);
          await waitUntil(() => new Set([...finished, ...rest.ids()]).size === 6, 45_000, 'the rest after reopening');
          for (const id of finished) assert.ok(!rest.ids().includes(id), `event ${id} acked before close is not redelivered`);
        } else {
          assert.deepEqual(sorted(finished), range(6), 'a non-durable channel drains everything it accepted');
        }
      }));

    test('publish after close() is refused with UnavailableError', () =>
      withChannel(async ({ channel }) => {
        await waitUntil(() => channel.ready(), 15_000, 'channel ready');
        await channel.close();
        await channel.close(); // idempotent
        await assert.rejects(channel.publish(ev('1')), UnavailableError);
      }));

    test('publish while the backend is down fails fast with UnavailableError, then works again', { skip: !caps.backendControl }, () =>
      withChannel(async (h) => {
        await waitUntil(() => h.channel.ready(), 15_000, 'channel ready');
        const r = recorder('ns/down');
        await h.channel.subscribe(r.sub);
        await h.channel.publish(ev('before'));
        await h.stopBackend!();
        await waitUntil(() => !h.channel.ready(), 15_000, 'channel not ready');
        const t0 = Date.now();
        await assert.rejects(h.channel.publish(ev('during')), UnavailableError);
        // Generous bound: "fast" means not waiting for a timeout or for the server to come back.
        assert.ok(Date.now() - t0 < 3000, `refused in ${Date.now() - t0} ms`);
        await h.startBackend!();
        await waitUntil(() => h.channel.ready(), 30_000, 'channel ready again');
        await h.channel.publish(ev('after'));
        await waitUntil(() => r.ids().includes('after') && r.ids().includes('before'), 30_000, 'before and after delivered');
        assert.ok(!r.ids().includes('during'));
      }));
  });
}

/**
 * Durability across channel objects (replicas) and backend restarts: for durable backends.
 * `makeChannel` gives a fresh channel; `open()` another object on it, each with its own
 * backend connection, as another broker replica would have.
 */
export function runDurabilitySuite(name: string, makeChannel: () => Promise<ChannelHarness>): void {
  const withChannel = async (body: (h: ChannelHarness) => Promise<void>) => {
    const h = await makeChannel();
    try {
      await body(h);
    } finally {
      await h.cleanup();
    }
  };

  describe(`Channel durability: ${name}`, () => {
    test('two channel objects on one subscription share the work: both get some, none lost', () =>
      withChannel(async (h) => {
        const second = await h.open!();
        await waitUntil(() => h.channel.ready() && second.ready(), 15_000, 'both ready');
        const slow = () => new Promise<DeliveryResult>((res) => setTimeout(() => res({ outcome: 'done' }), 15));
        const a = recorder('ns/shared', slow, 4);
        const b = recorder('ns/shared', slow, 4);
        await h.channel.subscribe(a.sub);
        await second.subscribe(b.sub);
        const n = 80;
        for (const id of range(n)) await (Number(id) % 2 ? second : h.channel).publish(ev(id));
        await waitUntil(() => new Set([...a.ids(), ...b.ids()]).size === n, 30_000, 'every event by one of the two');
        assert.ok(a.got.length > 0 && b.got.length > 0, `both replicas got work (${a.got.length} / ${b.got.length})`);
        assert.deepEqual(sorted([...new Set([...a.ids(), ...b.ids()])]), range(n));
      }));

    test('retries pending when a channel object goes away are picked up by the next one', () =>
      withChannel(async (h) => {
        await waitUntil(() => h.channel.ready(), 15_000, 'channel ready');
        const first = recorder('ns/restart', () => ({ outcome: 'retry', delayMs: 1500 }), 5);
        await h.channel.subscribe(first.sub);
        for (const id of range(5)) await h.channel.publish(ev(id));
        await waitUntil(() => first.got.length >= 5, 15_000, 'first attempts');
        // Abrupt: no drain deadline; the retries live only in the backend now.
        await h.channel.close({ deadline: Date.now() });
        const next = await h.open!();
        const second = recorder('ns/restart', () => ({ outcome: 'done' }), 5);
        await next.subscribe(second.sub);
        await waitUntil(() => new Set(second.ids()).size === 5, 45_000, 'all five retried by the new object');
        assert.deepEqual(sorted([...new Set(second.ids())]), range(5));
        assert.ok(second.got.every((g) => g.attempt >= 2), `attempt numbers continue: ${second.got.map((g) => g.attempt).join(',')}`);
      }));

    test('backend stopped under a publishing loop: 503 while down, and every acknowledged publish is delivered', () =>
      withChannel(async (h) => {
        await waitUntil(() => h.channel.ready(), 15_000, 'channel ready');
        const r = recorder('ns/loop', () => ({ outcome: 'done' }), 8);
        await h.channel.subscribe(r.sub);
        const acked: string[] = [];
        const refused: unknown[] = [];
        let slowest = 0;
        let stop = false;
        const loop = (async () => {
          for (let i = 0; !stop; i++) {
            const t0 = Date.now();
            try {
              await h.channel.publish(ev(String(i)));
              acked.push(String(i));
            } catch (e) {
              refused.push(e);
            }
            slowest = Math.max(slowest, Date.now() - t0);
            await new Promise((res) => setTimeout(res, 5));
          }
        })();
        try {
          await waitUntil(() => acked.length >= 30, 15_000, '30 publishes before the stop');
          await h.stopBackend!();
          const refusedBefore = refused.length;
          await waitUntil(() => refused.length >= refusedBefore + 5, 15_000, 'publishes refused while down');
          await h.startBackend!();
          const ackedAtRestart = acked.length;
          await waitUntil(() => acked.length >= ackedAtRestart + 30, 30_000, '30 publishes after the restart');
        } finally {
          stop = true;
          await loop;
        }
        assert.ok(refused.every((e) => e instanceof UnavailableError), `only UnavailableError: ${refused.filter((e) => !(e instanceof UnavailableError)).map(String).join('; ')}`);
        assert.ok(slowest < 15_000, `no publish hung (slowest ${slowest} ms)`);
        const missing = () => acked.filter((id) => !r.ids().includes(id));
        await waitUntil(() => missing().length === 0, 45_000, 'every acknowledged event delivered').catch((e: Error) => {
          throw new Error(`${e.message}: ${missing().length} of ${acked.length} missing (${missing().slice(0, 20).join(',')}), refused ${refused.length}`);
        });
      }));
  });
}
