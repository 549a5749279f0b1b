import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DeliveryLog, LOGGED_TEXT_MAX } from '../../src/inspector/delivery-log.js';
import { InvalidOptionError } from '../../src/errors.js';
import type { DeliveryOutcome, DeliveryTarget, OutcomeInfo } from '../../src/dispatcher/types.js';

const target = (subscription: string, resource = 'orders', namespace = 'default'): DeliveryTarget =>
  ({ namespace, resource, subscription, subscriberUri: 'http://127.0.0.1:1/', policy: { retry: 0 } }) as unknown as DeliveryTarget;

function info(t: DeliveryTarget, id: string, outcome: DeliveryOutcome, attempts: number, statusCode?: number): OutcomeInfo {
  return { target: t, event: { attributes: { specversion: '1.0', id, source: '/s', type: 't' } }, outcome, attempts, statusCode } as OutcomeInfo;
}

test('the delivery log keeps the newest outcomes up to its capacity, with null for no status or duration', () => {
  const log = new DeliveryLog({ capacity: 3 });
  const a = target('a');
  const b = target('b');
  log.record(info(a, 'e1', 'delivered', 1, 202), 1.234, Date.UTC(2026, 0, 1, 0, 0, 1));
  log.record(info(b, 'e2', 'retrying', 1), undefined, Date.UTC(2026, 0, 1, 0, 0, 2));
  assert.deepEqual(log.deliveries({ limit: 10 }), [
    { time: '2026-01-01T00:00:02.000Z', namespace: 'default', resource: 'orders', subscription: 'b', eventId: 'e2', eventType: 't', eventSource: '/s', outcome: 'retrying', attempts: 1, statusCode: null, durationMs: null },
    { time: '2026-01-01T00:00:01.000Z', namespace: 'default', resource: 'orders', subscription: 'a', eventId: 'e1', eventType: 't', eventSource: '/s', outcome: 'delivered', attempts: 1, statusCode: 202, durationMs: 1.23 },
  ]);
  // Past the capacity the oldest go first, and the ring wraps around more than once.
  for (let i = 3; i <= 8; i++) log.record(info(i % 2 ? a : b, `e${i}`, 'dead-lettered', i, 503), i, Date.UTC(2026, 0, 1, 0, 0, i));
  assert.deepEqual(log.deliveries({ limit: 10 }).map((d) => d.eventId), ['e8', 'e7', 'e6']);
  assert.deepEqual(log.deliveries({ limit: 2 }).map((d) => d.eventId), ['e8', 'e7']);
  assert.deepEqual(log.deliveries({ limit: 10, subscription: 'a' }).map((d) => [d.eventId, d.attempts, d.statusCode, d.durationMs]), [['e7', 7, 503, 7]]);
  assert.deepEqual(log.deliveries({ limit: 10, resource: 'other' }), []);
});

test('the delivery log refuses a capacity that is not a positive integer', () => {
  for (const capacity of [0, -1, 1.5, Number.NaN]) assert.throws(() => new DeliveryLog({ capacity }), InvalidOptionError);
});

test('the delivery log keeps at most LOGGED_TEXT_MAX characters of an id, type or source, marked as cut', () => {
  const log = new DeliveryLog({ capacity: 2 });
  const long = 'x'.repeat(100_000);
  const event = { attributes: { specversion: '1.0', id: `i${long}`, source: `s${long}`, type: `t${long}` } };
  log.record({ target: target('a'), event, outcome: 'delivered', attempts: 1, statusCode: 202 } as OutcomeInfo, 1, 0);
  const [d] = log.deliveries({ limit: 1 });
  for (const [v, first] of [[d!.eventId, 'i'], [d!.eventSource, 's'], [d!.eventType, 't']] as const) {
    assert.equal(v.length, LOGGED_TEXT_MAX + 1);
    assert.equal(v, `${first}${'x'.repeat(LOGGED_TEXT_MAX - 1)}\u2026`);
  }
  const short = 'y'.repeat(LOGGED_TEXT_MAX);
  log.record(info(target('a'), short, 'delivered', 1, 202), 1, 1);
  assert.equal(log.deliveries({ limit: 1 })[0]!.eventId, short, 'a value at the limit is kept whole');
});
