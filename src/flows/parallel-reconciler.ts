import type { Logger } from 'pino';
import type { Resource, ResourceStatus } from '../resources/types.js';
import { nsKey } from '../resources/types.js';
import type { ReconcileContext, Reconciler } from '../runtime/runtime.js';
import { readyStatus } from '../runtime/status.js';
import { PARALLEL_KIND, type ParallelSpec } from './flow-kinds.js';
import { deliveryOf, flowSelfLoop, FlowNotReady, FlowWiring, resolveOrThrow, type FlowPlan, type FlowWired, type PlannedChannel, type PlannedSubscription } from './flow-wiring.js';

const MESSAGING_V1 = 'messaging.knative.dev/v1';

/** The ingress path of a Parallel (its address: the ingress channel), no leading slash. */
export function parallelPath(namespace: string, name: string): string {
  return `flows/${namespace}/parallels/${name}`;
}

/** The ingress path of branch `i`'s channel (where its filter's replies go). */
export function parallelBranchPath(namespace: string, name: string, i: number): string {
  return `${parallelPath(namespace, name)}/branches/${i}`;
}

/** The ingress channel (`parallel.<name>`) and branch channels (`parallel.<name>.<i>`): dotted, so no user channel shares them. */
export function parallelChannelName(name: string, branch?: number): string {
  return branch === undefined ? `parallel.${name}` : `parallel.${name}.${branch}`;
}

/**
 * Parallels (flows.knative.dev/v1), as Knative builds them: one ingress channel (the
 * Parallel's address, `<publicUrl>/flows/<ns>/parallels/<name>`) and one channel per
 * branch. On the ingress channel, branch i's filter subscription sends each event to the
 * branch's filter with the branch channel as reply (a filter passes an event by answering
 * with it, drops it by answering 2xx without one); without a filter it forwards every event
 * to the branch channel. On the branch channel, a subscription sends to the branch's
 * subscriber with the branch's `reply`, else the Parallel's `spec.reply`.
 */
export class ParallelReconciler implements Reconciler {
  readonly phase = 'address' as const;
  readonly #wiring = new FlowWiring('parallel');
  #known = new Set<string>();
  #registered = false;
  #log: Logger | undefined;
  #retrySignature = '';

