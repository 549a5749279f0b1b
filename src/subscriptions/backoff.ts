import type { DeliveryPolicy } from './delivery-spec.js';

/**
 * Longest backoff Sluice waits between two attempts. Exponential backoff doubles per
 * retry, so `retry: 40` with `PT1S` would ask for ~35,000 years; past 2^31-1 ms Node's
 * setTimeout fires at once (a hot retry loop), and JetStream/BullMQ delays overflow in
 * their own ways. An hour keeps a long retry budget meaningful (the event is retried at
 * least hourly until its attempts run out) while staying far from every limit.
 */
export const MAX_BACKOFF_MS = 60 * 60 * 1000;

/**
 * Longest delay a retry may ask for at all, Retry-After included: the largest value a
 * Node timer holds (about 24.8 days). `retryAfterMax` is the user's own cap below this.
 */
export const MAX_RETRY_DELAY_MS = 2 ** 31 - 1;

/**
 * Knative's documented wait before retry `retryNumber` (1 for the first retry, i.e. the
 * second attempt): linear `delay × n`, exponential `delay × 2^n`. Knative's code passes a
 * zero-based n (one step shorter); Sluice follows the documentation. No `backoffDelay`
 * means no wait. Capped at MAX_BACKOFF_MS.
 */
export function backoffDelayMs(policy: Pick<DeliveryPolicy, 'backoffPolicy' | 'backoffDelayMs'>, retryNumber: number): number {
  const delay = policy.backoffDelayMs;
  if (!delay || delay <= 0 || !Number.isFinite(retryNumber) || retryNumber < 1) return 0;
  const n = Math.floor(retryNumber);
  const factor = policy.backoffPolicy === 'linear' ? n : 2 ** Math.min(n, 64);
  return Math.min(MAX_BACKOFF_MS, Math.round(delay * factor));
}

/** What retryDelayMs needs to know about the failed response (none for a transport failure). */
export interface RetryResponseInfo {
  readonly statusCode?: number | undefined;
  /** The raw `Retry-After` header value(s). */
  readonly retryAfter?: string | readonly string[] | undefined;
}

/**
 * Wait before retry `retryNumber` after a failed attempt: the backoff, or on 429/503 with
 * `retryAfterMax` set, `max(backoff, min(Retry-After, retryAfterMax))`. Without
 * `retryAfterMax` Knative ignores Retry-After, so a subscriber cannot stall delivery by
 * asking for a long pause unless the operator allowed it.
 */
export function retryDelayMs(
  policy: Pick<DeliveryPolicy, 'backoffPolicy' | 'backoffDelayMs' | 'retryAfterMaxMs'>,
  retryNumber: number,
  response?: RetryResponseInfo,
  now: number = Date.now(),
): number {
  const backoff = backoffDelayMs(policy, retryNumber);
  const max = policy.retryAfterMaxMs;
  const status = response?.statusCode;
  if (max === undefined || (status !== 429 && status !== 503)) return backoff;
  const retryAfter = parseRetryAfter(response?.retryAfter, now);
  if (retryAfter === undefined) return backoff;
  return Math.min(MAX_RETRY_DELAY_MS, Math.max(backoff, Math.min(retryAfter, max)));
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAY = '(?:mon|tue|wed|thu|fri|sat|sun)';
const LONG_DAY = '(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)';
const MON = '(?<mon>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)';
const TIME = '(?<hh>\\d{2}):(?<mm>\\d{2}):(?<ss>\\d{2})';
// RFC 9110 §5.6.7: IMF-fixdate is what senders use; recipients must also accept the two
// obsolete forms (RFC 850 and asctime).
const IMF_FIXDATE = new RegExp(`^${DAY}, (?<day>\\d{2}) ${MON} (?<year>\\d{4}) ${TIME} GMT$`, 'i');
const RFC850 = new RegExp(`^${LONG_DAY}, (?<day>\\d{2})-${MON}-(?<yy>\\d{2}) ${TIME} GMT$`, 'i');
const ASCTIME = new RegExp(`^${DAY} ${MON} (?<day>[ \\d]\\d) ${TIME} (?<year>\\d{4})$`, 'i');

/**
 * Parses a `Retry-After` value (delta-seconds or an HTTP-date) into milliseconds from
 * `now`; a date in the past gives 0. Returns undefined for anything else (the header is
 * then ignored, as RFC 9110 asks of an invalid field).
 */
export function parseRetryAfter(headerValue: string | readonly string[] | undefined, now: number = Date.now()): number | undefined {
  const raw = typeof headerValue === 'string' ? headerValue : headerValue?.[0];
  if (typeof raw !== 'string') return undefined;
  const v = raw.trim();
  if (/^\d+$/.test(v)) return Math.min(Number(v) * 1000, MAX_RETRY_DELAY_MS);
  const at = parseHttpDate(v, now);
  return at === undefined ? undefined : Math.min(Math.max(0, at - now), MAX_RETRY_DELAY_MS);
}

/** Epoch ms of an HTTP-date in any of its three forms, or undefined. */
export function parseHttpDate(text: string, now: number = Date.now()): number | undefined {
  const g = (IMF_FIXDATE.exec(text) ?? RFC850.exec(text) ?? ASCTIME.exec(text))?.groups;
  if (!g) return undefined;
  let year: number;
  if (g.yy !== undefined) {
    // RFC 9110: a two-digit year more than 50 years in the future is in the past century.
    year = 2000 + Number(g.yy);
    if (year > new Date(now).getUTCFullYear() + 50) year -= 100;
  } else {
    year = Number(g.year);
  }
  const month = MONTHS.indexOf(String(g.mon).toLowerCase());
  const day = Number(String(g.day).trim());
  const [h, mi, s] = [Number(g.hh), Number(g.mm), Number(g.ss)];
  if (h > 23 || mi > 59 || s > 60 || day < 1) return undefined;
  // A leap second (60) is kept inside its minute.
  const t = Date.UTC(year, month, day, h, mi, Math.min(s, 59));
  // Date.UTC rolls 31 Feb over into March; a date that does not exist is invalid.
  if (new Date(t).getUTCDate() !== day) return undefined;
  return t;
}
