import type { Logger } from 'pino';
import type { Channel } from '../channels/channel.js';
import type { Resource } from '../resources/types.js';
import { DestinationError } from '../runtime/addressing.js';
import type { Reconciler, SluiceRuntime } from '../runtime/runtime.js';
import { readyStatus } from '../runtime/status.js';
import { IngressTargets } from '../server/targets.js';
import { BROKER_DEFAULT_DELIVERY, type DeliverySpec } from '../subscriptions/index.js';
import { brokerBacking } from './broker-backing.js';
import { BrokerIngress, brokerUrl } from './broker-ingress.js';
import { BROKER_KIND, type BrokerSpec } from './broker-kinds.js';
import { CONFIG_MAP_KIND, type ConfigMapContent } from './config-map-kind.js';
import { TriggerReconciler } from './trigger-reconciler.js';

/**
 * Backing channels are named `broker.<name>`: a dot cannot appear in a Kubernetes name,
 * so a user's own channel never shares a broker's stream or queues.
 */
export const BROKER_CHANNEL_PREFIX = 'broker.';

/** One Broker as the data plane runs it. */
export interface BrokerInstance {
  readonly namespace: string;
  readonly name: string;
  resource: Resource<BrokerSpec>;
  readonly backendKind: string;
  /** Backing kind and spec: a change means a new channel. */
  readonly specKey: string;
  /** The channel Triggers subscribe to. */
  readonly channel: Channel;
  readonly ingress: BrokerIngress;
  /** Bumped with each new channel, so Triggers re-subscribe. */
  readonly generation: number;
  /** The delivery Triggers without their own use: `spec.delivery`, else Knative's broker default. */
  delivery: DeliverySpec;
  /** The channel this one replaced: retired once the Triggers moved over. */
  replaced?: Channel | undefined;
}

/**
 * Brokers: a backing channel each (from the channel registry, as Channels get theirs),
 * the ingress target at `/<namespace>/<broker>`, and `ref: {kind: Broker}` resolution.
 * Runs in the `address` phase; its `triggers` reconciler runs in the `consumer` phase and
 * calls `commit()` once Triggers are on the current channels, so a replaced channel stops
 * taking events only after its successor has every subscriber.
 */
export class BrokerReconciler implements Reconciler {
  readonly phase = 'address' as const;
  readonly instances = new Map<string, BrokerInstance>();
  readonly triggers: TriggerReconciler;
  #retired = new WeakSet<Channel>();
  #retiring = new Set<Promise<void>>();
  #generation = 0;
  #registered = false;
  #log: Logger | undefined;

  readonly #localIngressUrl: () => string | undefined;

  /**
   * `localIngressUrl`: where this process's own ingress listens. Replies re-enter a broker
   * there rather than through `--public-url`, which may be a tunnel or a load balancer.
   */
  constructor(options: { localIngressUrl?: () => string | undefined } = {}) {
    this.#localIngressUrl = options.localIngressUrl ?? (() => undefined);
    this.triggers = new TriggerReconciler(this);
  }

