import type { Logger } from 'pino';
import type { DeliveryTarget } from '../dispatcher/index.js';
import type { Resource, ResourceStatus } from '../resources/types.js';
import { DestinationError, type ResolvedDestination } from '../runtime/addressing.js';
import { loopAllowed, loopMessage, LoopReporter, triggerSelfLoop } from '../runtime/loop-guard.js';
import type { ReconcileContext, Reconciler } from '../runtime/runtime.js';
import { readyStatus } from '../runtime/status.js';
import { nsKey } from '../resources/types.js';
import { resolveDeliveryPolicy, type DeliveryPolicy } from '../subscriptions/index.js';
import type { BrokerDirectory, BrokerInstance } from './broker-instance.js';
import { BROKER_KIND, TRIGGER_KIND, type TriggerSpec } from './broker-kinds.js';
import { compileTriggerFilter, FilterError, type CompiledFilter } from './filters/index.js';
import { triggerReplyPreparer } from './trigger-reply.js';
import { deliveryView } from './broker-ttl.js';
import { SubscriptionManager } from '../subscriptions/subscription-manager.js';

/** A Trigger's filter, compiled once per definition. */
interface CompiledTriggerFilter {
  readonly filterKey: string;
  readonly filter: CompiledFilter;
}

/** Why a Trigger cannot be wired, as its Ready condition; caught in this file, never surfaced. */
class TriggerNotReady extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Triggers: each one is its own subscription on its broker's channel (its own queue,
 * retries and dead letters, so a failing subscriber never slows another Trigger), with a
 * handler that applies the Trigger's filter, compiled once here. Replies go back to the
 * broker's address and meet every Trigger again. Runs in the `consumer` phase, then lets
 * the broker reconciler publish ingress targets on the channels Triggers now listen to.
 */
export class TriggerReconciler implements Reconciler {
  readonly phase = 'consumer' as const;
  readonly #brokers: BrokerDirectory;
  #filters = new Map<string, CompiledTriggerFilter>();
  /** Each Trigger is a subscription on its broker's channel whose handler filters first. */
  #subscriptions: SubscriptionManager<DeliveryTarget> | undefined;
  #log: Logger | undefined;
  #loops = new LoopReporter(() => this.#log!);

  constructor(brokers: BrokerDirectory) {
    this.#brokers = brokers;
  }

  async reconcile(runtime: ReconcileContext): Promise<void> {
    try {
      await this.#reconcileTriggers(runtime);
    } finally {
      this.#brokers.commit(runtime);
    }
  }

