import { InvalidOptionError } from '../errors.js';
import type { DeliveryPolicy } from '../subscriptions/delivery-spec.js';
import type { DeliveryTarget } from './types.js';

/**
 * Checks a target once, when its handler is built, so that a bad URL or policy is an
 * error naming the subscription instead of every delivery failing later.
 */
export function validateTarget(target: DeliveryTarget): void {
  if (!target || typeof target !== 'object') throw new InvalidOptionError('delivery target must be an object');
  for (const field of ['namespace', 'resource', 'subscription'] as const) {
    if (typeof target[field] !== 'string' || target[field] === '') {
      throw new InvalidOptionError(`delivery target: ${field} must be a non-empty string`);
    }
  }
  const who = `subscription ${target.namespace}/${target.subscription}`;
  checkUrl(target.subscriberUri, `${who}: subscriberUri`);
  if (target.replyUri !== undefined) checkUrl(target.replyUri, `${who}: replyUri`);
  if (target.deadLetterUri !== undefined) checkUrl(target.deadLetterUri, `${who}: deadLetterUri`);
  if (target.endpoint !== undefined && typeof target.endpoint?.acquire !== 'function') {
    throw new InvalidOptionError(`${who}: endpoint must have an acquire(signal) method`);
  }
  if (target.prepareReply !== undefined && typeof target.prepareReply !== 'function') {
    throw new InvalidOptionError(`${who}: prepareReply must be a function`);
  }
  checkPolicy(target.policy, who);
}

function checkUrl(value: unknown, what: string): void {
  let u: URL;
  try {
    u = new URL(String(value));
  } catch {
    throw new InvalidOptionError(`${what} ${JSON.stringify(value)} is not an absolute URL`);
  }
  if (typeof value !== 'string' || (u.protocol !== 'http:' && u.protocol !== 'https:')) {
    throw new InvalidOptionError(`${what} ${JSON.stringify(value)} must be an http or https URL`);
  }
}

function checkPolicy(p: DeliveryPolicy, who: string): void {
  if (!p || typeof p !== 'object') throw new InvalidOptionError(`${who}: policy is required (see resolveDeliveryPolicy)`);
  if (!Number.isSafeInteger(p.retry) || p.retry < 0) throw new InvalidOptionError(`${who}: policy.retry must be a non-negative integer`);
  if (p.backoffPolicy !== 'exponential' && p.backoffPolicy !== 'linear') {
    throw new InvalidOptionError(`${who}: policy.backoffPolicy must be exponential or linear`);
  }
  const optionalMs = (v: number | undefined, name: string, min: number) => {
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v < min)) {
      throw new InvalidOptionError(`${who}: policy.${name} must be a number of ms >= ${min}`);
    }
  };
  optionalMs(p.backoffDelayMs, 'backoffDelayMs', 0);
  optionalMs(p.timeoutMs, 'timeoutMs', 1);
  optionalMs(p.retryAfterMaxMs, 'retryAfterMaxMs', 0);
}
