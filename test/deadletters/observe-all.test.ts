import { test } from 'node:test';
import assert from 'node:assert/strict';
import { observeAll } from '../../src/deadletters/index.js';
import type { AttemptInfo, DeliveryObserver, OutcomeInfo } from '../../src/dispatcher/types.js';

const outcome = { outcome: 'delivered' } as unknown as OutcomeInfo;
const attempt = { attempt: 1 } as unknown as AttemptInfo;

test('observeAll tells every observer even when one throws, then rethrows the first error', () => {
  const heard: string[] = [];
  const first: DeliveryObserver = {
    onOutcome() {
      heard.push('first');
      throw new Error('first failed');
    },
  };
  const second: DeliveryObserver = {
    seen: 0,
    onOutcome(this: { seen: number }) {
      // Called as a method: `this` is the observer.
      this.seen++;
      heard.push('second');
    },
  } as DeliveryObserver & { seen: number };
  const all = observeAll(first, second);
  assert.throws(() => all.onOutcome!(outcome), /first failed/);
  assert.deepEqual(heard, ['first', 'second']);
  assert.equal((second as unknown as { seen: number }).seen, 1);
  assert.equal(all.onAttempt, undefined, 'no attempt hook when no observer has one');
});

test('observeAll has onAttempt when one observer has it, and calls only those', () => {
  const attempts: number[] = [];
  const all = observeAll({ onOutcome() {} }, { onAttempt: (i) => void attempts.push(i.attempt) });
  all.onAttempt!(attempt);
  all.onOutcome!(outcome);
  assert.deepEqual(attempts, [1]);
});
