import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import assert from 'node:assert/strict';
import { MemoryChannel } from '../../src/channels/memory/index.js';
import type { DeliveryHandler } from '../../src/channels/channel.js';
import type { SluiceEvent } from '../../src/events/types.js';
import { ChannelFullError, PayloadTooLargeError, UnavailableError } from '../../src/errors.js';
import { BufferBudget, eventBytes } from '../../src/channels/memory/index.js';
import type { ShedReason } from '../../src/channels/channel.js';
import { runChannelConformance } from './conformance.js';

// The shared Channel suite (the same one the NATS and Redis backends pass).
runChannelConformance('InMemoryChannel', async () => {
  const channel = new MemoryChannel();
  return { channel, cleanup: () => channel.close() };
});

const ev = (id: string): SluiceEvent => ({ attributes: { specversion: '1.0', id, source: '/t', type: 't' }, data: Buffer.from(id) });

function waitUntil(cond: () => boolean, timeoutMs = 3000): Promise<void> {
  return new Promise((resolve, reject) => {
    const start = Date.now();
    const tick = () => (cond() ? resolve() : Date.now() - start > timeoutMs ? reject(new Error('timed out')) : setTimeout(tick, 5));
    tick();
  });
}

test('every subscription receives every event once', async () => {
  const ch = new MemoryChannel();
  const got: Record<string, string[]> = { a: [], b: [] };
  for (const id of ['a', 'b']) {
    await ch.subscribe({ id, maxInFlight: 4, maxAttempts: 1, handler: async (e) => (got[id]!.push(e.attributes.id!), { outcome: 'done' }) });
  }
  for (let i = 0; i < 50; i++) await ch.publish(ev(String(i)));
  await waitUntil(() => got.a!.length === 50 && got.b!.length === 50);
  assert.deepEqual([...got.a!].sort(), [...got.b!].sort());
  assert.equal(ch.stats().depth, 0);
  await ch.close();
});

test('a hanging subscriber does not delay another', async () => {
  const ch = new MemoryChannel();
  const fast: string[] = [];
  await ch.subscribe({ id: 'hang', maxInFlight: 1, maxAttempts: 1, handler: () => new Promise(() => {}) });
  await ch.subscribe({ id: 'fast', maxInFlight: 1, maxAttempts: 1, handler: async (e) => (fast.push(e.attributes.id!), { outcome: 'done' }) });
  for (let i = 0; i < 20; i++) await ch.publish(ev(String(i)));
  await waitUntil(() => fast.length === 20);
  assert.equal(ch.stats().subscriptions.hang!.backlog, 20);
  await ch.unsubscribe('hang');
  await ch.close();
});

test('retry results are redelivered after the delay with the attempt incremented', async () => {
  const ch = new MemoryChannel();
  const attempts: number[] = [];
  const handler: DeliveryHandler = async (_e, ctx) => {
    attempts.push(ctx.attempt);
    return ctx.attempt < 3 ? { outcome: 'retry', delayMs: 20 } : { outcome: 'done' };
  };
  await ch.subscribe({ id: 's', maxInFlight: 1, maxAttempts: 3, handler });
  const t0 = Date.now();
  await ch.publish(ev('x'));
  await waitUntil(() => attempts.length === 3);
  assert.deepEqual(attempts, [1, 2, 3]);
  assert.ok(Date.now() - t0 >= 35, 'two retry delays elapsed');
  await waitUntil(() => ch.stats().depth === 0);
  await ch.close();
});

test('capacity bounds held events: publish answers ChannelFullError, batches are all-or-nothing', async () => {
  const ch = new MemoryChannel({ capacity: 3 });
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  await ch.subscribe({ id: 's', maxInFlight: 1, maxAttempts: 1, handler: async () => (await gate, { outcome: 'done' }) });
  await ch.publish(ev('1'));
  await ch.publishBatch([ev('2'), ev('3')]);
  await assert.rejects(ch.publish(ev('4')), ChannelFullError);
  assert.equal(ch.stats().depth, 3);
  release();
  await waitUntil(() => ch.stats().depth === 0);
  await ch.close();
  const stuck = new MemoryChannel({ capacity: 3 });
  await stuck.subscribe({ id: 's', maxInFlight: 1, maxAttempts: 1, handler: () => new Promise(() => {}) });
  await stuck.publish(ev('5'));
  await assert.rejects(stuck.publishBatch([ev('6'), ev('7'), ev('8')]), ChannelFullError);
  assert.equal(stuck.stats().depth, 1, 'a refused batch leaves nothing behind');
  await stuck.publishBatch([ev('6'), ev('7')]);
  assert.equal(stuck.stats().depth, 3);
  await ch.close();
});

