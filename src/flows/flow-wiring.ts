import type { Logger } from 'pino';
import type { Channel } from '../channels/channel.js';
import { ChannelManager } from '../channels/channel-manager.js';
import type { DeliveryTarget } from '../dispatcher/index.js';
import type { SluiceEvent } from '../events/types.js';
import type { ChannelTemplate, Condition, Destination, ObjectMeta } from '../resources/types.js';
import { ownPathOf } from '../runtime/ingress-address.js';
import { ALLOW_LOOP_ANNOTATION, loopAllowed } from '../runtime/loop-guard.js';
import { DestinationError, type ResolvedDestination } from '../runtime/addressing.js';
import type { AddressOwner, IngressTarget } from '../runtime/ingress-targets.js';
import type { ReconcileContext } from '../runtime/runtime.js';
import { resolveDeliveryPolicy, type DeliveryPolicy, type DeliverySpec } from '../subscriptions/index.js';
import { SubscriptionManager } from '../subscriptions/subscription-manager.js';

/** Why a flow cannot be wired, as its Ready condition. */
export class FlowNotReady extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * A flow whose own destinations (a step's or branch's subscriber, a reply) lead back into
 * the flow itself: every event would go round for ever. Not wired unless the flow is
 * annotated sluice.dev/allow-loop: "true" (as for Triggers and Subscriptions); undefined
 * when no destination loops. `ownPath` is the flow's address path (its channels' paths
 * start with it).
 */
export function flowSelfLoop(
  destinations: ReadonlyArray<{ readonly field: string; readonly url: string | undefined }>,
  ownPath: string,
  kind: 'Sequence' | 'Parallel',
  meta: Pick<ObjectMeta, 'annotations'>,
  bases: readonly string[],
): FlowNotReady | undefined {
  if (loopAllowed(meta)) return undefined;
  for (const { field, url } of destinations) {
    if (url === undefined) continue;
    const path = ownPathOf(url, bases);
    if (path === undefined || (path !== ownPath && !path.startsWith(ownPath + '/'))) continue;
    return new FlowNotReady(
      `DestinationIs${kind}Itself`,
      `${field} (${url}) is an address of this ${kind} itself: every event would go round it for ever. ` +
        `Not wired; if the loop is intended, annotate the ${kind} ${ALLOW_LOOP_ANNOTATION}: "true"`,
    );
  }
  return undefined;
}

/** One channel of a flow: built under `name` (`sequence.<seq>.<i>`), taking events at `path` on the ingress. */
export interface PlannedChannel {
  readonly name: string;
  /** The key in IngressTargets.paths (`flows/<ns>/sequences/<name>`), no leading slash. */
  readonly path: string;
}

/** One subscription of a flow on one of its channels (by index), delivering to `target`. */
export interface PlannedSubscription {
  /** Knative's name for it (`<seq>-kn-sequence-<i>`): the metrics' `subscription` label. */
  readonly name: string;
  readonly channel: number;
  readonly subscriberUri: string;
  readonly endpoint?: ResolvedDestination['endpoint'];
  readonly replyUri?: string | undefined;
  readonly deadLetterUri?: string | undefined;
  readonly policy: DeliveryPolicy;
}

/** What a flow resource becomes: channels and the subscriptions between them. */
export interface FlowPlan {
  readonly namespace: string;
  readonly template: ChannelTemplate;
  readonly channels: readonly PlannedChannel[];
  readonly subscriptions: readonly PlannedSubscription[];
}

/** The outcome of wiring one flow: each channel's and subscription's Ready condition, in plan order. */
export interface FlowWired {
  readonly channels: ReadonlyArray<{ name: string; kind: string; ready: Condition }>;
  readonly subscriptions: ReadonlyArray<{ name: string; ready: Condition }>;
}

interface Applied {
  readonly channelKeys: readonly string[];
  readonly subscriptionIds: readonly string[];
  readonly paths: readonly string[];
}

/** A flow's channel as an ingress address: 202 once the channel stored the event. */
export class FlowChannelIngress implements IngressTarget {
  /** The Sequence or Parallel: its ingress token protects every address of the flow. */
  readonly owner: AddressOwner;
  constructor(
    readonly kind: 'sequence' | 'parallel',
    readonly namespace: string,
    readonly name: string,
    readonly channel: Channel,
    flowName: string,
  ) {
    this.owner = { kind, namespace, name: flowName };
  }

