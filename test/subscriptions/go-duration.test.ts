import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseGoDuration, parseShortDuration } from '../../src/subscriptions/duration.js';

// Go's time.ParseDuration forms, as Kubernetes objects of Go controllers (eventing-natss) carry them.

test('parseGoDuration reads every unit and combination Go accepts, in ms', () => {
  const cases: Array<[string, number]> = [
    ['0', 0],
    ['24h', 86_400_000],
    ['1h30m', 5_400_000],
    ['90s', 90_000],
    ['250ms', 250],
    ['1.5h', 5_400_000],
    ['.5s', 500],
    ['5.s', 5000],
    ['1h2m3s4ms', 3_723_004],
    ['0s', 0],
    ['1500us', 1.5],
    ['1500\u00b5s', 1.5],
    ['1500\u03bcs', 1.5],
    ['2000000ns', 2],
  ];
  for (const [text, ms] of cases) assert.equal(parseGoDuration(text), ms, text);
});

test('parseGoDuration refuses what is not a Go duration, and signs (no Sluice setting is negative)', () => {
  for (const text of ['', '24', '24x', 'h', '1d', '1 h', '1h 30m', '-1h', '+1h', 'PT1H', '.s', '1.2.3s', '00']) {
    assert.equal(parseGoDuration(text), undefined, JSON.stringify(text));
  }
});

test('parseShortDuration (flags, annotations) keeps taking bare seconds and now the small units too', () => {
  assert.equal(parseShortDuration('60'), 60_000);
  assert.equal(parseShortDuration('1m30s'), 90_000);
  assert.equal(parseShortDuration('1500us'), 2);
  assert.throws(() => parseShortDuration('soon'), /is not a duration/);
});
