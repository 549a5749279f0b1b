import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { AttemptInfo, DeliveryObserver, OutcomeInfo } from '../dispatcher/types.js';
import type { DeadLetterOwnerKind } from './dead-letter-store.js';
import { deadLetterRoutes } from './dead-letter-routes.js';
import { DeliveryTargetDirectory } from './delivery-targets.js';
import { MemoryDeadLetterStore, type MemoryDeadLetterStoreOptions } from './memory-dead-letter-store.js';
import { Redriver } from './redriver.js';
import { ownerKindOf, type ResourceLike } from './subscription-ref.js';
import type { BackendDeadLetterStore } from './backend-dead-letter-store.js';
import { TieredDeadLetterStore } from './tiered-dead-letter-store.js';

export interface DeadLettersOptions {
  logger: Logger;
  /** The Subscription and Trigger resources as they are now (the runtime's). */
  resources: () => readonly ResourceLike[];
  /** True once the dispatcher is closed. */
  isClosed: () => boolean;
  store?: Omit<MemoryDeadLetterStoreOptions, 'kindOf'>;
  directory?: DeliveryTargetDirectory;
  /** Stores in the durable channel backends: Subscriptions on those channels keep their dead letters there. */
  backends?: readonly BackendDeadLetterStore[];
  /**
   * The backend channel kind (`NatsJetStreamChannel`, `RedisChannel`, `InMemoryChannel`) of
   * a channel, or of a Broker's backing channel when `owner` is `Trigger`; undefined when unknown.
   */
  channelKindOf?: (namespace: string, resource: string, owner: DeadLetterOwnerKind) => string | undefined;
}

/**
 * Dead-letter redrive for one server: the store (fed by the dispatcher's outcomes), the
 * directory of current delivery targets (fed by the dispatcher's handlerFor), the
 * redriver and its admin routes. Pass `observer` to the dispatcher.
 */
export class DeadLetters {
  /** Every dead letter: the backends' and this process's. */
  readonly store: TieredDeadLetterStore;
  /** This process's own (in-memory channels, Triggers, and what a backend could not take). */
  readonly memory: MemoryDeadLetterStore;
  readonly directory: DeliveryTargetDirectory;
  readonly redriver: Redriver;
  readonly #resources: () => readonly ResourceLike[];

  constructor(options: DeadLettersOptions) {
    this.#resources = options.resources;
    const kindOf = ownerKindOf(options.resources);
    this.memory = new MemoryDeadLetterStore({ ...options.store, kindOf });
    this.store = new TieredDeadLetterStore({
      memory: this.memory,
      backends: options.backends ?? [],
      channelKindOf: options.channelKindOf ?? (() => undefined),
      kindOf,
      logger: options.logger,
    });
    this.directory = options.directory ?? new DeliveryTargetDirectory();
    this.redriver = new Redriver({ store: this.store, directory: this.directory, logger: options.logger, isClosed: options.isClosed });
  }

  /** The DeliveryObserver part: keep dead letters, and finish redrives. */
  onOutcome(info: OutcomeInfo): void {
    this.store.onOutcome(info);
    this.redriver.onOutcome(info);
  }

  /** The admin plugin serving the list and redrive routes. */
  routes(): (app: FastifyInstance) => Promise<void> {
    return deadLetterRoutes({ store: this.store, redriver: this.redriver, resources: this.#resources });
  }
}

/**
 * One observer that tells each of `observers` in turn: one that throws does not keep the
 * others from hearing (the first error is rethrown for the dispatcher to log). It has
 * onAttempt only when one of them has: the dispatcher then builds no attempt record.
 */
export function observeAll(...observers: DeliveryObserver[]): DeliveryObserver {
  const combined: DeliveryObserver = { onOutcome: callEach(observers.filter((o) => o.onOutcome).map((o) => (info: OutcomeInfo) => o.onOutcome!(info))) };
  const attempts = observers.filter((o) => o.onAttempt);
  if (attempts.length) combined.onAttempt = callEach(attempts.map((o) => (info: AttemptInfo) => o.onAttempt!(info)));
  return combined;
}

/** Calls every one of `calls`, even after one throws; then throws the first error, if any. */
function callEach<T>(calls: ReadonlyArray<(info: T) => unknown>): (info: T) => void {
  return (info) => {
    let failed: { err: unknown } | undefined;
    for (const call of calls) {
      try {
        call(info);
      } catch (err) {
        failed ??= { err };
      }
    }
    if (failed) throw failed.err;
  };
}