  notReadyReason(): string | undefined {
    if (this.channel.ready()) return undefined;
    return this.channel.notReadyReason?.() ?? `the ${this.kind}'s ${this.channel.kind} channel is not connected`;
  }

  accept(events: readonly SluiceEvent[]): Promise<void> {
    if (events.length === 1) return this.channel.publish(events[0]!);
    if (events.length === 0) return Promise.resolve();
    if (this.channel.publishBatch) return this.channel.publishBatch(events);
    return Promise.all(events.map((e) => this.channel.publish(e))).then(() => undefined);
  }
}

export function condition(ready: boolean, reason?: string, message?: string): Condition {
  const c: Condition = { type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: new Date().toISOString() };
  if (reason) c.reason = reason;
  if (message) c.message = message;
  return c;
}

/** Resolves a destination, or throws FlowNotReady naming the field. */
export function resolveOrThrow(runtime: ReconcileContext, dest: Destination, ns: string, what: string, reason: string): ResolvedDestination {
  try {
    return runtime.addresses.resolve(dest, ns, what);
  } catch (err) {
    if (err instanceof DestinationError) throw new FlowNotReady(reason, err.message);
    throw err;
  }
}

/** A step's or branch's delivery as a policy plus its resolved dead-letter sink. */
export function deliveryOf(runtime: ReconcileContext, delivery: DeliverySpec | undefined, ns: string, where: string): { policy: DeliveryPolicy; deadLetterUri?: string } {
  let policy: DeliveryPolicy;
  try {
    policy = resolveDeliveryPolicy(delivery);
  } catch (err) {
    throw new FlowNotReady('InvalidDelivery', `${where}: ${(err as Error).message}`);
  }
  const dls = delivery?.deadLetterSink ? resolveOrThrow(runtime, delivery.deadLetterSink, ns, `${where}.deadLetterSink`, 'DeadLetterSinkResolveFailed') : undefined;
  return dls ? { policy, deadLetterUri: dls.url } : { policy };
}

/**
 * The channels, subscriptions and ingress paths of one flow kind, on Sluice's own
 * ChannelManager and SubscriptionManager with the runtime's dispatcher handlers (so
 * retries, dead letters, replies, metrics and tracing are those of every subscription).
 * Each pass: `begin`, `apply` or `keep` per resource, then `end` retires the rest.
 * A flow whose wiring fails keeps its last good wiring (a durable channel's backlog is not
 * thrown away because a subscriber is briefly unresolvable).
 */
export class FlowWiring {
  readonly #kind: 'sequence' | 'parallel';
  #channels: ChannelManager | undefined;
  #subscriptions: SubscriptionManager<DeliveryTarget> | undefined;
  #applied = new Map<string, Applied>();
  #desired = new Set<string>();

  constructor(kind: 'sequence' | 'parallel') {
    this.#kind = kind;
  }

  /** Starts a pass. */
  begin(): void {
    this.#desired.clear();
  }

