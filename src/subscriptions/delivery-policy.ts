import { InvalidDurationError, InvalidOptionError } from '../errors.js';
import type { DeliveryPolicy, DeliverySpec } from './delivery-spec.js';
import { parseIsoDuration } from './duration.js';

/**
 * Knative's defaults when a `delivery` block leaves a field out: no retries, exponential
 * backoff, no wait between attempts, the dispatcher's default timeout, Retry-After ignored.
 */
export const DEFAULT_DELIVERY_POLICY: DeliveryPolicy = Object.freeze({
  retry: 0,
  backoffPolicy: 'exponential',
  backoffDelayMs: undefined,
  timeoutMs: undefined,
  retryAfterMaxMs: undefined,
});

/** What a Broker delivers with when its `spec.delivery` is unset (Knative's broker defaults). */
export const BROKER_DEFAULT_DELIVERY: Readonly<DeliverySpec> = Object.freeze({
  retry: 10,
  backoffPolicy: 'exponential',
  backoffDelay: 'PT0.2S',
});

/**
 * Turns a `delivery` block into the numbers the dispatcher uses. Knative takes the
 * Subscription's (or Trigger's) delivery as a whole when it has one and the Channel's
 * (or Broker's) otherwise; the blocks are not merged field by field, so a subscription
 * that sets only `retry` does not inherit the channel's dead-letter sink or backoff.
 *
 * The resource schemas validate YAML before it gets here; this still checks, because a
 * policy is also built from code, and a bad one must fail here with the field named
 * rather than as a NaN timer later.
 */
export function resolveDeliveryPolicy(spec: DeliverySpec | undefined, fallback?: DeliverySpec): DeliveryPolicy {
  const s = spec ?? fallback;
  if (!s) return DEFAULT_DELIVERY_POLICY;
  const retry = s.retry ?? 0;
  if (typeof retry !== 'number' || !Number.isSafeInteger(retry) || retry < 0) {
    throw new InvalidOptionError(`delivery.retry must be a non-negative integer, got ${JSON.stringify(retry)}`);
  }
  const backoffPolicy = s.backoffPolicy ?? 'exponential';
  if (backoffPolicy !== 'exponential' && backoffPolicy !== 'linear') {
    throw new InvalidOptionError(`delivery.backoffPolicy must be "exponential" or "linear", got ${JSON.stringify(backoffPolicy)}`);
  }
  const backoffDelayMs = duration(s.backoffDelay, 'backoffDelay');
  const timeoutMs = duration(s.timeout, 'timeout');
  if (timeoutMs === 0) throw new InvalidOptionError('delivery.timeout must be longer than zero');
  return Object.freeze({
    retry,
    backoffPolicy,
    backoffDelayMs,
    timeoutMs,
    retryAfterMaxMs: duration(s.retryAfterMax, 'retryAfterMax'),
  });
}

function duration(value: string | undefined, field: string): number | undefined {
  if (value === undefined) return undefined;
  try {
    return parseIsoDuration(value);
  } catch (err) {
    throw new InvalidDurationError(`delivery.${field}: ${(err as Error).message}`, { cause: err });
  }
}
