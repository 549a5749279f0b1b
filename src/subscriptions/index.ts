export type { BackoffPolicy, DeliveryPolicy, DeliverySpec } from './delivery-spec.js';
export { BROKER_DEFAULT_DELIVERY, DEFAULT_DELIVERY_POLICY, resolveDeliveryPolicy } from './delivery-policy.js';
export {
  MAX_BACKOFF_MS,
  MAX_RETRY_DELAY_MS,
  backoffDelayMs,
  parseHttpDate,
  parseRetryAfter,
  retryDelayMs,
  type RetryResponseInfo,
} from './backoff.js';
export { isIsoDuration, parseIsoDuration, parseShortDuration } from './duration.js';
