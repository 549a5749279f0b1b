import type { DeliveryHandler } from '../channels/channel.js';
import { Dispatcher, type DeliveryTarget, type DispatcherOptions } from '../dispatcher/index.js';

/** A subscription's current delivery: the target the runtime built and the handler its channel calls. */
export interface CurrentDelivery {
  readonly target: DeliveryTarget;
  readonly handler: DeliveryHandler;
}

function key(namespace: string, resource: string, subscription: string): string {
  return `${namespace}/${resource}/${subscription}`;
}

/**
 * The delivery targets the runtime and the trigger reconciler currently use, one per
 * `namespace/resource/subscription`: the last `handlerFor` call for a key is the
 * current one (a changed Subscription or Trigger is re-subscribed with a new handler).
 * A redrive goes through that handler, so the subscription's own retries, backoff,
 * timeout, reply and dead-letter sink apply again, on its own connection pool.
 */
export class DeliveryTargetDirectory {
  readonly #current = new Map<string, CurrentDelivery>();

  record(target: DeliveryTarget, handler: DeliveryHandler): void {
    this.#current.set(key(target.namespace, target.resource, target.subscription), { target, handler });
  }

  /** The current delivery of a subscription; the caller checks that its resource still exists. */
  get(namespace: string, resource: string, subscription: string): CurrentDelivery | undefined {
    return this.#current.get(key(namespace, resource, subscription));
  }

  /** Forgets a subscription (deleted). */
  forget(namespace: string, resource: string, subscription: string): void {
    this.#current.delete(key(namespace, resource, subscription));
  }
}

/** A Dispatcher that tells a DeliveryTargetDirectory of every handler it builds. */
export class TargetRecordingDispatcher extends Dispatcher {
  readonly directory: DeliveryTargetDirectory;

  constructor(options: DispatcherOptions & { directory?: DeliveryTargetDirectory }) {
    const { directory, ...rest } = options;
    super(rest);
    this.directory = directory ?? new DeliveryTargetDirectory();
  }

  override handlerFor(target: DeliveryTarget): DeliveryHandler {
    const handler = super.handlerFor(target);
    this.directory.record(target, handler);
    return handler;
  }
}
