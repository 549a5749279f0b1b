import type { Logger } from 'pino';
import type { Resource, ResourceStatus } from '../resources/types.js';
import { nsKey } from '../resources/types.js';
import type { ReconcileContext, Reconciler } from '../runtime/runtime.js';
import { readyStatus } from '../runtime/status.js';
import { SEQUENCE_KIND, type SequenceSpec } from './flow-kinds.js';
import { deliveryOf, flowSelfLoop, FlowNotReady, FlowWiring, resolveOrThrow, type FlowPlan, type FlowWired, type PlannedSubscription } from './flow-wiring.js';

const MESSAGING_V1 = 'messaging.knative.dev/v1';

/** The ingress path of a Sequence (its address, in front of step 0), no leading slash. */
export function sequencePath(namespace: string, name: string): string {
  return `flows/${namespace}/sequences/${name}`;
}

/** The ingress path of the channel in front of step `i` (step 0's is the Sequence's own address). */
export function sequenceStepPath(namespace: string, name: string, i: number): string {
  return i === 0 ? sequencePath(namespace, name) : `${sequencePath(namespace, name)}/steps/${i}`;
}

/** Channel `i` of a Sequence: a dot cannot appear in a Kubernetes name, so no user channel shares it. */
export function sequenceChannelName(name: string, i: number): string {
  return `sequence.${name}.${i}`;
}

/** Knative's name for the subscription of step `i`. */
export function sequenceSubscriptionName(name: string, i: number): string {
  return `${name}-kn-sequence-${i}`;
}

/**
 * Sequences (flows.knative.dev/v1), as Knative builds them: one channel per step, and on
 * channel i a subscription whose subscriber is step i and whose reply is channel i+1 (the
 * last step's reply is `spec.reply`, or dropped). Channel 0 is the Sequence's address,
 * `<publicUrl>/flows/<ns>/sequences/<name>`; channel i > 0 takes replies at `.../steps/<i>`.
 * Runs in the `address` phase so Subscriptions and Triggers may name a Sequence.
 */
export class SequenceReconciler implements Reconciler {
  readonly phase = 'address' as const;
  readonly #wiring = new FlowWiring('sequence');
  /** Sequences present in this pass: a ref to one resolves even before it is wired (order of resources does not matter). */
  #known = new Set<string>();
  #registered = false;
  #log: Logger | undefined;
  #retrySignature = '';

  async reconcile(runtime: ReconcileContext): Promise<void> {
    const log = (this.#log ??= runtime.logger.child({ component: 'sequence' }));
    if (!this.#registered) {
      runtime.addresses.register(SEQUENCE_KIND, (ref) =>
        this.#known.has(nsKey(ref.namespace, ref.name)) ? { url: `${runtime.publicUrl}/${sequencePath(ref.namespace, ref.name)}` } : undefined,
      );
      this.#registered = true;
    }
    const resources = runtime.list<SequenceSpec>(SEQUENCE_KIND);
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
    // A step may name a kind whose reconciler runs later in the pass: one more pass per new set of failures.
    const signature = unresolved.join('\n');
    if (signature && signature !== this.#retrySignature) runtime.reconcile().catch(() => {});
    this.#retrySignature = signature;
  }

  #address(runtime: ReconcileContext, r: Resource<SequenceSpec>): { address?: { url: string } } {
    const { namespace, name } = r.metadata;
    return this.#wiring.has(nsKey(namespace, name)) ? { address: { url: `${runtime.publicUrl}/${sequencePath(namespace, name)}` } } : {};
  }

  #plan(runtime: ReconcileContext, r: Resource<SequenceSpec>): FlowPlan {
    const { namespace: ns, name } = r.metadata;
    const steps = r.spec.steps;
    const replyUrl = r.spec.reply ? resolveOrThrow(runtime, r.spec.reply, ns, 'spec.reply', 'ReplyResolveFailed').url : undefined;
    const subscriptions: PlannedSubscription[] = steps.map((step, i) => {
      const where = `spec.steps[${i}]`;
      const { delivery, ...dest } = step;
      const subscriber = resolveOrThrow(runtime, dest, ns, where, 'SubscriberResolveFailed');
      const { policy, deadLetterUri } = deliveryOf(runtime, delivery, ns, `${where}.delivery`);
      const replyUri = i + 1 < steps.length ? `${runtime.publicUrl}/${sequenceStepPath(ns, name, i + 1)}` : replyUrl;
      return {
        name: sequenceSubscriptionName(name, i),
        channel: i,
        subscriberUri: subscriber.url,
        ...(subscriber.endpoint ? { endpoint: subscriber.endpoint } : {}),
        replyUri,
        deadLetterUri,
        policy,
      };
    });
    const loop = flowSelfLoop(
      [...subscriptions.map((s, i) => ({ field: `spec.steps[${i}]`, url: s.subscriberUri })), { field: 'spec.reply', url: replyUrl }],
      sequencePath(ns, name),
      'Sequence',
      r.metadata,
      [runtime.publicUrl],
    );
    if (loop) throw loop;
    return {
      namespace: ns,
      template: r.spec.channelTemplate ?? runtime.defaultChannelTemplate,
      channels: steps.map((_, i) => ({ name: sequenceChannelName(name, i), path: sequenceStepPath(ns, name, i) })),
      subscriptions,
    };
  }

  #status(runtime: ReconcileContext, r: Resource<SequenceSpec>, wired: FlowWired): ResourceStatus {
    const ns = r.metadata.namespace;
    const template = r.spec.channelTemplate ?? runtime.defaultChannelTemplate;
    const channelStatuses = wired.channels.map((c) => ({
      channel: { apiVersion: template.apiVersion || MESSAGING_V1, kind: c.kind, name: c.name, namespace: ns },
      ready: c.ready,
    }));
    const subscriptionStatuses = wired.subscriptions.map((s) => ({
      subscription: { apiVersion: MESSAGING_V1, kind: 'Subscription', name: s.name, namespace: ns },
      ready: s.ready,
    }));
    const extra = { ...this.#address(runtime, r), channelStatuses, subscriptionStatuses };
    const notReady = wired.channels.find((c) => c.ready.status !== 'True');
    if (notReady) return readyStatus(false, 'ChannelsNotReady', `channel ${notReady.name}: ${notReady.ready.message ?? 'not ready'}`, extra);
    return readyStatus(true, 'SequenceReady', undefined, extra);
  }

  async close(deadline: number): Promise<void> {
    await this.#wiring.close(deadline);
  }
}
