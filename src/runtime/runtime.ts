import type { Logger } from 'pino';
import type { Channel } from '../channels/channel.js';
import { ChannelManager } from '../channels/channel-manager.js';
import { SubscriptionManager, type DeliveryHandlers } from '../subscriptions/subscription-manager.js';
import type { ChannelRegistry } from '../channels/registry.js';
import type { Dispatcher, DeliveryTarget } from '../dispatcher/index.js';
import type { SluiceEvent } from '../events/types.js';
import type { ResourceValidationError } from '../errors.js';
import type { ChannelStatsEntry, Metrics } from '../observability/metrics.js';
import type { ChannelTemplate, LoadedResource, Resource, ResourceStatus, SecretResource, SubscriptionSpec } from '../resources/types.js';
import { nsKey } from '../resources/types.js';
import type { ResourceView, RuntimeView } from './runtime-view.js';
import { IngressTargets, type AddressOwner, type IngressTarget } from './ingress-targets.js';
import type { DeliverySpec } from '../subscriptions/delivery-spec.js';
import { resolveDeliveryPolicy } from '../subscriptions/index.js';
import { AddressResolver, DestinationError } from './addressing.js';
import { channelCycles, loopAllowed, loopMessage, LoopReporter, subscriptionSelfLoop, type ChannelEdge } from './loop-guard.js';
import { mergeStatus, readyStatus } from './status.js';


/**
 * The resource kind behind each kind of ingress address other than channels (whose kind
 * is the channel's own): its annotations, such as the ingress token, apply to the address.
 */
const RESOURCE_KIND_OF: Partial<Record<AddressOwner['kind'], string>> = {
  broker: 'Broker',
  sequence: 'Sequence',
  parallel: 'Parallel',
  transform: 'EventTransform',
  jobsink: 'JobSink',
};

export interface RuntimeOptions {
  logger: Logger;
  metrics: Metrics;
  dispatcher: Dispatcher;
  channelRegistry: ChannelRegistry;
  targets: IngressTargets;
  /** How Sluice reaches its own ingress (used for addresses and refs to channels). */
  publicUrl: string;
  /** What a `Channel` without `channelTemplate` becomes (`--default-channel`). */
  defaultChannelTemplate: ChannelTemplate;
  /** Concurrent deliveries per subscription. */
  maxInFlightPerSubscription?: number;
  /** How long a replaced or deleted channel may drain before it is closed. */
  drainOnReplaceMs?: number;
}

/** A channel resource as the runtime runs it: the managed channel plus what the resource says. */
interface ChannelInstance {
  readonly resourceKind: string;
  readonly backendKind: string;
  readonly channel: Channel;
  delivery: DeliverySpec | undefined;
}

/**
 * A feature's control loop (brokers, sources, services, displays) plugs in here. Each
 * pass runs channels first, then `address` reconcilers (things others reference), then
 * subscriptions, then `consumer` reconcilers (things that send to others).
 */
export interface Reconciler {
  readonly phase: 'address' | 'consumer';
  reconcile(ctx: ReconcileContext): Promise<void>;
  close?(deadline: number): Promise<void>;
}

/** What a reconciler gets of the runtime: its options (read live: `publicUrl` follows a port bound later), resources, statuses, Secrets, addresses. */
export interface ReconcileContext extends Readonly<Required<Omit<RuntimeOptions, 'dispatcher'>>> {
  /** Delivery handlers for subscriptions (Triggers) and plain sends (sources' emits). */
  readonly dispatcher: DeliveryHandlers<DeliveryTarget> & Pick<Dispatcher, 'send'>;
  readonly addresses: AddressResolver;
  /** Resources of one kind, as validated by that kind's definition. */
  list<S = Record<string, unknown>>(kind: string): Array<LoadedResource<S>>;
  setStatus(resource: Resource<unknown>, status: ResourceStatus): void;
  getSecret(namespace: string, name: string): SecretResource | undefined;
  /** Asks for another pass (a source's start retry is due). */
  reconcile(): Promise<void>;
}

interface InvalidEntry {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  error: ResourceValidationError;
}

const SUBSCRIPTION = 'Subscription';
const CHANNEL = 'Channel';

