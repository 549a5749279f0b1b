import { InvalidRedriveRequestError, NotFoundError } from '../errors.js';
import type { ResourceView } from '../runtime/runtime-view.js';
import type { DeadLetterOwner, DeadLetterOwnerKind } from './dead-letter-store.js';

export { InvalidRedriveRequestError };

const KIND_NAMES: Record<string, DeadLetterOwnerKind> = {
  subscription: 'Subscription',
  subscriptions: 'Subscription',
  sub: 'Subscription',
  subs: 'Subscription',
  trigger: 'Trigger',
  triggers: 'Trigger',
};

/** What the lookups read of a resource: the admin API's view or the runtime's loaded resource. */
export type ResourceLike = Pick<ResourceView, 'kind' | 'spec'> & { metadata: { name: string; namespace: string } };

/** `subscription/default/orders`: a Subscription or Trigger as the dead-letter API names it. */
export interface SubscriptionRef {
  readonly kind: DeadLetterOwnerKind;
  readonly namespace: string;
  readonly name: string;
}

/**
 * Parses `<kind>/<namespace>/<name>` or `<kind>/<name>` (namespace `defaultNamespace`),
 * kind `subscription` or `trigger` (plurals and `sub` too, any case).
 */
export function parseSubscriptionRef(text: string, defaultNamespace = 'default'): SubscriptionRef {
  const parts = text.split('/');
  const kind = KIND_NAMES[(parts[0] ?? '').toLowerCase()];
  const valid = kind !== undefined && (parts.length === 2 || parts.length === 3) && parts.every((p) => p.length > 0);
  if (!valid) {
    throw new InvalidRedriveRequestError(
      `subscription ${JSON.stringify(text)} must be <kind>/<namespace>/<name> or <kind>/<name>, kind subscription or trigger (e.g. subscription/default/orders)`,
    );
  }
  return parts.length === 3 ? { kind, namespace: parts[1]!, name: parts[2]! } : { kind, namespace: defaultNamespace, name: parts[1]! };
}

export function formatRef(owner: Pick<DeadLetterOwner, 'kind' | 'namespace' | 'name'>): string {
  return `${owner.kind.toLowerCase()}/${owner.namespace}/${owner.name}`;
}

/** The channel (Subscription) or broker (Trigger) of a subscription resource; undefined when unknown. */
function resourceOf(r: ResourceLike): string | undefined {
  const spec = r.spec as { channel?: { name?: unknown }; broker?: unknown } | null;
  const v = r.kind === 'Trigger' ? spec?.broker : spec?.channel?.name;
  return typeof v === 'string' ? v : undefined;
}

/** The Subscription or Trigger `ref` names, as it exists now; NotFoundError (404) when it does not. */
export function resolveOwner(ref: SubscriptionRef, resources: readonly ResourceLike[]): DeadLetterOwner {
  const r = resources.find((x) => x.kind === ref.kind && x.metadata.namespace === ref.namespace && x.metadata.name === ref.name);
  const resource = r && resourceOf(r);
  if (!resource) throw new NotFoundError(`${ref.kind} ${ref.namespace}/${ref.name} not found`);
  return { kind: ref.kind, namespace: ref.namespace, name: ref.name, resource };
}

/** Tells a Trigger's delivery target from a Subscription's (the dispatcher does not know the kind). */
export function ownerKindOf(resources: () => readonly ResourceLike[]): (target: { namespace: string; resource: string; subscription: string }) => DeadLetterOwnerKind {
  return (t) => {
    const isTrigger = resources().some(
      (r) => r.kind === 'Trigger' && r.metadata.namespace === t.namespace && r.metadata.name === t.subscription && resourceOf(r) === t.resource,
    );
    return isTrigger ? 'Trigger' : 'Subscription';
  };
}