test('unsubscribe releases what only that subscription held', async () => {
  const ch = new MemoryChannel({ capacity: 10 });
  await ch.subscribe({ id: 'stuck', maxInFlight: 1, maxAttempts: 5, handler: async () => ({ outcome: 'retry', delayMs: 60_000 }) });
  for (let i = 0; i < 5; i++) await ch.publish(ev(String(i)));
  await waitUntil(() => ch.stats().subscriptions.stuck!.inFlight === 0 && ch.stats().depth === 5);
  await ch.unsubscribe('stuck');
  assert.equal(ch.stats().depth, 0);
  await ch.close();
});

test('close stops accepting and drains accepted events before the deadline', async () => {
  const ch = new MemoryChannel();
  const got: string[] = [];
  await ch.subscribe({
    id: 's', maxInFlight: 2, maxAttempts: 1,
    handler: async (e) => { await new Promise((r) => setTimeout(r, 10)); got.push(e.attributes.id!); return { outcome: 'done' }; },
  });
  for (let i = 0; i < 10; i++) await ch.publish(ev(String(i)));
  const closing = ch.close({ deadline: Date.now() + 5000 });
  await assert.rejects(ch.publish(ev('late')), UnavailableError);
  await closing;
  assert.equal(got.length, 10);
});

test('re-subscribing with the same id keeps the backlog and uses the new handler', async () => {
  const ch = new MemoryChannel();
  const first: string[] = [];
  const second: string[] = [];
  await ch.subscribe({ id: 's', maxInFlight: 1, maxAttempts: 2, handler: async (e) => (first.push(e.attributes.id!), { outcome: 'retry', delayMs: 30 }) });
  await ch.publish(ev('a'));
  await waitUntil(() => first.length === 1);
  await ch.subscribe({ id: 's', maxInFlight: 1, maxAttempts: 2, handler: async (e) => (second.push(e.attributes.id!), { outcome: 'done' }) });
  await waitUntil(() => second.length === 1);
  assert.deepEqual(second, ['a']);
  await ch.close();
});

const big = (id: string, bytes: number): SluiceEvent => ({ attributes: { specversion: '1.0', id, source: '/t', type: 't' }, data: Buffer.alloc(bytes, 1) });
const never: DeliveryHandler = () => new Promise(() => {});

test('a batch or an event larger than the channel could ever hold answers 413, not a 429 retried forever', async () => {
  const ch = new MemoryChannel({ capacity: 3, capacityBytes: 64 * 1024 });
  await ch.subscribe({ id: 's', maxInFlight: 1, maxAttempts: 1, handler: async () => ({ outcome: 'done' }) });
  await assert.rejects(ch.publishBatch([ev('1'), ev('2'), ev('3'), ev('4')]), PayloadTooLargeError);
  await assert.rejects(ch.publish(big('x', 65 * 1024)), (err: Error) => err instanceof PayloadTooLargeError && /capacityBytes 65536/.test(err.message));
  assert.equal(ch.stats().depth, 0);
  await ch.close();
});