  async #reconcileTriggers(runtime: ReconcileContext): Promise<void> {
    const log = (this.#log ??= runtime.logger.child({ component: 'trigger' }));
    const brokerResources = new Map<string, Resource<unknown>>();
    for (const { resource } of runtime.list(BROKER_KIND)) brokerResources.set(nsKey(resource.metadata.namespace, resource.metadata.name), resource);
    const desired = new Set<string>();
    for (const { resource } of runtime.list<TriggerSpec>(TRIGGER_KIND)) {
      const { namespace, name } = resource.metadata;
      const key = nsKey(namespace, name);
      const brokerKey = nsKey(namespace, resource.spec.broker);
      const broker = this.#brokers.instances.get(brokerKey);
      if (!broker) {
        const exists = brokerResources.has(brokerKey);
        runtime.setStatus(
          resource,
          exists
            ? readyStatus(false, 'BrokerNotReady', `Broker ${JSON.stringify(resource.spec.broker)} is not ready; see its status`)
            : readyStatus(false, 'BrokerDoesNotExist', `Broker ${JSON.stringify(resource.spec.broker)} does not exist`),
        );
        continue;
      }
      try {
        const status = await this.#wire(runtime, resource, key, broker, log);
        desired.add(key);
        runtime.setStatus(resource, status);
      } catch (err) {
        if (!(err instanceof TriggerNotReady)) throw err;
        runtime.setStatus(resource, readyStatus(false, err.reason, err.message));
      }
    }
    this.#loops.sweep();
    for (const key of this.#filters.keys()) if (!desired.has(key)) this.#filters.delete(key);
    await this.#subscriptionManager(runtime, log).retain(desired);
  }

  #subscriptionManager(runtime: ReconcileContext, log: Logger): SubscriptionManager<DeliveryTarget> {
    return (this.#subscriptions ??= new SubscriptionManager({
      handlers: runtime.dispatcher,
      logger: log,
      maxInFlight: runtime.maxInFlightPerSubscription,
      // A deleted or replaced broker's channel is closing: it drops its subscriptions itself.
      isRetired: (c) => this.#brokers.isRetired(c),
    }));
  }

  /** Subscribes (or re-subscribes) one Trigger; returns its Ready status or throws TriggerNotReady. */
  async #wire(runtime: ReconcileContext, r: Resource<TriggerSpec>, key: string, broker: BrokerInstance, log: Logger): Promise<ResourceStatus> {
    const ns = r.metadata.namespace;
    const cached = this.#filters.get(key);
    const filterKey = JSON.stringify([r.spec.filter ?? null, r.spec.filters ?? null]);
    let filter: CompiledFilter;
    if (cached && cached.filterKey === filterKey) {
      filter = cached.filter;
    } else {
      try {
        filter = compileTriggerFilter({ filter: r.spec.filter, filters: r.spec.filters });
      } catch (err) {
        // Load-time validation catches these; resources built in code may not have been through it.
        if (err instanceof FilterError) throw new TriggerNotReady('InvalidFilter', err.message);
        throw err;
      }
    }
    const subscriber = resolve(runtime, r.spec.subscriber, ns, 'spec.subscriber', 'SubscriberResolveFailed');
    // Only the subscriber can loop: replies go back to the broker by design, guarded by its TTL.
    const loop = triggerSelfLoop(subscriber.url, ns, r.spec.broker, this.#brokers.ownBaseUrls(runtime));
    this.#loops.report(TRIGGER_KIND, key, loop, loopAllowed(r.metadata));
    if (loop && !loopAllowed(r.metadata)) throw new TriggerNotReady(loop.reason, loopMessage(loop, TRIGGER_KIND));
    const delivery = r.spec.delivery ?? broker.delivery;
    const dlsWhere = r.spec.delivery ? 'spec.delivery.deadLetterSink' : `Broker ${broker.name} spec.delivery.deadLetterSink`;
    const dls = delivery.deadLetterSink ? resolve(runtime, delivery.deadLetterSink, ns, dlsWhere, 'DeadLetterSinkResolveFailed') : undefined;
    const replyUri = this.#brokers.replyUrl(runtime, broker);
    let policy: DeliveryPolicy;
    try {
      policy = resolveDeliveryPolicy(r.spec.delivery, broker.delivery);
    } catch (err) {
      throw new TriggerNotReady('InvalidDelivery', (err as Error).message);
    }
    const target: DeliveryTarget = {
      namespace: ns,
      resource: broker.name,
      subscription: r.metadata.name,
      subscriberUri: subscriber.url,
      ...(subscriber.endpoint ? { endpoint: subscriber.endpoint } : {}),
      replyUri,
      ...(dls ? { deadLetterUri: dls.url } : {}),
      policy,
      prepareReply: triggerReplyPreparer({ namespace_name: ns, resource: broker.name }, r.metadata.name, runtime.metrics, log),
    };
    try {
      await this.#subscriptionManager(runtime, log).ensure(key, {
        channelKey: nsKey(ns, r.spec.broker),
        channel: broker.channel,
        target,
        // Knative's filter sees, and the subscriber gets, the event without the broker's TTL.
        filter: { key: filterKey, accepts: filter, view: deliveryView },
      });
    } catch (err) {
      throw new TriggerNotReady('SubscribeFailed', (err as Error).message);
    }
    this.#filters.set(key, { filterKey, filter });
    const extra = { subscriberUri: subscriber.url, ...(dls ? { deadLetterSinkUri: dls.url } : {}) };
    const brokerNotReady = broker.ingress.notReadyReason();
    if (brokerNotReady) return readyStatus(false, 'BrokerNotReady', `Broker ${JSON.stringify(broker.name)} is not ready: ${brokerNotReady}`, extra);
    return readyStatus(true, 'TriggerReady', undefined, extra);
  }
}

function resolve(runtime: ReconcileContext, dest: TriggerSpec['subscriber'], ns: string, what: string, reason: string): ResolvedDestination {
  try {
    return runtime.addresses.resolve(dest, ns, what);
  } catch (err) {
    if (err instanceof DestinationError) throw new TriggerNotReady(reason, err.message);
    throw err;
  }
}
