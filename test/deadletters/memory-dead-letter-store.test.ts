import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryDeadLetterStore, redrivenEvent, parseSubscriptionRef, type DeadLetterOwner } from '../../src/deadletters/index.js';
import { eventBytes } from '../../src/events/event-bytes.js';

const owner: DeadLetterOwner = { kind: 'Subscription', namespace: 'default', name: 'sub', resource: 'orders' };
const meta = { attempts: 1, statusCode: 500, deadLetterUri: 'http://dls/' };
const ev = (id: string, data?: string) => ({ attributes: { specversion: '1.0', id, source: '/s', type: 't', knativeerrorcode: '500' }, ...(data ? { data: Buffer.from(data) } : {}) });

describe('MemoryDeadLetterStore', () => {
  test('bounded by count: the oldest make room; newest first', () => {
    const store = new MemoryDeadLetterStore({ capacity: 3 });
    for (let i = 1; i <= 5; i++) store.add(owner, ev(`e${i}`), meta);
    assert.deepEqual(store.list().map((e) => e.event.attributes.id), ['e5', 'e4', 'e3']);
    assert.equal(store.get('dl-1'), undefined);
    assert.equal(store.get('dl-5')!.event.attributes.id, 'e5');
  });

  test('bounded by bytes; an event larger than maxEventBytes is kept truncated and not redrivable', () => {
    // Room for the first two entries together, as eventBytes counts them.
    const store = new MemoryDeadLetterStore({ maxBytes: 2 * eventBytes(ev('a', '12345')), maxEventBytes: 8 });
    store.add(owner, ev('a', '12345'), meta);
    store.add(owner, ev('b', '12345'), meta);
    store.add(owner, ev('c', '123'), meta);
    assert.deepEqual(store.list().map((e) => e.event.attributes.id), ['c', 'b'], 'a made room');
    const big = store.add(owner, ev('big', 'x'.repeat(9)), meta);
    assert.equal(big.redrivable, false);
  });

  test('attributes count toward the byte bound: dead letters with huge attributes cannot outgrow it', () => {
    const store = new MemoryDeadLetterStore({ maxBytes: 1024 * 1024 });
    const huge = (id: string) => ({ attributes: { ...ev(id).attributes, subject: 'x'.repeat(200_000) } });
    for (let i = 1; i <= 10; i++) store.add(owner, huge(`h${i}`), meta);
    // 400 KB each (UTF-16): two fit in 1 MiB, and the newest are the ones kept.
    assert.deepEqual(store.list().map((e) => e.event.attributes.id), ['h10', 'h9']);
  });

  test('filters by owner and attributes; markRedriven claims once', () => {
    const store = new MemoryDeadLetterStore();
    const a = store.add(owner, ev('a'), meta);
    store.add({ ...owner, kind: 'Trigger', resource: 'shop' }, ev('b'), meta);
    assert.deepEqual(store.list({ kind: 'Trigger' }).map((e) => e.event.attributes.id), ['b']);
    assert.deepEqual(store.list(owner, { id: 'a', code: '500' }).map((e) => e.entryId), [a.entryId]);
    assert.equal(store.list(owner, { code: '404' }).length, 0);
    const mark = { at: 'now', outcome: 'sending' as const, redriveCount: 1 };
    assert.equal(store.markRedriven(a.entryId, mark, { current: undefined }), true);
    assert.equal(store.markRedriven(a.entryId, mark, { current: undefined }), false, 'a second claim loses');
    assert.equal(store.list(owner, { pending: true }).length, 0);
    assert.equal(store.list(owner, { pending: false }).length, 1);
  });

  test('redrivenEvent strips knativeerror*, keeps id and data, counts up', () => {
    const { event, count } = redrivenEvent({ attributes: { ...ev('x').attributes, knativeerrordest: 'u', knativeerrordata: 'ZA==', sluiceredrivecount: '2' }, data: Buffer.from('d') });
    assert.equal(count, 3);
    assert.deepEqual(event.attributes, { specversion: '1.0', id: 'x', source: '/s', type: 't', sluiceredrivecount: '3' });
    assert.equal(event.data!.toString(), 'd');
  });

  test('parseSubscriptionRef', () => {
    assert.deepEqual(parseSubscriptionRef('subscription/ns/a'), { kind: 'Subscription', namespace: 'ns', name: 'a' });
    assert.deepEqual(parseSubscriptionRef('Triggers/a'), { kind: 'Trigger', namespace: 'default', name: 'a' });
    for (const bad of ['a', 'channel/ns/a', 'subscription//a', 'subscription/a/b/c']) assert.throws(() => parseSubscriptionRef(bad), /must be <kind>/);
  });
});