test('capacityBytes bounds the bytes held: 1 MiB events to a hung subscriber stop at the bound', async () => {
  const ch = new MemoryChannel({ capacity: 10_000, capacityBytes: 8 * 1024 * 1024 });
  await ch.subscribe({ id: 'hung', maxInFlight: 100, maxAttempts: 1, handler: never });
  let accepted = 0;
  let refused = 0;
  for (let i = 0; i < 20; i++) {
    try {
      await ch.publish(big(String(i), 1024 * 1024));
      accepted++;
    } catch (err) {
      assert.ok(err instanceof ChannelFullError);
      refused++;
    }
  }
  const st = ch.stats();
  assert.equal(accepted, 7, 'seven 1 MiB events (plus attribute overhead) fit in 8 MiB');
  assert.equal(refused, 13);
  assert.ok(st.bytes! <= 8 * 1024 * 1024 && st.bytes! === 7 * eventBytes(big('1', 1024 * 1024)), `bytes held: ${st.bytes}`);
  assert.equal(st.capacityBytes, 8 * 1024 * 1024);
  // A hung subscriber may hold at most a quarter of the bounds in flight: the rest can be shed.
  assert.equal(st.subscriptions.hung!.inFlight, 1, 'one large event in flight at most (2 MiB is a quarter of 8 MiB)');
});

test('a stuck subscription sheds its oldest waiting events so a healthy one gets every event; 3x capacity sent', async () => {
  const capacity = 40;
  const ch = new MemoryChannel({ capacity });
  const shed: Array<[string, ShedReason]> = [];
  const healthy: string[] = [];
  await ch.subscribe({ id: 'stuck', maxInFlight: 100, maxAttempts: 1, handler: never, onShed: (e, why) => shed.push([e.attributes.id!, why]) });
  await ch.subscribe({ id: 'healthy', maxInFlight: 4, maxAttempts: 1, handler: async (e) => (healthy.push(e.attributes.id!), { outcome: 'done' }) });
  for (let i = 0; i < capacity * 3; i++) {
    await ch.publish(ev(String(i)));
    // The healthy subscriber keeps up (it answers at once); give it a turn.
    await new Promise((r) => setImmediate(r));
  }
  await waitUntil(() => healthy.length === capacity * 3);
  const st = ch.stats();
  assert.ok(st.depth <= capacity);
  assert.equal(st.subscriptions.stuck!.inFlight, capacity / 4, 'a stuck subscription holds at most a quarter of the channel in flight');
  assert.equal(shed.length, capacity * 3 - st.subscriptions.stuck!.backlog, 'every event the stuck one gave up was reported');
  assert.ok(shed.every(([, why]) => why === 'overflow'));
  // The oldest waiting ones go first: the in-flight ones (0..9) are never shed.
  assert.equal(shed[0]![0], String(capacity / 4));
});

test('when every subscription is behind, publish answers 429 and sheds nothing', async () => {
  const ch = new MemoryChannel({ capacity: 8 });
  const shed: string[] = [];
  for (const id of ['a', 'b']) await ch.subscribe({ id, maxInFlight: 1, maxAttempts: 1, handler: never, onShed: (e) => shed.push(e.attributes.id!) });
  for (let i = 0; i < 8; i++) await ch.publish(ev(String(i)));
  await assert.rejects(ch.publish(ev('x')), ChannelFullError);
  assert.deepEqual(shed, []);
});

test('a subscription with a pre-filter only queues what it accepts', async () => {
  const ch = new MemoryChannel({ capacity: 5 });
  await ch.subscribe({ id: 'picky', maxInFlight: 1, maxAttempts: 1, handler: never, accepts: (e) => e.attributes.id === 'keep' });
  for (let i = 0; i < 20; i++) await ch.publish(ev('skip'));
  await ch.publish(ev('keep'));
  assert.equal(ch.stats().depth, 1);
  assert.equal(ch.stats().subscriptions.picky!.backlog, 1);
});

test('the shared process budget bounds all channels together, with a message naming --max-buffered-bytes', async () => {
  const one = eventBytes(big('0', 1000));
  const budget = new BufferBudget(one * 3);
  const a = new MemoryChannel({ budget });
  const b = new MemoryChannel({ budget });
  await a.subscribe({ id: 's', maxInFlight: 1, maxAttempts: 1, handler: never });
  await b.subscribe({ id: 's', maxInFlight: 1, maxAttempts: 1, handler: never });
  await a.publish(big('1', 1000));
  await a.publish(big('2', 1000));
  await b.publish(big('3', 1000));
  await assert.rejects(b.publish(big('4', 1000)), (err: Error) => err instanceof ChannelFullError && /--max-buffered-bytes/.test(err.message));
  assert.equal(budget.usedBytes, one * 3);
  // Event 1 is in flight (released when its attempt returns); event 2 only waited.
  await a.unsubscribe('s');
  assert.equal(budget.usedBytes, one * 2, 'released events give their bytes back');
  await b.publish(big('5', 1000));
});

