import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryChannel } from '../../src/channels/memory/index.js';
import type { DeliveryHandler } from '../../src/channels/channel.js';
import type { SluiceEvent } from '../../src/events/types.js';
import { ChannelFullError, UnavailableError } from '../../src/errors.js';
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
  await assert.rejects(ch.publishBatch([ev('5'), ev('6'), ev('7'), ev('8')]), ChannelFullError);
  assert.equal(ch.stats().depth, 0, 'a refused batch leaves nothing behind');
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
