import { createHash } from 'node:crypto';
import type { SluiceEvent } from '../../events/types.js';

// BullMQ refuses `:` in queue names and custom job ids (it is Redis's key separator).
// Names keep a readable part and add a hash of the exact input, so two ids that
// sanitise alike never share a queue.

function hash(s: string, n: number): string {
  return createHash('sha256').update(s).digest('hex').slice(0, n);
}

function readable(s: string): string {
  return s.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 60);
}

/** Queue of one subscription of one channel. */
export function queueNameFor(namespace: string, channel: string, subscriptionId: string): string {
  return `${readable(namespace)}.${readable(channel)}.${readable(subscriptionId)}.${hash(`${namespace}\n${channel}\n${subscriptionId}`, 8)}`;
}

/** Redis set holding the ids of a channel's subscriptions, shared by every replica. */
export function subscriptionsKeyFor(prefix: string, namespace: string, channel: string): string {
  return `${prefix}:channel:${namespace}/${channel}:subscriptions`;
}

/**
 * Job id from source + id: a client that retries a publish whose answer it missed does
 * not get the event twice while the first copy is still queued (BullMQ ignores an add
 * with an existing job id).
 */
export function jobIdFor(event: SluiceEvent): string {
  return hash(`${event.attributes.source ?? ''}\n${event.attributes.id ?? ''}`, 32);
}
