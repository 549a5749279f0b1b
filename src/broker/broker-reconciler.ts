import type { Logger } from 'pino';
import type { Channel } from '../channels/channel.js';
import { ChannelManager } from '../channels/channel-manager.js';
import { DestinationError } from '../runtime/addressing.js';
import type { ReconcileContext, Reconciler } from '../runtime/runtime.js';
import { readyStatus } from '../runtime/status.js';
import { nsKey } from '../resources/types.js';
import { BROKER_DEFAULT_DELIVERY } from '../subscriptions/index.js';
import { brokerBacking } from './broker-backing.js';
import { BrokerIngress, brokerUrl } from './broker-ingress.js';
import { BROKER_KIND, type BrokerSpec } from './broker-kinds.js';
import { CONFIG_MAP_KIND, type ConfigMapContent } from './config-map-kind.js';
import { TriggerReconciler } from './trigger-reconciler.js';
import type { BrokerDirectory, BrokerInstance } from './broker-instance.js';

export type { BrokerInstance };

/**
 * Backing channels are named `broker.<name>`: a dot cannot appear in a Kubernetes name,
 * so a user's own channel never shares a broker's stream or queues.
 */
export const BROKER_CHANNEL_PREFIX = 'broker.';

/**
 * Brokers: a broker is a channel (its ChannelManager creates, replaces and retires it as
 * the runtime's does for Channel resources) plus the ingress target at `/<namespace>/<broker>`
 * and `ref: {kind: Broker}` resolution.
 * Runs in the `address` phase; its `triggers` reconciler runs in the `consumer` phase and
 * calls `commit()` once Triggers are on the current channels, so a replaced channel stops
 * taking events only after its successor has every subscriber.
 */
export class BrokerReconciler implements Reconciler, BrokerDirectory {
  readonly phase = 'address' as const;
  readonly instances = new Map<string, BrokerInstance>();
  readonly triggers: TriggerReconciler;
  /** Backing channels, keyed like the brokers (`namespace/name`). */
  #channels: ChannelManager | undefined;
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
  replyUrl(runtime: ReconcileContext, broker: BrokerInstance): string {
    return brokerUrl(this.#localIngressUrl() ?? runtime.publicUrl, broker.namespace, broker.name);
  }

  /** The base URLs at which this process's brokers are reached (public and local ingress), for the loop check. */
  ownBaseUrls(runtime: ReconcileContext): string[] {
    const local = this.#localIngressUrl();
    return local ? [runtime.publicUrl, local] : [runtime.publicUrl];
  }

  /** True once a channel was closed by a broker deletion or replacement: nothing more to unsubscribe from. */
  isRetired(channel: Channel): boolean {
    return this.#channels?.isRetired(channel) ?? false;
  }

  async reconcile(runtime: ReconcileContext): Promise<void> {
    const log = (this.#log ??= runtime.logger.child({ component: 'broker' }));
    if (!this.#registered) {
      runtime.addresses.register(BROKER_KIND, (ref) =>
        this.instances.has(nsKey(ref.namespace, ref.name)) ? { url: brokerUrl(runtime.publicUrl, ref.namespace, ref.name) } : undefined,
      );
      // Backlog and depth gauges per broker, with each Trigger as a subscription.
      runtime.metrics.observeChannels(() =>
        [...this.instances.values()].map((i) => ({ namespace: i.namespace, name: i.name, kind: i.backendKind, stats: i.channel.stats() })),
      );
      this.#registered = true;
    }
    const configMaps = new Map<string, ConfigMapContent>();
    for (const { resource } of runtime.list<ConfigMapContent>(CONFIG_MAP_KIND)) {
      configMaps.set(nsKey(resource.metadata.namespace, resource.metadata.name), resource.spec);
      runtime.setStatus(resource, readyStatus(true, 'Loaded'));
    }
    const { channelRegistry, defaultChannelTemplate, metrics } = runtime;
    const channels = (this.#channels ??= new ChannelManager({ registry: channelRegistry, logger: log, drainMs: runtime.drainOnReplaceMs }));
    const desired = new Set<string>();
    for (const { resource } of runtime.list<BrokerSpec>(BROKER_KIND)) {
      const { namespace, name } = resource.metadata;
      const key = nsKey(namespace, name);
      const backing = brokerBacking(resource, { configMap: (ns, n) => configMaps.get(nsKey(ns, n)), defaultTemplate: defaultChannelTemplate });
      if (!backing.ok) {
        runtime.setStatus(resource, readyStatus(false, backing.reason, backing.message));
        continue;
      }
      const { kind: backendKind, spec = {} } = backing.template;
      const res = channels.ensure(key, { namespace, name: BROKER_CHANNEL_PREFIX + name, backendKind, spec });
      if (!res.ok) {
        runtime.setStatus(resource, readyStatus(false, res.reason, res.message));
        continue;
      }
      desired.add(key);
      const delivery = resource.spec.delivery ?? BROKER_DEFAULT_DELIVERY;
      const existing = this.instances.get(key);
      if (existing && res.change === 'unchanged') {
        existing.resource = resource;
        existing.delivery = delivery;
        continue;
      }
      const channel = res.managed.channel;
      const ingress = new BrokerIngress(namespace, name, channel, { metrics, logger: log });
      this.instances.set(key, { namespace, name, resource, backendKind, channel, ingress, delivery, generation: res.managed.generation });
    }
    for (const [key, inst] of this.instances) {
      if (desired.has(key)) continue;
      this.instances.delete(key);
      runtime.targets.brokers.delete(key);
      channels.remove(key);
      log.info({ broker: key, backend: inst.backendKind }, 'broker deleted');
    }
  }

  /** Publishes each broker's ingress on its current channel, retires replaced channels, and sets Broker status. */
  commit(runtime: ReconcileContext): void {
    const targets = runtime.targets.brokers;
    for (const [key, inst] of this.instances) {
      if (targets.get(key) !== inst.ingress) targets.set(key, inst.ingress);
      // The Triggers are on the current channel: a replaced one stops taking events and drains.
      this.#channels?.commit(key);
      runtime.setStatus(inst.resource, this.#status(runtime, inst));
    }
  }

  #status(runtime: ReconcileContext, inst: BrokerInstance) {
    const address = { url: brokerUrl(runtime.publicUrl, inst.namespace, inst.name) };
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

  async close(deadline: number): Promise<void> {
    this.instances.clear();
    await this.#channels?.close(deadline);
  }
}
