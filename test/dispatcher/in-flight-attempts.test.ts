import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { DeliveryTimeoutError } from '../../src/errors.js';
import { InFlightAttempts } from '../../src/dispatcher/in-flight-attempts.js';

const timeouts = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

test('an attempt still in flight at its deadline is aborted with a DeliveryTimeoutError naming its URL and timeout', async () => {
  const attempts = new InFlightAttempts();
  const a = attempts.start('http://sub.example/hook', 30);
  const told: unknown[] = [];
  a.listener = { abortWith: (reason) => told.push(reason) };
  assert.equal(a.aborted, false);
  await sleep(90);
  assert.equal(a.aborted, true);
  assert.ok(a.reason instanceof DeliveryTimeoutError);
  assert.match((a.reason as Error).message, /http:\/\/sub\.example\/hook within 30 ms/);
  assert.deepEqual(told, [a.reason]);
  assert.equal(attempts.size, 0);
  a.finish();
  assert.equal(attempts.size, 0);
});

test('attempts with different timeouts each time out at their own deadline, not before', async () => {
  const attempts = new InFlightAttempts();
  const long = attempts.start('http://a/', 400);
  const short = attempts.start('http://b/', 30);
  await sleep(120);
  assert.equal(short.aborted, true, 'the short timeout passed');
  assert.equal(long.aborted, false, 'the long one has not');
  await sleep(400);
  assert.equal(long.aborted, true);
  assert.equal(attempts.size, 0);
});

test('a finished attempt is never aborted, and the timer armed for it still times out the next one', async () => {
  const attempts = new InFlightAttempts();
  const first = attempts.start('http://a/', 60);
  await sleep(30);
  const second = attempts.start('http://a/', 60);
  first.finish();
  assert.equal(attempts.size, 1);
  // The timer was armed for `first`: it fires at ~60 ms with nothing due, and must re-arm for `second` (~90 ms).
  await sleep(45);
  assert.equal(second.aborted, false, 'not before its own deadline');
  await sleep(90);
  assert.equal(first.aborted, false);
  assert.equal(second.aborted, true);
});

test('abortAll aborts every attempt in flight with its reason; attempts started after it are aborted at once', () => {
  const attempts = new InFlightAttempts();
  const inFlight = [attempts.start('http://a/', 60_000), attempts.start('http://b/', 5_000), attempts.start('http://a/', 60_000)];
  inFlight[1]!.finish();
  const reason = new Error('closed');
  attempts.abortAll(reason);
  assert.deepEqual(inFlight.map((a) => a.aborted), [true, false, true]);
  assert.equal(inFlight[0]!.reason, reason);
  assert.equal(attempts.size, 0);
  const late = attempts.start('http://a/', 60_000);
  assert.equal(late.aborted, true);
  assert.equal(late.reason, reason);
  late.finish();
  assert.equal(attempts.aborted, true);
});

test('no timer is left once nothing is in flight (an idle dispatcher keeps no process up)', () => {
  const before = timeouts();
  const attempts = new InFlightAttempts();
  const many = Array.from({ length: 50 }, (_, i) => attempts.start('http://a/', i % 2 ? 60_000 : 30_000));
  assert.equal(timeouts(), before + 1, 'one timer for all of them');
  // Finished out of order, as responses come back.
  for (const i of [...many.keys()].sort((x, y) => ((x * 7919) % 50) - ((y * 7919) % 50))) many[i]!.finish();
  assert.equal(attempts.size, 0);
  assert.equal(timeouts(), before);
  assert.ok(many.every((a) => !a.aborted));
});

test('an attempt that finishes twice, or after abortAll, leaves the count right', () => {
  const attempts = new InFlightAttempts();
  const a = attempts.start('http://a/', 60_000);
  const b = attempts.start('http://a/', 60_000);
  a.finish();
  a.finish();
  assert.equal(attempts.size, 1);
  b.finish();
  assert.equal(attempts.size, 0);
});

test('a timeout longer than node\'s longest timer (P30D) neither times out early nor spins the timer', async () => {
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(w.name);
  process.on('warning', onWarning);
  try {
    const attempts = new InFlightAttempts();
    const a = attempts.start('http://a/', 30 * 24 * 3600 * 1000);
    await sleep(30);
    assert.equal(a.aborted, false);
    // Node cuts a longer delay to 1 ms and warns (TimeoutOverflowWarning): the timer would fire every millisecond.
    assert.deepEqual(warnings, []);
    a.finish();
    assert.equal(attempts.size, 0);
  } finally {
    process.off('warning', onWarning);
  }
});
