import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Histogram, Registry } from 'prom-client';
import { TalliedHistogram } from '../../src/observability/tallied-histogram.js';

const buckets = [0.001, 0.01, 0.1, 1];
const labelNames = ['subscription', 'response_code_class'] as const;

test('the exposition is the same as prom-client Histogram for the same observations', async () => {
  const ours = new Registry();
  const theirs = new Registry();
  const t = new TalliedHistogram({ name: 'x_seconds', help: 'h', labelNames, buckets, registers: [ours] });
  const h = new Histogram({ name: 'x_seconds', help: 'h', labelNames, buckets, registers: [theirs] });
  const observations: Array<[string, string, number]> = [
    ['a', '2xx', 0.0005], ['a', '2xx', 0.001], ['a', '2xx', 0.05], ['a', '5xx', 3], ['b', '2xx', 0.2], ['a', '2xx', 0.00999],
  ];
  for (const [subscription, response_code_class, v] of observations) {
    t.labels({ subscription, response_code_class }).observe(v);
    h.labels({ subscription, response_code_class }).observe(v);
  }
  assert.equal(await ours.metrics(), await theirs.metrics());
});

test('a bound child keeps counting into its own series; reset empties them', async () => {
  const r = new Registry();
  const t = new TalliedHistogram({ name: 'y_seconds', help: 'h', labelNames, buckets, registers: [r] });
  const a = t.labels({ subscription: 'a', response_code_class: '2xx' });
  for (let i = 0; i < 5; i++) a.observe(0.02);
  t.labels({ subscription: 'a', response_code_class: '2xx' }).observe(2);
  a.observe(Number.NaN);
  const { values } = await t.get();
  const count = values.find((v) => v.metricName === 'y_seconds_count');
  assert.equal(count?.value, 6);
  assert.equal(values.find((v) => v.metricName === 'y_seconds_bucket' && v.labels.le === 0.1)?.value, 5);
  assert.throws(() => t.labels({ nope: 'x' } as never), /unknown label nope/);
  t.reset();
  assert.equal((await t.get()).values.length, 0);
});