/**
 * The control loop: holds the resources, and turns them into channels, subscriptions and
 * ingress targets. Reconciliation is a full, idempotent pass, serialised, run after every
 * change; the data plane (ingress, channels, dispatcher) never reads YAML.
 */
export class SluiceRuntime implements RuntimeView, ReconcileContext {
  readonly addresses = new AddressResolver();
  #o: Required<RuntimeOptions>;
  readonly #log: Logger;
  #resources = new Map<string, LoadedResource>();
  #invalid = new Map<string, InvalidEntry>();
  #secrets = new Map<string, SecretResource>();
  #status = new Map<string, ResourceStatus>();
  #channels = new Map<string, ChannelInstance>();
  /**
   * resourceAt's answers by address (every ingress request asks, to find its token
   * annotation): two key strings and two lookups per request were a measurable share of
   * the fast path. Dropped whole by #addressesChanged whenever a resource or channel changes.
   */
  #resourceAtCache = new WeakMap<AddressOwner, { resource: Resource | undefined }>();
  /** Creates, replaces, drains and destroys the channels of Channel resources. */
  readonly #channelManager: ChannelManager;
  /** Subscribes, re-subscribes and unsubscribes Subscriptions on those channels. */
  readonly #subscriptionManager: SubscriptionManager<DeliveryTarget>;
  #chain: Promise<void> = Promise.resolve();
  #reconciled = false;
  #closing = false;
  #reconcilers: Reconciler[] = [];
  #loops = new LoopReporter(() => this.#log);
  /**
   * Ingress switches to a new or replaced channel only once its subscriptions are on it:
   * an in-memory channel drops what it accepts while it has no subscription.
   */
  #swaps: Array<() => void> = [];

