import type { Logger } from 'pino';
import { nsKey, type ObjectMeta } from '../resources/types.js';
import { ingressAddressOf } from './ingress-address.js';

export { ingressAddressOf, type IngressAddress } from './ingress-address.js';

/**
 * Set to `"true"` on a Trigger or Subscription whose subscriber (or reply) is meant to be
 * its own Broker or Channel: it is then wired anyway, with a warning in the log.
 */
export const ALLOW_LOOP_ANNOTATION = 'sluice.dev/allow-loop';

/** Ready condition reasons of a resource that is not wired because it would loop. */
export const LOOP_REASONS = {
  subscriberIsOwnBroker: 'SubscriberIsOwnBroker',
  subscriberIsOwnChannel: 'SubscriberIsOwnChannel',
  replyIsOwnChannel: 'ReplyIsOwnChannel',
  channelLoop: 'ChannelLoop',
} as const;

/** A loop found at apply time: the resource's Ready reason, and what loops. */
export interface SelfLoop {
  readonly reason: (typeof LOOP_REASONS)[keyof typeof LOOP_REASONS];
  readonly description: string;
}

/** The Ready message of a resource left unwired because of `loop`. */
export function loopMessage(loop: SelfLoop, kind: string): string {
  return `${loop.description}. Not wired; if the loop is intended, annotate the ${kind} ${ALLOW_LOOP_ANNOTATION}: "true"`;
}

export function loopAllowed(metadata: Pick<ObjectMeta, 'annotations'>): boolean {
  return metadata.annotations?.[ALLOW_LOOP_ANNOTATION]?.trim().toLowerCase() === 'true';
}

/** A Trigger whose subscriber is the Broker it listens to: every matching event would re-enter it, forever. */
export function triggerSelfLoop(subscriberUrl: string, namespace: string, broker: string, bases: readonly string[]): SelfLoop | undefined {
  const at = ingressAddressOf(subscriberUrl, bases);
  if (at?.kind !== 'broker' || at.namespace !== namespace || at.name !== broker) return undefined;
  return {
    reason: LOOP_REASONS.subscriberIsOwnBroker,
    description:
      `spec.subscriber (${subscriberUrl}) is the address of this Trigger's own Broker ${namespace}/${broker}: ` +
      `every event it matches would be sent back into the broker and match again, in a loop`,
  };
}

/** A Subscription whose subscriber or reply is the channel it subscribes to. */
export function subscriptionSelfLoop(
  urls: { subscriber: string; reply?: string | undefined },
  namespace: string,
  channel: string,
  bases: readonly string[],
): SelfLoop | undefined {
  for (const field of ['subscriber', 'reply'] as const) {
    const url = urls[field];
    if (url === undefined) continue;
    const at = ingressAddressOf(url, bases);
    if (at?.kind !== 'channel' || at.namespace !== namespace || at.name !== channel) continue;
    return {
      reason: field === 'subscriber' ? LOOP_REASONS.subscriberIsOwnChannel : LOOP_REASONS.replyIsOwnChannel,
      description:
        `spec.${field} (${url}) is the address of this Subscription's own channel ${namespace}/${channel}: ` +
        `every ${field === 'subscriber' ? 'event' : 'reply'} would be delivered back into the channel, in a loop`,
    };
  }
  return undefined;
}

/** One Subscription as an edge of the channel graph: from its channel to where its subscriber or reply sends. */
export interface ChannelEdge {
  /** `<namespace>/<name>` of the Subscription. */
  readonly subscription: string;
  /** `<namespace>/<name>` of the channel it subscribes to. */
  readonly from: string;
  /** Resolved subscriber and reply URLs. */
  readonly urls: readonly string[];
}

/**
 * Cycles of two or more channels (A → B → A) made by Subscriptions whose subscriber or
 * reply is another Sluice channel: every Subscription on such a cycle gets a loop (one
 * Tarjan pass over the graph, so cheap however many Subscriptions there are). Self-loops
 * are left to `subscriptionSelfLoop`, which names the field.
 */