  /** Where a Trigger's replies go: the broker's address on the local ingress when known. */
  replyUrl(runtime: SluiceRuntime, broker: BrokerInstance): string {
    return brokerUrl(this.#localIngressUrl() ?? runtime.options.publicUrl, broker.namespace, broker.name);
  }

  /** The base URLs at which this process's brokers are reached (public and local ingress), for the loop check. */
  ownBaseUrls(runtime: SluiceRuntime): string[] {
    const local = this.#localIngressUrl();
    return local ? [runtime.options.publicUrl, local] : [runtime.options.publicUrl];
  }

  /** True once a channel was closed by a broker deletion or replacement: nothing more to unsubscribe from. */
  isRetired(channel: Channel): boolean {
    return this.#retired.has(channel);
  }

  async reconcile(runtime: SluiceRuntime): Promise<void> {
    const log = (this.#log ??= runtime.options.logger.child({ component: 'broker' }));
    if (!this.#registered) {
      runtime.addresses.register(BROKER_KIND, (ref) =>
        this.instances.has(IngressTargets.key(ref.namespace, ref.name)) ? { url: brokerUrl(runtime.options.publicUrl, ref.namespace, ref.name) } : undefined,
      );
      // Backlog and depth gauges per broker, with each Trigger as a subscription.
      runtime.options.metrics.observeChannels(() =>
        [...this.instances.values()].map((i) => ({ namespace: i.namespace, name: i.name, kind: i.backendKind, stats: i.channel.stats() })),
      );
      this.#registered = true;
    }
    const configMaps = new Map<string, ConfigMapContent>();
    for (const { resource } of runtime.list<ConfigMapContent>(CONFIG_MAP_KIND)) {
      configMaps.set(IngressTargets.key(resource.metadata.namespace, resource.metadata.name), resource.spec);
      runtime.setStatus(resource, readyStatus(true, 'Loaded'));
    }
    const { channelRegistry, defaultChannelTemplate, metrics } = runtime.options;
    const desired = new Set<string>();
    for (const { resource } of runtime.list<BrokerSpec>(BROKER_KIND)) {
      const { namespace, name } = resource.metadata;
      const key = IngressTargets.key(namespace, name);
      const backing = brokerBacking(resource, { configMap: (ns, n) => configMaps.get(IngressTargets.key(ns, n)), defaultTemplate: defaultChannelTemplate });
      if (!backing.ok) {
        runtime.setStatus(resource, readyStatus(false, backing.reason, backing.message));
        continue;
      }
      const { kind: backendKind, spec = {} } = backing.template;
      const factory = channelRegistry.get(backendKind);
      if (!factory) {
        runtime.setStatus(resource, readyStatus(false, 'UnsupportedChannelKind', `channel kind ${backendKind} is not available; available: ${channelRegistry.kinds().join(', ')}`));
        continue;
      }
      const delivery = resource.spec.delivery ?? BROKER_DEFAULT_DELIVERY;
      const specKey = JSON.stringify([backendKind, spec]);
      const existing = this.instances.get(key);
      if (existing && existing.specKey === specKey) {
        existing.resource = resource;
        existing.delivery = delivery;
        desired.add(key);
        continue;
      }
      let channel: Channel;
      try {
        channel = factory({ namespace, name: BROKER_CHANNEL_PREFIX + name, spec });
      } catch (err) {
        runtime.setStatus(resource, readyStatus(false, 'ChannelCreateFailed', (err as Error).message));
        continue;
      }
      desired.add(key);
      const ingress = new BrokerIngress(namespace, name, channel, { metrics, logger: log });
      // A channel replaced twice before a commit: the middle one never took events.
      if (existing?.replaced) this.#retire(runtime, existing.replaced, false);
      this.instances.set(key, { namespace, name, resource, backendKind, specKey, channel, ingress, generation: ++this.#generation, delivery, replaced: existing?.channel });
      log.info({ broker: key, channel: backendKind }, existing ? 'broker channel replaced' : 'broker created');
    }
    for (const [key, inst] of this.instances) {
      if (desired.has(key)) continue;
      this.instances.delete(key);
      runtime.options.targets.brokers.delete(key);
      if (inst.replaced) this.#retire(runtime, inst.replaced, false);
      this.#retire(runtime, inst.channel, true);
      log.info({ broker: key }, 'broker deleted');
    }
  }

  /** Publishes each broker's ingress on its current channel, retires replaced channels, and sets Broker status. */
  commit(runtime: SluiceRuntime): void {
    const targets = runtime.options.targets.brokers;
    for (const [key, inst] of this.instances) {
      if (targets.get(key) !== inst.ingress) targets.set(key, inst.ingress);
      if (inst.replaced) {
        this.#retire(runtime, inst.replaced, false);
        inst.replaced = undefined;
      }
      runtime.setStatus(inst.resource, this.#status(runtime, inst));
    }
  }

  #status(runtime: SluiceRuntime, inst: BrokerInstance) {
    const address = { url: brokerUrl(runtime.options.publicUrl, inst.namespace, inst.name) };
    const notReady = inst.ingress.notReadyReason();
    if (notReady) return readyStatus(false, 'BackendNotReady', notReady, { address, backend: inst.backendKind });
    const dls = inst.resource.spec.delivery?.deadLetterSink;
    let deadLetterSinkUri: string | undefined;
    if (dls) {
      try {
        deadLetterSinkUri = runtime.addresses.resolve(dls, inst.namespace, 'spec.delivery.deadLetterSink').url;
      } catch (err) {
        if (!(err instanceof DestinationError)) throw err;
        return readyStatus(false, 'DeadLetterSinkResolveFailed', err.message, { address, backend: inst.backendKind });
      }
    }
    return readyStatus(true, 'BrokerReady', undefined, { address, backend: inst.backendKind, ...(deadLetterSinkUri ? { deadLetterSinkUri } : {}) });
  }

  /** Closes a channel in the background, giving accepted events time to drain. */
  #retire(runtime: SluiceRuntime, channel: Channel, destroy: boolean): void {
    if (this.#retired.has(channel)) return;
    this.#retired.add(channel);
    const done: Promise<void> = channel
      .close({ deadline: Date.now() + runtime.options.drainOnReplaceMs })
      .then(() => (destroy ? channel.destroy?.() : undefined))
      .catch((err: unknown) => this.#log?.warn({ err }, 'closing a broker channel failed'))
      .finally(() => this.#retiring.delete(done));
    this.#retiring.add(done);
  }

  async close(deadline: number): Promise<void> {
    const channels = [...this.instances.values()].flatMap((i) => (i.replaced ? [i.channel, i.replaced] : [i.channel]));
    this.instances.clear();
    await Promise.all([...channels.map((c) => c.close({ deadline }).catch(() => {})), ...this.#retiring]);
  }
}
