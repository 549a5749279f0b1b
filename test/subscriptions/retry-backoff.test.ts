import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { nextBackoffMs } from '../../src/subscriptions/retry-backoff.js';

describe('nextBackoffMs', () => {
  test('doubles from initialMs per attempt and stops at maxMs', () => {
    const waits = [0, 1, 2, 3, 4, 5, 6].map((a) => nextBackoffMs(a, { initialMs: 250, maxMs: 5000 }));
    assert.deepEqual(waits, [250, 500, 1000, 2000, 4000, 5000, 5000]);
  });

  test('has no cap without maxMs, and stays finite for huge attempts', () => {
    assert.equal(nextBackoffMs(3, { initialMs: 500 }), 4000);
    assert.equal(nextBackoffMs(10_000, { initialMs: 1, maxMs: 60_000 }), 60_000);
    assert.equal(nextBackoffMs(10_000, { initialMs: 0, maxMs: 60_000 }), 0);
    assert.equal(nextBackoffMs(-1, { initialMs: 100 }), 100);
  });

  test('full jitter spreads the wait over [0, d)', () => {
    const b = { initialMs: 1000, maxMs: 4000, jitter: 'full' as const };
    assert.equal(nextBackoffMs(1, { ...b, random: () => 0 }), 0);
    assert.equal(nextBackoffMs(1, { ...b, random: () => 0.5 }), 1000);
    assert.equal(nextBackoffMs(5, { ...b, random: () => 0.999 }), 3996);
  });

  test('equal jitter keeps at least half the wait', () => {
    const b = { initialMs: 1000, maxMs: 4000, jitter: 'equal' as const };
    assert.equal(nextBackoffMs(1, { ...b, random: () => 0 }), 1000);
    assert.equal(nextBackoffMs(1, { ...b, random: () => 0.5 }), 1500);
    assert.equal(nextBackoffMs(5, { ...b, random: () => 0.999 }), 3998);
  });
});