export function channelCycles(edges: readonly ChannelEdge[], bases: readonly string[]): Map<string, SelfLoop> {
  const next = new Map<string, Array<{ to: string; subscription: string }>>();
  for (const e of edges) {
    for (const url of e.urls) {
      const at = ingressAddressOf(url, bases);
      if (at?.kind !== 'channel') continue;
      const to = nsKey(at.namespace, at.name);
      if (to === e.from) continue;
      const list = next.get(e.from) ?? [];
      list.push({ to, subscription: e.subscription });
      next.set(e.from, list);
    }
  }
  const component = stronglyConnected(next);
  const out = new Map<string, SelfLoop>();
  for (const [from, list] of next) {
    for (const { to, subscription } of list) {
      if (out.has(subscription) || component.get(from) !== component.get(to)) continue;
      const path = pathBack(next, to, from, component);
      const names = [from, to, ...path.map((p) => p.to)];
      const subs = [subscription, ...path.map((p) => p.subscription)];
      out.set(subscription, {
        reason: LOOP_REASONS.channelLoop,
        description: `events loop through channels ${names.join(' → ')} (Subscriptions ${subs.join(', ')}): each event would go round the cycle forever`,
      });
    }
  }
  return out;
}

type Graph = Map<string, Array<{ to: string; subscription: string }>>;

/** Tarjan's strongly connected components: node → component id. */
function stronglyConnected(graph: Graph): Map<string, number> {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const component = new Map<string, number>();
  let counter = 0;
  let components = 0;
  // Iterative, so a long chain of channels cannot overflow the call stack.
  for (const root of graph.keys()) {
    if (index.has(root)) continue;
    const work: Array<{ node: string; i: number }> = [{ node: root, i: 0 }];
    index.set(root, counter);
    low.set(root, counter++);
    stack.push(root);
    onStack.add(root);
    while (work.length) {
      const frame = work[work.length - 1]!;
      const out = graph.get(frame.node) ?? [];
      if (frame.i < out.length) {
        const to = out[frame.i++]!.to;
        if (!index.has(to)) {
          index.set(to, counter);
          low.set(to, counter++);
          stack.push(to);
          onStack.add(to);
          work.push({ node: to, i: 0 });
        } else if (onStack.has(to)) {
          low.set(frame.node, Math.min(low.get(frame.node)!, index.get(to)!));
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent.node, Math.min(low.get(parent.node)!, low.get(frame.node)!));
      if (low.get(frame.node) === index.get(frame.node)) {
        let n: string;
        do {
          n = stack.pop()!;
          onStack.delete(n);
          component.set(n, components);
        } while (n !== frame.node);
        components++;
      }
    }
  }
  return component;
}

/** A shortest path from `start` to `goal` inside one component (breadth first), for the message. */
function pathBack(graph: Graph, start: string, goal: string, component: Map<string, number>): Array<{ to: string; subscription: string }> {
  const via = new Map<string, { prev: string; edge: { to: string; subscription: string } } | null>([[start, null]]);
  const queue = [start];
  while (queue.length) {
    const node = queue.shift()!;
    if (node === goal) break;
    for (const edge of graph.get(node) ?? []) {
      if (via.has(edge.to) || component.get(edge.to) !== component.get(goal)) continue;
      via.set(edge.to, { prev: node, edge });
      queue.push(edge.to);
    }
  }
  const path: Array<{ to: string; subscription: string }> = [];
  for (let step = via.get(goal); step; step = via.get(step.prev)) path.unshift(step.edge);
  return path;
}

/**
 * Logs a loop once per resource and per change (reconciles run after every apply), at
 * warn: blocked, or wired because the resource is annotated as intended. Call `report`
 * for each resource checked in a pass, then `sweep`, which forgets the ones not checked.
 */
export class LoopReporter {
  #seen = new Map<string, string>();
  #touched = new Set<string>();
  readonly #log: () => Logger;

  constructor(log: () => Logger) {
    this.#log = log;
  }

  report(kind: string, key: string, loop: SelfLoop | undefined, allowed: boolean): void {
    const id = `${kind}/${key}`;
    if (!loop) {
      this.#seen.delete(id);
      return;
    }
    this.#touched.add(id);
    const signature = `${allowed}:${loop.description}`;
    if (this.#seen.get(id) === signature) return;
    this.#seen.set(id, signature);
    const fields = { [kind.toLowerCase()]: key, reason: loop.reason };
    if (allowed) this.#log().warn(fields, `${kind} ${key} loops, wired anyway as annotated ${ALLOW_LOOP_ANNOTATION}: "true": ${loop.description}`);
    else this.#log().warn(fields, `${kind} ${key} not wired: ${loopMessage(loop, kind)}`);
  }

  /** Forgets resources not reported since the last sweep (deleted, or no longer checked). */
  sweep(): void {
    for (const id of this.#seen.keys()) if (!this.#touched.has(id)) this.#seen.delete(id);
    this.#touched.clear();
  }
}
