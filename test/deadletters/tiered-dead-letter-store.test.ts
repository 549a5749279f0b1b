// Which store a dead letter goes to: its Subscription's channel kind picks a backend store;
// in-memory channels and Brokers, an unavailable backend or a failed write keep it in memory.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { silentLogger } from '../../src/observability/logger.js';
import { MemoryDeadLetterStore, TieredDeadLetterStore, type BackendDeadLetterStore, type DeadLetterEntry, type DeadLetterOwner, type RedriveMark } from '../../src/deadletters/index.js';
import { matchesFilter, matchesOwner } from '../../src/deadletters/dead-letter-store.js';
import type { DeliveryTarget, OutcomeInfo } from '../../src/dispatcher/types.js';

class FakeBackend implements BackendDeadLetterStore {
  readonly channelKind = 'NatsJetStreamChannel';
  readonly prefix = 'fake:';
  up = true;
  fail = false;
  entries: DeadLetterEntry[] = [];
  marks = new Map<string, RedriveMark>();
  available(): boolean {
    return this.up;
  }
  async add(owner: DeadLetterOwner, event: DeadLetterEntry['event'], meta: { attempts: number; statusCode: number | undefined; deadLetterUri: string | undefined }): Promise<void> {
    if (this.fail) throw new Error('backend down');
    this.entries.push({ entryId: `fake:${this.entries.length + 1}`, owner, at: Date.now(), ...meta, event, redrivable: true });
  }
  async list(owner?: Partial<DeadLetterOwner>, filter?: Parameters<BackendDeadLetterStore['list']>[1]): Promise<DeadLetterEntry[]> {
    return this.entries.map((e) => ({ ...e, redriven: this.marks.get(e.entryId) })).filter((e) => matchesOwner(e.owner, owner) && matchesFilter(e, filter)).reverse();
  }
  async get(id: string): Promise<DeadLetterEntry | undefined> {
    return (await this.list()).find((e) => e.entryId === id);
  }
  async markRedriven(id: string, mark: RedriveMark, expect?: { current: RedriveMark | undefined }): Promise<boolean> {
    if (expect && this.marks.get(id) !== expect.current) return false;
    this.marks.set(id, mark);
    return true;
  }
}

const target = (resource: string, subscription: string): DeliveryTarget => ({ namespace: 'default', resource, subscription, subscriberUri: 'http://sub/', deadLetterUri: 'http://dls/' }) as unknown as DeliveryTarget;
const outcome = (t: DeliveryTarget, id: string): OutcomeInfo =>
  ({ target: t, event: { attributes: { specversion: '1.0', id, source: '/s', type: 't' } }, outcome: 'dead-lettered', attempts: 1, statusCode: 500 }) as unknown as OutcomeInfo;

function tiered(backend: FakeBackend) {
  const memory = new MemoryDeadLetterStore();
  const store = new TieredDeadLetterStore({
    memory,
    backends: [backend],
    // Triggers are looked up by their Broker: `nats-broker` is backed by NATS, any other in memory.
    channelKindOf: (_ns, name, owner) =>
      owner === 'Trigger' ? (name === 'nats-broker' ? 'NatsJetStreamChannel' : 'InMemoryChannel') : name === 'durable' ? 'NatsJetStreamChannel' : name === 'mem' ? 'InMemoryChannel' : undefined,
    kindOf: (t) => (t.subscription.startsWith('trigger') ? 'Trigger' : 'Subscription'),
    logger: silentLogger(),
  });
  return { memory, store };
}

describe('TieredDeadLetterStore', () => {
  test('routes by channel kind; lists merge newest first; ids route marks', async () => {
    const backend = new FakeBackend();
    const { memory, store } = tiered(backend);
    store.onOutcome(outcome(target('durable', 'a'), 'd1'));
    store.onOutcome(outcome(target('mem', 'b'), 'm1'));
    store.onOutcome(outcome(target('durable', 'trigger-x'), 't1'));
    store.onOutcome(outcome(target('nats-broker', 'trigger-y'), 't2'));
    await store.flush();
    assert.deepEqual(backend.entries.map((e) => e.event.attributes.id), ['d1', 't2'], "a Trigger on a NATS-backed Broker: in the broker's backend");
    assert.deepEqual(memory.list().map((e) => e.event.attributes.id).sort(), ['m1', 't1'], 'a Trigger on an in-memory Broker: in memory');
    const all = await store.list();
    assert.equal(all.length, 4);
    assert.ok(all.every((e, i) => i === 0 || all[i - 1]!.at >= e.at));
    assert.deepEqual((await store.list({ name: 'a' })).map((e) => e.entryId), ['fake:1']);
    assert.equal(await store.markRedriven('fake:1', { at: 'now', outcome: 'sending', redriveCount: 1 }, { current: undefined }), true);
    assert.equal(await store.markRedriven('fake:1', { at: 'now', outcome: 'sending', redriveCount: 1 }, { current: undefined }), false);
    assert.equal((await store.get('fake:1'))?.redriven?.outcome, 'sending');
    const memId = memory.list()[0]!.entryId;
    assert.equal(await store.markRedriven(memId, { at: 'now', outcome: 'sending', redriveCount: 1 }, { current: undefined }), true);
    assert.equal(memory.get(memId)?.redriven?.outcome, 'sending');
  });

  test('an unavailable backend or a failed write keeps the dead letter in memory; listing skips a backend that is down', async () => {
    const backend = new FakeBackend();
    const { memory, store } = tiered(backend);
    backend.up = false;
    store.onOutcome(outcome(target('durable', 'a'), 'd1'));
    backend.up = true;
    backend.fail = true;
    store.onOutcome(outcome(target('durable', 'a'), 'd2'));
    await store.flush();
    assert.deepEqual(memory.list().map((e) => e.event.attributes.id), ['d2', 'd1']);
    backend.fail = false;
    store.onOutcome(outcome(target('durable', 'a'), 'd3'));
    await store.flush();
    backend.up = false;
    assert.deepEqual((await store.list()).map((e) => e.event.attributes.id).sort(), ['d1', 'd2']);
    backend.up = true;
    assert.deepEqual((await store.list()).map((e) => e.event.attributes.id).sort(), ['d1', 'd2', 'd3']);
  });
});
