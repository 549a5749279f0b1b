import { createHash } from 'node:crypto';

// JetStream names cannot contain `.`, `*`, `>`, `/`, `\` or whitespace, and subject tokens
// are separated by `.`. Kubernetes names are usually already safe; anything else is
// replaced by `_` and a short hash of the original is appended, so two different
// inputs never collapse onto the same stream, subject or consumer.

function hash6(s: string): string {
  return createHash('sha256').update(s).digest('hex').slice(0, 6);
}

export function safeToken(s: string): string {
  const cleaned = s.replace(/[^A-Za-z0-9_-]/g, '_');
  return cleaned === s && s.length > 0 ? s : `${cleaned}_${hash6(s)}`;
}

export function streamNameFor(namespace: string, name: string): string {
  // `_` separates, so only ns/name that contain `_` themselves could be ambiguous: hash them.
  const ns = namespace.includes('_') ? `${safeToken(namespace)}_${hash6(namespace)}` : safeToken(namespace);
  const n = name.includes('_') ? `${safeToken(name)}_${hash6(name)}` : safeToken(name);
  return `SLUICE_${ns}_${n}`;
}

export function subjectFor(namespace: string, name: string): string {
  return `sluice.${safeToken(namespace)}.${safeToken(name)}`;
}

/** Durable consumer name for a subscription id such as `default/my-sub` (always hashed: ids contain `/`). */
export function durableNameFor(subscriptionId: string): string {
  const readable = subscriptionId.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 48);
  return `sub_${readable}_${hash6(subscriptionId)}`;
}
