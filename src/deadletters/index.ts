// Dead-letter redrive: keep dead-lettered events, list them, send them again to their subscriber.
export { DeadLetters, observeAll, type DeadLettersOptions } from './dead-letters.js';
export type { DeadLetterEntry, DeadLetterFilter, DeadLetterOwner, DeadLetterOwnerKind, DeadLetterStore, RedriveMark } from './dead-letter-store.js';
export { MemoryDeadLetterStore, type MemoryDeadLetterStoreOptions } from './memory-dead-letter-store.js';
export { DeliveryTargetDirectory, TargetRecordingDispatcher, type CurrentDelivery } from './delivery-targets.js';
export { Redriver, REDRIVE_COUNT_ATTRIBUTE, redrivenEvent, type RedriveRequest, type RedriveResponse, type RedriveResult, type RedriveOutcome } from './redriver.js';
export type { DeadLetterEntryView } from './dead-letter-view.js';
export { InvalidRedriveRequestError, formatRef, parseSubscriptionRef, resolveOwner, type SubscriptionRef } from './subscription-ref.js';
export { TieredDeadLetterStore, type TieredDeadLetterStoreOptions } from './tiered-dead-letter-store.js';
export { BACKEND_DEAD_LETTER_DEFAULTS, type BackendDeadLetterStore, type DeadLetterMeta } from './backend-dead-letter-store.js';
export { NatsDeadLetterStore, DEAD_LETTER_STREAM, DEAD_LETTER_MARKS_STREAM, type NatsDeadLetterStoreOptions } from './nats-dead-letter-store.js';
export { RedisDeadLetterStore, type RedisDeadLetterStoreOptions } from './redis-dead-letter-store.js';
export { durableDeadLetterStores } from './durable-dead-letter-stores.js';
