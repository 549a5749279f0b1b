// Dead-letter redrive: keep dead-lettered events, list them, send them again to their subscriber.
export { DeadLetters, observeAll, type DeadLettersOptions } from './dead-letters.js';
export type { DeadLetterEntry, DeadLetterFilter, DeadLetterOwner, DeadLetterOwnerKind, DeadLetterStore, RedriveMark } from './dead-letter-store.js';
export { MemoryDeadLetterStore, type MemoryDeadLetterStoreOptions } from './memory-dead-letter-store.js';
export { DeliveryTargetDirectory, TargetRecordingDispatcher, type CurrentDelivery } from './delivery-targets.js';
export { Redriver, REDRIVE_COUNT_ATTRIBUTE, redrivenEvent, type RedriveRequest, type RedriveResponse, type RedriveResult, type RedriveOutcome } from './redriver.js';
export type { DeadLetterEntryView } from './dead-letter-view.js';
export { InvalidRedriveRequestError, formatRef, parseSubscriptionRef, resolveOwner, type SubscriptionRef } from './subscription-ref.js';