test('events still held at the close deadline are reported as shutdown losses, in-flight ones when they return', async () => {
  const ch = new MemoryChannel();
  const shed: Array<[string, ShedReason]> = [];
  let giveBack!: () => void;
  const gate = new Promise<void>((r) => (giveBack = r));
  await ch.subscribe({
    id: 's', maxInFlight: 1, maxAttempts: 5,
    // Like the dispatcher at close(): an aborted attempt goes back to the channel.
    handler: async () => (await gate, { outcome: 'retry', delayMs: 0 }),
    onShed: (e, why) => shed.push([e.attributes.id!, why]),
  });
  for (let i = 0; i < 5; i++) await ch.publish(ev(String(i)));
  await ch.close({ deadline: Date.now() + 50 });
  assert.deepEqual(shed, [['1', 'shutdown'], ['2', 'shutdown'], ['3', 'shutdown'], ['4', 'shutdown']]);
  giveBack();
  await waitUntil(() => shed.length === 5);
  assert.deepEqual(shed[4], ['0', 'shutdown']);
  assert.equal(ch.stats().depth, 0);
});

/** Subscribes `id` with a handler that finishes each attempt only when the test calls the function it queued. */
async function heldSubscription(ch: MemoryChannel, id: string, maxInFlight: number): Promise<Array<() => void>> {
  const finish: Array<() => void> = [];
  const handler: DeliveryHandler = () => new Promise((resolve) => finish.push(() => resolve({ outcome: 'done' })));
  await ch.subscribe({ id, maxInFlight, maxAttempts: 1, handler });
  return finish;
}

/** One event delivered to every held subscription: each then counts as making progress, which pacing follows. */
async function warm(ch: MemoryChannel, ...held: Array<Array<() => void>>): Promise<void> {
  await ch.publish(ev('warm'));
  for (const finish of held) finish.shift()!();
  await waitUntil(() => ch.stats().depth === 0);
}

test('pacing in a small channel: a producer that waits for each answer never fills it while the subscriber keeps up', async () => {
  // capacity 20: a subscription may have 5 in flight; with 16 more waiting before pacing
  // began, a one-at-a-time producer outran a slower subscriber into a 429.
  const ch = new MemoryChannel({ capacity: 20 });
  const pending = await heldSubscription(ch, 'slow', 100);
  await warm(ch, pending);
  // The subscriber finishes one attempt every 5 ms; the producer sends as soon as it is answered.
  const finisher = setInterval(() => pending.shift()?.(), 5);
  try {
    for (let i = 0; i < 60; i++) await ch.publish(ev(`p${i}`));
    assert.ok(ch.stats().depth <= 10, `held ${ch.stats().depth}`);
  } finally {
    clearInterval(finisher);
    for (const p of pending.splice(0)) p();
    await ch.close({ deadline: Date.now() + 1000 });
  }
});

test('pacing with several subscriptions: one answer per event delivered, not one per attempt of each subscription', async () => {
  const ch = new MemoryChannel({ capacity: 10_000 });
  const a = await heldSubscription(ch, 'a', 2);
  const b = await heldSubscription(ch, 'b', 2);
  await warm(ch, a, b);
  // Twenty connections, each sending its next event when the last is answered.
  let answered = 0;
  let stop = false;
  const producer = Promise.all(
    Array.from({ length: 20 }, async (_, c) => {
      for (let i = 0; i < 100 && !stop; i++) {
        await ch.publish(ev(`f${c}-${i}`));
        answered++;
      }
    }),
  );
  try {
    await new Promise((r) => setTimeout(r, 100));
    const before = answered;
    // 10 events delivered to both subscriptions: 20 attempts.
    for (let i = 0; i < 10; i++) {
      a.shift()!();
      b.shift()!();
      await new Promise((r) => setTimeout(r, 10));
    }
    const released = answered - before;
    assert.ok(released >= 9 && released <= 11, `10 events delivered to both released ${released} answers`);
  } finally {
    stop = true;
    const drain = setInterval(() => {
      a.shift()?.();
      b.shift()?.();
    }, 1);
    await producer;
    await ch.close({ deadline: Date.now() + 2000 });
    clearInterval(drain);
  }
});