  constructor(options: RuntimeOptions) {
    this.#o = { maxInFlightPerSubscription: 100, drainOnReplaceMs: 5000, ...options };
    this.#log = options.logger.child({ component: 'runtime' });
    this.#channelManager = new ChannelManager({ registry: options.channelRegistry, logger: this.#log, drainMs: this.#o.drainOnReplaceMs });
    this.#subscriptionManager = new SubscriptionManager({
      handlers: options.dispatcher,
      logger: this.#log,
      maxInFlight: this.#o.maxInFlightPerSubscription,
      isRetired: (c) => this.#channelManager.isRetired(c),
    });
    const channelAddress = (ref: { namespace: string; name: string; kind: string }) => {
      const inst = this.#channels.get(nsKey(ref.namespace, ref.name));
      if (!inst || inst.resourceKind !== ref.kind) return undefined;
      return { url: this.channelUrl(ref.namespace, ref.name) };
    };
    this.addresses.register(CHANNEL, channelAddress);
    for (const kind of options.channelRegistry.kinds()) this.addresses.register(kind, channelAddress);
    options.metrics.observeChannels(() => this.channelStats());
  }

  /** The resource behind an ingress address (whose annotations say how it is protected). */
  resourceAt(target: AddressOwner): Resource | undefined {
    const hit = this.#resourceAtCache.get(target);
    if (hit) return hit.resource;
    const resource = this.#lookUpResourceAt(target);
    this.#resourceAtCache.set(target, { resource });
    return resource;
  }

  #lookUpResourceAt(target: AddressOwner): Resource | undefined {
    const kind = target.kind === 'channel' ? this.#channels.get(nsKey(target.namespace, target.name))?.resourceKind : RESOURCE_KIND_OF[target.kind];
    return kind ? this.#resources.get(SluiceRuntime.key(kind, target.namespace, target.name))?.resource : undefined;
  }

  #addressesChanged(): void {
    this.#resourceAtCache = new WeakMap();
  }

  /** The ingress base URL, known only once the port is bound when listening on port 0. */
  setPublicUrl(url: string): void {
    this.#o.publicUrl = url.replace(/\/+$/, '');
  }

  channelUrl(namespace: string, name: string): string {
    return `${this.#o.publicUrl}/channels/${namespace}/${name}`;
  }

  static key(kind: string, namespace: string, name: string): string {
    return `${kind}/${namespace}/${name}`;
  }

  /** Adds or replaces resources, then reconciles. */
  async apply(items: readonly LoadedResource[], secrets: readonly SecretResource[] = []): Promise<void> {
    for (const s of secrets) {
      const key = nsKey(s.metadata.namespace, s.metadata.name);
      const created = this.#secrets.get(key)?.metadata.creationTimestamp ?? s.metadata.creationTimestamp ?? new Date().toISOString();
      this.#secrets.set(key, { ...s, metadata: { ...s.metadata, creationTimestamp: created } });
    }
    for (const item of items) {
      const m = item.resource.metadata;
      const key = SluiceRuntime.key(item.resource.kind, m.namespace, m.name);
      this.#invalid.delete(key);
      // Kept across updates, so AGE counts from the first apply (as Kubernetes does).
      const created = this.#resources.get(key)?.resource.metadata.creationTimestamp ?? m.creationTimestamp ?? new Date().toISOString();
      this.#resources.set(key, m.creationTimestamp === created ? item : { ...item, resource: { ...item.resource, metadata: { ...m, creationTimestamp: created } } });
    }
    this.#addressesChanged();
    await this.reconcile();
  }

  /** Records documents that failed validation so the admin API shows why they are not Ready. */
  recordInvalid(errors: readonly ResourceValidationError[]): void {
    for (const e of errors) {
      if (!e.kind || !e.resourceName) continue;
      const [namespace = 'default', name = e.resourceName] = e.resourceName.includes('/') ? e.resourceName.split('/') : ['default', e.resourceName];
      const key = SluiceRuntime.key(e.kind, namespace, name);
      if (this.#resources.has(key)) continue;
      this.#invalid.set(key, { apiVersion: '', kind: e.kind, namespace, name, error: e });
    }
  }

  async delete(kind: string, namespace: string, name: string): Promise<boolean> {
    const key = SluiceRuntime.key(kind, namespace, name);
    // A Secret shares no key space with resources: deleting a missing Channel `x` must not delete Secret `x`.
    const existed = kind === 'Secret' ? this.#secrets.delete(nsKey(namespace, name)) : this.#resources.delete(key) || this.#invalid.delete(key);
    this.#status.delete(key);
    this.#addressesChanged();
    await this.reconcile();
    return existed;
  }

  /**
   * Deletes several resources (or Secrets) with one reconcile pass, not one per item:
   * a bulk delete of n resources stays O(n). Resolves to how many existed.
   */
  async deleteMany(items: ReadonlyArray<{ kind: string; namespace: string; name: string }>): Promise<number> {
    let existed = 0;
    for (const { kind, namespace, name } of items) {
      const key = SluiceRuntime.key(kind, namespace, name);
      if (kind === 'Secret' ? this.#secrets.delete(nsKey(namespace, name)) : this.#resources.delete(key) || this.#invalid.delete(key)) existed++;
      this.#status.delete(key);
    }
    this.#addressesChanged();
    if (items.length) await this.reconcile();
    return existed;
  }

  getSecret(namespace: string, name: string): SecretResource | undefined {
    return this.#secrets.get(nsKey(namespace, name));
  }

  listSecrets(): SecretResource[] {
    return [...this.#secrets.values()];
  }

  /** Resources of one kind, for reconcilers of later features. */
  list<S = Record<string, unknown>>(kind: string): Array<LoadedResource<S>> {
    return [...this.#resources.values()].filter((r) => r.resource.kind === kind) as Array<LoadedResource<S>>;
  }

  setStatus(resource: Resource<unknown>, status: ResourceStatus): void {
    const key = SluiceRuntime.key(resource.kind, resource.metadata.namespace, resource.metadata.name);
    this.#status.set(key, mergeStatus(this.#status.get(key), status));
  }

  /** Serialised full reconcile. */
  reconcile(): Promise<void> {
    const run = this.#chain.then(() => this.#reconcileOnce());
    this.#chain = run.catch((err) => this.#log.error({ err }, 'reconcile failed'));
    return run;
  }

  addReconciler(reconciler: Reconciler): void {
    this.#reconcilers.push(reconciler);
  }

  get options(): Readonly<Required<RuntimeOptions>> {
    return this.#o;
  }

  get logger(): Logger { return this.#o.logger; }
  get metrics(): Metrics { return this.#o.metrics; }
  get dispatcher(): Dispatcher { return this.#o.dispatcher; }
  get channelRegistry(): ChannelRegistry { return this.#o.channelRegistry; }
  get targets(): IngressTargets { return this.#o.targets; }
  get publicUrl(): string { return this.#o.publicUrl; }
  get defaultChannelTemplate(): ChannelTemplate { return this.#o.defaultChannelTemplate; }
  get maxInFlightPerSubscription(): number { return this.#o.maxInFlightPerSubscription; }
  get drainOnReplaceMs(): number { return this.#o.drainOnReplaceMs; }

  async #reconcileOnce(): Promise<void> {
    if (this.#closing) return;
    try {
      await this.#reconcileChannels();
      for (const r of this.#reconcilers) if (r.phase === 'address') await this.#guard(r);
      await this.#reconcileSubscriptions();
    } finally {
      for (const swap of this.#swaps.splice(0)) swap();
    }
    for (const r of this.#reconcilers) if (r.phase === 'consumer') await this.#guard(r);
    this.#reconciled = true;
  }

  /** One feature failing must not stop the others from reconciling. */
  async #guard(r: Reconciler): Promise<void> {
    try {
      await r.reconcile(this);
    } catch (err) {
      this.#log.error({ err }, 'a reconciler failed');
    }
  }

  #channelBackend(r: Resource): { backendKind: string; spec: Record<string, unknown> } {
    if (r.kind === CHANNEL) {
      const t = (r.spec as { channelTemplate?: ChannelTemplate }).channelTemplate ?? this.#o.defaultChannelTemplate;
      return { backendKind: t.kind, spec: t.spec ?? {} };
    }
    return { backendKind: r.kind, spec: r.spec };
  }

  #isChannelKind(kind: string): boolean {
    return kind === CHANNEL || this.#o.channelRegistry.get(kind) !== undefined;
  }

  async #reconcileChannels(): Promise<void> {
    const desired = new Set<string>();
    for (const { resource: r } of this.#resources.values()) {
      if (!this.#isChannelKind(r.kind)) continue;
      const { namespace, name } = r.metadata;
      const key = nsKey(namespace, name);
      const existing = this.#channels.get(key);
      if (existing && existing.resourceKind !== r.kind) {
        this.setStatus(r, readyStatus(false, 'AddressInUse', `${existing.resourceKind} ${key} already uses this channel address`));
        continue;
      }
      const { backendKind, spec } = this.#channelBackend(r);
      const res = this.#channelManager.ensure(key, { namespace, name, backendKind, spec });
      if (!res.ok) {
        this.setStatus(r, readyStatus(false, res.reason, res.message));
        continue;
      }
      desired.add(key);
      const { channel } = res.managed;
      const inst: ChannelInstance = { resourceKind: r.kind, backendKind, channel, delivery: (r.spec as { delivery?: DeliverySpec }).delivery };
      this.#channels.set(key, inst);
      if (res.change !== 'unchanged') {
        this.#swaps.push(() => {
          this.#o.targets.channels.set(key, channelTarget(namespace, name, channel));
          // The replaced channel stops taking events and drains its backlog to its subscribers.
          this.#channelManager.commit(key);
        });
      }
      this.setStatus(r, this.#channelStatus(key, inst));
    }
    for (const key of [...this.#channels.keys()]) {
      if (desired.has(key)) continue;
      this.#channels.delete(key);
      this.#o.targets.channels.delete(key);
      this.#channelManager.remove(key);
    }
    // Once per pass, not per channel: nothing between here and the loops above awaits, so no request saw the old answers.
    this.#addressesChanged();
  }

  /** The channel's Ready condition as of now: a durable backend can go away between reconciles. */
  #channelStatus(key: string, inst: ChannelInstance): ResourceStatus {
    const [namespace = '', name = ''] = key.split('/');
    const address = { url: this.channelUrl(namespace, name) };
    // Spec fields accepted without effect are listed, never dropped silently (as a Service's are).
    const ignored = inst.channel.ignoredFields?.() ?? [];
    const extra = { address, backend: inst.backendKind, ...(ignored.length ? { ignoredFields: ignored.map((f) => f.path) } : {}) };
    if (inst.channel.ready()) {
      // Ready, with what the operator should still know (a Redis without AOF can lose accepted events).
      const notes = [inst.channel.durabilityWarning?.(), ignored.length ? `ignored: ${ignored.map((f) => `${f.path} (${f.reason})`).join('; ')}` : undefined];
      return readyStatus(true, 'ChannelReady', notes.filter(Boolean).join('; ') || undefined, extra);
    }
    return readyStatus(false, 'BackendNotReady', channelNotReadyReason(inst.channel, inst.backendKind), extra);
  }

  async #reconcileSubscriptions(): Promise<void> {
    const desired = new Set<string>();
    const cycles = channelCycles(this.#channelEdges(), [this.#o.publicUrl]);
    for (const { resource: r } of this.list<SubscriptionSpec>(SUBSCRIPTION)) {
      const { namespace, name } = r.metadata;
      const key = nsKey(namespace, name);
      const chRef = r.spec.channel;
      const channelKey = nsKey(namespace, chRef.name);
      const inst = this.#channels.get(channelKey);
      if (!inst || inst.resourceKind !== chRef.kind) {
        this.setStatus(r, readyStatus(false, 'ChannelNotFound', `${chRef.kind} ${channelKey} not found or not ready`));
        continue;
      }
      let target: DeliveryTarget;
      try {
        target = this.#deliveryTarget(r, inst, chRef.name);
      } catch (err) {
        if (!(err instanceof DestinationError)) throw err;
        this.setStatus(r, readyStatus(false, err.conditionReason, err.message));
        continue;
      }
      // A subscriber or reply that is this channel (or leads back to it) would loop with no guard at all.
      const loop = subscriptionSelfLoop({ subscriber: target.subscriberUri, reply: target.replyUri }, namespace, chRef.name, [this.#o.publicUrl]) ?? cycles.get(key);
      this.#loops.report(SUBSCRIPTION, key, loop, loopAllowed(r.metadata));
      if (loop && !loopAllowed(r.metadata)) {
        this.setStatus(r, readyStatus(false, loop.reason, loopMessage(loop, SUBSCRIPTION)));
        continue;
      }
      desired.add(key);
      try {
        await this.#subscriptionManager.ensure(key, { channelKey, channel: inst.channel, target });
      } catch (err) {
        this.setStatus(r, readyStatus(false, 'SubscribeFailed', (err as Error).message));
        continue;
      }
      this.setStatus(
        r,
        readyStatus(true, 'SubscriptionReady', undefined, {
          physicalSubscription: { subscriberUri: target.subscriberUri, replyUri: target.replyUri, deadLetterSinkUri: target.deadLetterUri },
        }),
      );
    }
    this.#loops.sweep();
    await this.#subscriptionManager.retain(desired);
  }

  /** Subscriptions on existing channels, with where their subscriber and reply send (for the loop check). */
  #channelEdges(): ChannelEdge[] {
    const edges: ChannelEdge[] = [];
    for (const { resource: r } of this.list<SubscriptionSpec>(SUBSCRIPTION)) {
      const { namespace: ns, name } = r.metadata;
      if (this.#channels.get(nsKey(ns, r.spec.channel.name))?.resourceKind !== r.spec.channel.kind) continue;
      const urls: string[] = [];
      for (const [dest, what] of [[r.spec.subscriber, 'spec.subscriber'], [r.spec.reply, 'spec.reply']] as const) {
        try {
          if (dest) urls.push(this.addresses.resolve(dest, ns, what).url);
        } catch {
          // Unresolvable: reported when the Subscription itself is reconciled.
        }
      }
      edges.push({ subscription: nsKey(ns, name), from: nsKey(ns, r.spec.channel.name), urls });
    }
    return edges;
  }

  #deliveryTarget(r: Resource<SubscriptionSpec>, inst: ChannelInstance, channelName: string): DeliveryTarget {
    const ns = r.metadata.namespace;
    const delivery = r.spec.delivery ?? inst.delivery;
    const subscriber = this.addresses.resolve(r.spec.subscriber, ns, 'spec.subscriber');
    const reply = r.spec.reply ? this.addresses.resolve(r.spec.reply, ns, 'spec.reply') : undefined;
    const dls = delivery?.deadLetterSink ? this.addresses.resolve(delivery.deadLetterSink, ns, 'spec.delivery.deadLetterSink') : undefined;
    return {
      namespace: ns,
      resource: channelName,
      subscription: r.metadata.name,
      subscriberUri: subscriber.url,
      ...(subscriber.endpoint ? { endpoint: subscriber.endpoint } : {}),
      ...(reply ? { replyUri: reply.url } : {}),
      ...(dls ? { deadLetterUri: dls.url } : {}),
      policy: resolveDeliveryPolicy(r.spec.delivery, inst.delivery),
    };
  }

  /** Each live channel with its backend's stats (the channel gauges read them at scrape time). */
  channelStats(): ChannelStatsEntry[] {
    const out: ChannelStatsEntry[] = [];
    for (const [key, inst] of this.#channels) {
      const [namespace = '', name = ''] = key.split('/');
      out.push({ namespace, name, kind: inst.backendKind, stats: inst.channel.stats() });
    }
    return out;
  }

  listResources(): ResourceView[] {
    const out: ResourceView[] = [];
    for (const [key, { resource: r }] of this.#resources) {
      const ch = this.#channels.get(nsKey(r.metadata.namespace, r.metadata.name));
      if (ch && ch.resourceKind === r.kind) this.setStatus(r, this.#channelStatus(nsKey(r.metadata.namespace, r.metadata.name), ch));
      out.push({ apiVersion: r.apiVersion, kind: r.kind, metadata: { ...r.metadata }, spec: r.spec, status: this.#status.get(key) ?? readyStatus(false, 'Pending') });
    }
    for (const inv of this.#invalid.values()) {
      out.push({
        apiVersion: inv.apiVersion,
        kind: inv.kind,
        metadata: { name: inv.name, namespace: inv.namespace },
        spec: null,
        status: readyStatus(false, 'InvalidSpec', inv.error.message),
      });
    }
    return out;
  }

  /**
   * One resource's status as listResources() shows it, without listing them all: the
   * admin API answers an apply of n resources with n of these (O(1) each, not O(n)).
   * Undefined for a resource the runtime does not hold (and for Secrets).
   */
  statusOf(kind: string, namespace: string, name: string): ResourceStatus | undefined {
    const key = SluiceRuntime.key(kind, namespace, name);
    const item = this.#resources.get(key);
    if (!item) {
      const inv = this.#invalid.get(key);
      return inv ? readyStatus(false, 'InvalidSpec', inv.error.message) : undefined;
    }
    const r = item.resource;
    const ch = this.#channels.get(nsKey(namespace, name));
    if (ch && ch.resourceKind === r.kind) this.setStatus(r, this.#channelStatus(nsKey(namespace, name), ch));
    return this.#status.get(key) ?? readyStatus(false, 'Pending');
  }

  readiness(): { ready: boolean; pending: string[] } {
    const pending: string[] = [];
    if (!this.#reconciled) pending.push('initial reconcile');
    for (const [key, inst] of this.#channels) if (!inst.channel.ready()) pending.push(`channel ${key}: ${channelNotReadyReason(inst.channel, inst.backendKind)}`);
    return { ready: pending.length === 0, pending };
  }

  /** Drains every channel until `deadline` (epoch ms), then closes the dispatcher. */
  async close(deadline: number): Promise<void> {
    this.#closing = true;
    await this.#chain.catch(() => {});
    await Promise.all([
      this.#channelManager.close(deadline),
      ...this.#reconcilers.map((r) => r.close?.(deadline).catch(() => {})),
    ]);
    this.#channels.clear();
    this.#addressesChanged();
    await this.#o.dispatcher.close();
  }
}

/** Says which server is down (`NATS at nats://... is unreachable`) when the backend can tell. */
function channelNotReadyReason(channel: Channel, backendKind: string): string {
  return channel.notReadyReason?.() ?? `${backendKind} backend is not connected`;
}

function channelTarget(namespace: string, name: string, channel: Channel): IngressTarget {
  return {
    kind: 'channel',
    namespace,
    name,
    notReadyReason: () => (channel.ready() ? undefined : channelNotReadyReason(channel, channel.kind)),
    accept: (events: readonly SluiceEvent[]) => {
      if (events.length === 1) return channel.publish(events[0]!);
      if (events.length === 0) return Promise.resolve();
      return channel.publishBatch ? channel.publishBatch(events) : Promise.all(events.map((e) => channel.publish(e))).then(() => undefined);
    },
  };
}

export { IngressTargets };
