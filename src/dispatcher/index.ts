export { Dispatcher, DEFAULT_DELIVERY_TIMEOUT_MS, type DispatcherOptions } from './dispatcher.js';
export { MAX_ERROR_DATA_BYTES, deadLetterEvent } from './dead-letter-event.js';
export { isRetryableStatus, isSuccessStatus } from './http-post.js';
export type {
  AttemptInfo,
  DeliveryObserver,
  DeliveryOutcome,
  DeliveryTarget,
  EndpointLease,
  EndpointResolver,
  OutcomeInfo,
  SendOptions,
  SendResult,
} from './types.js';