  /** Keeps a flow's last wiring as it is (its new spec could not be wired). */
  keep(resourceKey: string): void {
    if (this.#applied.has(resourceKey)) this.#desired.add(resourceKey);
  }

  /** True once the flow's channels were wired at least once. */
  has(resourceKey: string): boolean {
    return this.#applied.has(resourceKey);
  }

  /**
   * Creates (or replaces) the plan's channels, subscribes every subscription, then
   * publishes the channels' ingress paths and retires replaced channels: an in-memory
   * channel drops what it takes while it has no subscription, so addresses come last.
   * Throws FlowNotReady when a channel cannot be created or a subscription is refused.
   */
  async apply(runtime: ReconcileContext, resourceKey: string, plan: FlowPlan, log: Logger): Promise<FlowWired> {
    let channels = this.#channels;
    if (!channels) {
      const manager = (channels = this.#channels = new ChannelManager({ registry: runtime.channelRegistry, logger: log, drainMs: runtime.drainOnReplaceMs }));
      // Backlog and depth gauges per flow channel, each step's or branch's subscription among them.
      runtime.metrics.observeChannels(() =>
        [...manager.entries()].map(([key, m]) => {
          const i = key.indexOf('/');
          return { namespace: key.slice(0, i), name: key.slice(i + 1), kind: m.backendKind, stats: m.channel.stats() };
        }),
      );
    }
    const subscriptions = (this.#subscriptions ??= new SubscriptionManager({
      handlers: runtime.dispatcher,
      logger: log,
      maxInFlight: runtime.maxInFlightPerSubscription,
      isRetired: (c) => this.#channels?.isRetired(c) ?? false,
    }));
    const ns = plan.namespace;
    const { kind: backendKind, spec = {} } = plan.template;
    const built: Array<{ key: string; channel: Channel }> = [];
    for (const c of plan.channels) {
      const key = `${ns}/${c.name}`;
      const res = channels.ensure(key, { namespace: ns, name: c.name, backendKind, spec });
      if (!res.ok) throw new FlowNotReady(res.reason, `spec.channelTemplate: ${res.message}`);
      built.push({ key, channel: res.managed.channel });
    }
    const subscriptionIds: string[] = [];
    const subStatus: Array<{ name: string; ready: Condition }> = [];
    for (const s of plan.subscriptions) {
      const ch = built[s.channel]!;
      const id = `${ns}/${s.name}`;
      const target: DeliveryTarget = {
        namespace: ns,
        resource: plan.channels[s.channel]!.name,
        subscription: s.name,
        subscriberUri: s.subscriberUri,
        ...(s.endpoint ? { endpoint: s.endpoint } : {}),
        ...(s.replyUri ? { replyUri: s.replyUri } : {}),
        ...(s.deadLetterUri ? { deadLetterUri: s.deadLetterUri } : {}),
        policy: s.policy,
      };
      try {
        await subscriptions.ensure(id, { channelKey: ch.key, channel: ch.channel, target });
      } catch (err) {
        throw new FlowNotReady('SubscribeFailed', `subscription ${s.name}: ${(err as Error).message}`);
      }
      subscriptionIds.push(id);
      subStatus.push({ name: s.name, ready: condition(true, 'SubscriptionReady') });
    }
    const paths: string[] = [];
    for (const [i, c] of plan.channels.entries()) {
      const { key, channel } = built[i]!;
      const current = runtime.targets.paths.get(c.path);
      if (!(current instanceof FlowChannelIngress) || current.channel !== channel) {
        runtime.targets.paths.set(c.path, new FlowChannelIngress(this.#kind, ns, c.name, channel, resourceKey.slice(ns.length + 1)));
      }
      channels.commit(key);
      paths.push(c.path);
    }
    this.#applied.set(resourceKey, { channelKeys: built.map((b) => b.key), subscriptionIds, paths });
    this.#desired.add(resourceKey);
    return {
      channels: built.map(({ channel }, i) => ({
        name: plan.channels[i]!.name,
        kind: backendKind,
        ready: channel.ready() ? condition(true, 'ChannelReady') : condition(false, 'BackendNotReady', channel.notReadyReason?.() ?? `${backendKind} backend is not connected`),
      })),
      subscriptions: subStatus,
    };
  }

  /** Ends a pass: unsubscribes, unpublishes and removes what no wanted flow uses any more. */
  async end(runtime: ReconcileContext): Promise<void> {
    const channelKeys = new Set<string>();
    const subscriptionIds = new Set<string>();
    const paths = new Set<string>();
    for (const [key, a] of this.#applied) {
      if (!this.#desired.has(key)) {
        this.#applied.delete(key);
        continue;
      }
      for (const k of a.channelKeys) channelKeys.add(k);
      for (const id of a.subscriptionIds) subscriptionIds.add(id);
      for (const p of a.paths) paths.add(p);
    }
    await this.#subscriptions?.retain(subscriptionIds);
    for (const [p, t] of runtime.targets.paths) {
      if (t instanceof FlowChannelIngress && t.kind === this.#kind && !paths.has(p)) runtime.targets.paths.delete(p);
    }
    if (this.#channels) for (const [k] of [...this.#channels.entries()]) if (!channelKeys.has(k)) this.#channels.remove(k);
  }

  async close(deadline: number): Promise<void> {
    this.#applied.clear();
    await this.#channels?.close(deadline);
  }
}