test('pacing: with a subscriber that keeps up slower than the producer, answers wait for deliveries; a stuck one holds nobody', async () => {
  const ch = new MemoryChannel({ capacity: 1000 });
  const pending = await heldSubscription(ch, 'slow', 2);
  await warm(ch, pending);
  // 2 in flight, then up to the lead waiting: all answered at once.
  let answered = 0;
  const first = Array.from({ length: 18 }, (_, i) => ch.publish(ev(`a${i}`)).then(() => answered++));
  await Promise.all(first);
  assert.equal(answered, 18);
  // Past the lead: the answer waits until a delivery finishes (the event is stored already).
  let late = false;
  const held = ch.publish(ev('held')).then(() => (late = true));
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(late, false, 'answer held while the subscriber is behind');
  assert.equal(ch.stats().depth, 19, 'the held event is stored');
  pending.shift()!();
  await held;
  assert.equal(late, true, 'answered once a delivery finished');

  // A stuck subscriber (nothing finished for longer than the pacing wait) holds nobody back.
  const stuck = new MemoryChannel({ capacity: 1000 });
  await stuck.subscribe({ id: 'stuck', maxInFlight: 1, maxAttempts: 1, handler: () => new Promise(() => {}) });
  const t0 = performance.now();
  for (let i = 0; i < 100; i++) await stuck.publish(ev(`s${i}`));
  assert.ok(performance.now() - t0 < 500, 'answers are not held for a subscriber that never finishes');
  for (const p of pending.splice(0)) p();
  await ch.close({ deadline: Date.now() + 1000 });
  await stuck.close();
});

test('pacing: held answers go out after the pacing wait (1 s) even when no delivery finishes, oldest first', async () => {
  const ch = new MemoryChannel({ capacity: 1000 });
  const pending = await heldSubscription(ch, 'slow', 2);
  await warm(ch, pending);
  await Promise.all(Array.from({ length: 18 }, (_, i) => ch.publish(ev(`a${i}`))));
  const order: string[] = [];
  const t0 = performance.now();
  const held = ['h1', 'h2', 'h3'].map((id) => ch.publish(ev(id)).then(() => order.push(id)));
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(order, [], 'held while the subscriber makes no progress');
  await Promise.all(held);
  const waited = performance.now() - t0;
  assert.deepEqual(order, ['h1', 'h2', 'h3']);
  assert.ok(waited >= 900 && waited < 3000, `answered after the pacing wait, not before and not much after (${Math.round(waited)} ms)`);
  assert.equal(ch.stats().depth, 21, 'every held event is stored');
  for (const p of pending.splice(0)) p();
  await ch.close({ deadline: Date.now() + 1000 });
});

test('a delivered event is not kept reachable by its subscription queue', async () => {
  // Events still referenced after delivery outlive young-generation collections and are
  // copied and promoted under load; the channel must let go of them once finished.
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const ch = new MemoryChannel();
  let delivered = 0;
  await ch.subscribe({ id: 's', maxInFlight: 4, maxAttempts: 1, handler: async () => (delivered++, { outcome: 'done' }) });
  const refs: WeakRef<SluiceEvent>[] = [];
  // In a function of its own, so that no binding of this test's frame holds the last event.
  const publishTracked = (i: number) => {
    const e = ev(`r${i}`);
    refs.push(new WeakRef(e));
    return ch.publish(e);
  };
  for (let i = 0; i < 200; i++) await publishTracked(i);
  await waitUntil(() => delivered === 200);
  assert.equal(ch.stats().depth, 0);
  // WeakRef targets stay alive until the current job ends: collect from a later turn.
  await new Promise((r) => setImmediate(r));
  gc();
  const alive = refs.filter((r) => r.deref() !== undefined).length;
  assert.equal(alive, 0, `${alive} of 200 delivered events still reachable from the channel: ${refs.map((r, i) => (r.deref() ? i : -1)).filter((i) => i >= 0).slice(0, 12).join(",")}`);
  await ch.close();
});
