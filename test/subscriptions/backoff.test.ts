import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MAX_BACKOFF_MS,
  MAX_RETRY_DELAY_MS,
  backoffDelayMs,
  parseHttpDate,
  parseRetryAfter,
  resolveDeliveryPolicy,
  retryDelayMs,
  type DeliveryPolicy,
} from '../../src/subscriptions/index.js';

const policy = (p: Partial<DeliveryPolicy>): DeliveryPolicy => ({
  retry: 5,
  backoffPolicy: 'exponential',
  backoffDelayMs: undefined,
  timeoutMs: undefined,
  retryAfterMaxMs: undefined,
  ...p,
});

describe('backoffDelayMs (Knative documented formula, n = 1 for the first retry)', () => {
  test('linear: delay × n', () => {
    const p = policy({ backoffPolicy: 'linear', backoffDelayMs: 200 });
    assert.deepEqual([1, 2, 3, 10].map((n) => backoffDelayMs(p, n)), [200, 400, 600, 2000]);
  });

  test('exponential: delay × 2^n', () => {
    const p = policy({ backoffPolicy: 'exponential', backoffDelayMs: 200 });
    assert.deepEqual([1, 2, 3, 4, 5].map((n) => backoffDelayMs(p, n)), [400, 800, 1600, 3200, 6400]);
  });

  test('sub-millisecond products are rounded to whole ms', () => {
    assert.equal(backoffDelayMs(policy({ backoffPolicy: 'linear', backoffDelayMs: 0.4 }), 3), 1);
  });

  test('no backoffDelay (or zero) means no wait, whatever the policy', () => {
    assert.equal(backoffDelayMs(policy({ backoffPolicy: 'exponential' }), 3), 0);
    assert.equal(backoffDelayMs(policy({ backoffPolicy: 'linear' }), 3), 0);
    assert.equal(backoffDelayMs(policy({ backoffDelayMs: 0 }), 3), 0);
  });

  test('retry number below 1 gives no wait', () => {
    const p = policy({ backoffDelayMs: 100 });
    assert.equal(backoffDelayMs(p, 0), 0);
    assert.equal(backoffDelayMs(p, -3), 0);
    assert.equal(backoffDelayMs(p, Number.NaN), 0);
  });

  test('capped at one hour (exponential growth would overflow timers)', () => {
    assert.equal(MAX_BACKOFF_MS, 3_600_000);
    const p = policy({ backoffDelayMs: 1000 });
    assert.equal(backoffDelayMs(p, 11), 2_048_000);
    assert.equal(backoffDelayMs(p, 12), 3_600_000);
    assert.equal(backoffDelayMs(p, 5000), 3_600_000);
    assert.equal(backoffDelayMs(policy({ backoffPolicy: 'linear', backoffDelayMs: 1000 }), 4000), 3_600_000);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.UTC(2024, 0, 15, 12, 0, 0);

  test('delta-seconds', () => {
    assert.equal(parseRetryAfter('120', now), 120_000);
    assert.equal(parseRetryAfter(' 0 ', now), 0);
    assert.equal(parseRetryAfter(['3', '9'], now), 3000);
  });

  test('IMF-fixdate, RFC 850 and asctime dates', () => {
    assert.equal(parseRetryAfter('Mon, 15 Jan 2024 12:00:30 GMT', now), 30_000);
    assert.equal(parseRetryAfter('Monday, 15-Jan-24 12:01:00 GMT', now), 60_000);
    assert.equal(parseRetryAfter('Mon Jan 15 12:00:05 2024', now), 5_000);
    assert.equal(parseRetryAfter('Mon Jan  1 00:00:00 2024', now), 0, 'past asctime date with a padded day');
  });

  test('a date in the past is no wait', () => {
    assert.equal(parseRetryAfter('Sun, 06 Nov 1994 08:49:37 GMT', now), 0);
  });

  test('invalid values are undefined', () => {
    for (const v of [undefined, '', 'soon', '-5', '1.5', '10s', '2024-01-15T12:00:30Z', 'Mon, 31 Feb 2024 12:00:00 GMT', 'Mon, 15 Jan 2024 25:00:00 GMT', 'Mon, 15 Jan 2024 12:00:30 PST']) {
      assert.equal(parseRetryAfter(v, now), undefined, String(v));
    }
  });

  test('huge delta-seconds are capped at the largest timer', () => {
    assert.equal(parseRetryAfter('99999999999999999999', now), MAX_RETRY_DELAY_MS);
  });

  test('parseHttpDate: two-digit years more than 50 years ahead are last century', () => {
    assert.equal(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT', now), Date.UTC(1994, 10, 6, 8, 49, 37));
    assert.equal(parseHttpDate('Sunday, 06-Nov-33 08:49:37 GMT', now), Date.UTC(2033, 10, 6, 8, 49, 37));
  });
});

describe('retryDelayMs', () => {
  const now = Date.UTC(2024, 0, 15, 12, 0, 0);
  const p = policy({ backoffPolicy: 'linear', backoffDelayMs: 100, retryAfterMaxMs: 5000 });

  test('Retry-After on 429 and 503 is honoured up to retryAfterMax', () => {
    assert.equal(retryDelayMs(p, 1, { statusCode: 429, retryAfter: '2' }, now), 2000);
    assert.equal(retryDelayMs(p, 1, { statusCode: 503, retryAfter: '2' }, now), 2000);
    assert.equal(retryDelayMs(p, 1, { statusCode: 503, retryAfter: '60' }, now), 5000);
    assert.equal(retryDelayMs(p, 1, { statusCode: 429, retryAfter: 'Mon, 15 Jan 2024 12:00:03 GMT' }, now), 3000);
  });

  test('the backoff wins when it is longer than Retry-After', () => {
    assert.equal(retryDelayMs(p, 30, { statusCode: 429, retryAfter: '1' }, now), 3000);
  });

  test('Retry-After is ignored on other statuses, when invalid, and without retryAfterMax', () => {
    assert.equal(retryDelayMs(p, 2, { statusCode: 500, retryAfter: '4' }, now), 200);
    assert.equal(retryDelayMs(p, 2, { statusCode: 429, retryAfter: 'later' }, now), 200);
    assert.equal(retryDelayMs(p, 2, { statusCode: 429 }, now), 200);
    assert.equal(retryDelayMs(p, 2, undefined, now), 200);
    assert.equal(retryDelayMs({ ...p, retryAfterMaxMs: undefined }, 2, { statusCode: 429, retryAfter: '4' }, now), 200);
  });

  test('retryAfterMax of zero means the backoff alone', () => {
    assert.equal(retryDelayMs({ ...p, retryAfterMaxMs: 0 }, 1, { statusCode: 429, retryAfter: '4' }, now), 100);
  });
});

describe('resolveDeliveryPolicy', () => {
  test('nothing given: no retries, exponential, no wait', () => {
    assert.deepEqual(resolveDeliveryPolicy(undefined), {
      retry: 0,
      backoffPolicy: 'exponential',
      backoffDelayMs: undefined,
      timeoutMs: undefined,
      retryAfterMaxMs: undefined,
    });
    assert.deepEqual(resolveDeliveryPolicy({}), resolveDeliveryPolicy(undefined));
  });

  test('parses every field', () => {
    assert.deepEqual(
      resolveDeliveryPolicy({ retry: 3, backoffPolicy: 'linear', backoffDelay: 'PT0.2S', timeout: 'PT30S', retryAfterMax: 'PT2M' }),
      { retry: 3, backoffPolicy: 'linear', backoffDelayMs: 200, timeoutMs: 30_000, retryAfterMaxMs: 120_000 },
    );
  });

  test("the subscription's delivery wins as a whole over the channel's", () => {
    const channel = { retry: 9, backoffPolicy: 'linear' as const, backoffDelay: 'PT1S', timeout: 'PT5S' };
    assert.deepEqual(resolveDeliveryPolicy({ retry: 2 }, channel), {
      retry: 2,
      backoffPolicy: 'exponential',
      backoffDelayMs: undefined,
      timeoutMs: undefined,
      retryAfterMaxMs: undefined,
    });
    assert.equal(resolveDeliveryPolicy(undefined, channel).retry, 9);
    assert.equal(resolveDeliveryPolicy(undefined, channel).backoffDelayMs, 1000);
  });

  test('bad values are named', () => {
    assert.throws(() => resolveDeliveryPolicy({ retry: -1 }), { code: 'SLUICE_ERR_INVALID_OPTION', message: /delivery\.retry/ });
    assert.throws(() => resolveDeliveryPolicy({ retry: 1.5 }), { code: 'SLUICE_ERR_INVALID_OPTION' });
    assert.throws(() => resolveDeliveryPolicy({ backoffPolicy: 'fibonacci' as never }), { message: /backoffPolicy/ });
    assert.throws(() => resolveDeliveryPolicy({ backoffDelay: '200ms' }), { code: 'SLUICE_ERR_INVALID_DURATION', message: /delivery\.backoffDelay/ });
    assert.throws(() => resolveDeliveryPolicy({ timeout: 'PT0S' }), { message: /delivery\.timeout/ });
  });
});