  async reconcile(runtime: ReconcileContext): Promise<void> {
    const log = (this.#log ??= runtime.logger.child({ component: 'parallel' }));
    if (!this.#registered) {
      runtime.addresses.register(PARALLEL_KIND, (ref) =>
        this.#known.has(nsKey(ref.namespace, ref.name)) ? { url: `${runtime.publicUrl}/${parallelPath(ref.namespace, ref.name)}` } : undefined,
      );
      this.#registered = true;
    }
    const resources = runtime.list<ParallelSpec>(PARALLEL_KIND);
    this.#known = new Set(resources.map(({ resource: r }) => nsKey(r.metadata.namespace, r.metadata.name)));
    this.#wiring.begin();
    const unresolved: string[] = [];
    for (const { resource } of resources) {
      const key = nsKey(resource.metadata.namespace, resource.metadata.name);
      try {
        const plan = this.#plan(runtime, resource);
        const wired = await this.#wiring.apply(runtime, key, plan, log);
        runtime.setStatus(resource, this.#status(runtime, resource, wired));
      } catch (err) {
        if (!(err instanceof FlowNotReady)) throw err;
        this.#wiring.keep(key);
        if (err.reason.endsWith('ResolveFailed')) unresolved.push(`${key}: ${err.message}`);
        runtime.setStatus(resource, readyStatus(false, err.reason, err.message, this.#address(runtime, resource)));
      }
    }
    await this.#wiring.end(runtime);
    // A branch may name a kind whose reconciler runs later in the pass: one more pass per new set of failures.
    const signature = unresolved.join('\n');
    if (signature && signature !== this.#retrySignature) runtime.reconcile().catch(() => {});
    this.#retrySignature = signature;
  }

  #address(runtime: ReconcileContext, r: Resource<ParallelSpec>): { address?: { url: string } } {
    const { namespace, name } = r.metadata;
    return this.#wiring.has(nsKey(namespace, name)) ? { address: { url: `${runtime.publicUrl}/${parallelPath(namespace, name)}` } } : {};
  }

  #plan(runtime: ReconcileContext, r: Resource<ParallelSpec>): FlowPlan {
    const { namespace: ns, name } = r.metadata;
    const parallelReply = r.spec.reply ? resolveOrThrow(runtime, r.spec.reply, ns, 'spec.reply', 'ReplyResolveFailed').url : undefined;
    const channels: PlannedChannel[] = [{ name: parallelChannelName(name), path: parallelPath(ns, name) }];
    const subscriptions: PlannedSubscription[] = [];
    // Where the user's own destinations lead (the flow's internal hops are its own by design).
    const destinations: Array<{ field: string; url: string | undefined }> = [{ field: 'spec.reply', url: parallelReply }];
    for (const [i, b] of r.spec.branches.entries()) {
      const where = `spec.branches[${i}]`;
      const branchChannel = channels.push({ name: parallelChannelName(name, i), path: parallelBranchPath(ns, name, i) }) - 1;
      const branchUrl = `${runtime.publicUrl}/${parallelBranchPath(ns, name, i)}`;
      const { policy, deadLetterUri } = deliveryOf(runtime, b.delivery, ns, `${where}.delivery`);
      const filter = b.filter ? resolveOrThrow(runtime, b.filter, ns, `${where}.filter`, 'FilterResolveFailed') : undefined;
      const subscriber = resolveOrThrow(runtime, b.subscriber, ns, `${where}.subscriber`, 'SubscriberResolveFailed');
      const reply = b.reply ? resolveOrThrow(runtime, b.reply, ns, `${where}.reply`, 'ReplyResolveFailed').url : parallelReply;
      destinations.push({ field: `${where}.filter`, url: filter?.url }, { field: `${where}.subscriber`, url: subscriber.url }, { field: `${where}.reply`, url: b.reply ? reply : undefined });
      subscriptions.push({
        name: `${name}-kn-parallel-filter-${i}`,
        channel: 0,
        // Without a filter every event passes: the subscription forwards it to the branch channel.
        ...(filter
          ? { subscriberUri: filter.url, ...(filter.endpoint ? { endpoint: filter.endpoint } : {}), replyUri: branchUrl }
          : { subscriberUri: branchUrl }),
        deadLetterUri,
        policy,
      });
      subscriptions.push({
        name: `${name}-kn-parallel-${i}`,
        channel: branchChannel,
        subscriberUri: subscriber.url,
        ...(subscriber.endpoint ? { endpoint: subscriber.endpoint } : {}),
        replyUri: reply,
        deadLetterUri,
        policy,
      });
    }
    const loop = flowSelfLoop(destinations, parallelPath(ns, name), 'Parallel', r.metadata, [runtime.publicUrl]);
    if (loop) throw loop;
    return { namespace: ns, template: r.spec.channelTemplate ?? runtime.defaultChannelTemplate, channels, subscriptions };
  }

  #status(runtime: ReconcileContext, r: Resource<ParallelSpec>, wired: FlowWired): ResourceStatus {
    const ns = r.metadata.namespace;
    const apiVersion = (r.spec.channelTemplate ?? runtime.defaultChannelTemplate).apiVersion || MESSAGING_V1;
    const channelStatus = (c: FlowWired['channels'][number]) => ({ channel: { apiVersion, kind: c.kind, name: c.name, namespace: ns }, ready: c.ready });
    const subscriptionStatus = (s: FlowWired['subscriptions'][number]) => ({
      subscription: { apiVersion: MESSAGING_V1, kind: 'Subscription', name: s.name, namespace: ns },
      ready: s.ready,
    });
    const [ingress, ...branchChannels] = wired.channels;
    const branchStatuses = branchChannels.map((c, i) => ({
      filterSubscriptionStatus: subscriptionStatus(wired.subscriptions[2 * i]!),
      filterChannelStatus: channelStatus(c),
      subscriptionStatus: subscriptionStatus(wired.subscriptions[2 * i + 1]!),
    }));
    const extra = { ...this.#address(runtime, r), ingressChannelStatus: channelStatus(ingress!), branchStatuses };
    const notReady = wired.channels.find((c) => c.ready.status !== 'True');
    if (notReady) return readyStatus(false, 'ChannelsNotReady', `channel ${notReady.name}: ${notReady.ready.message ?? 'not ready'}`, extra);
    return readyStatus(true, 'ParallelReady', undefined, extra);
  }

  async close(deadline: number): Promise<void> {
    await this.#wiring.close(deadline);
  }
}
