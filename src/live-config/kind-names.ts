import type { ResourceKindRegistry } from '../resources/index.js';

/** `Subscription` -> `subscriptions`, `Ingress` -> `ingresses`, `Policy` -> `policies`. */
export function pluralOf(kind: string): string {
  const k = kind.toLowerCase();
  if (/[^aeiou]y$/.test(k)) return k.slice(0, -1) + 'ies';
  if (/(s|x|z|ch|sh)$/.test(k)) return k + 'es';
  return k + 's';
}

/** Every name a kind answers to, lower case: singular, plural, and the short names its definition gives (`imc`, `subs`, `ksvc`). */
export function kindAliases(registry: ResourceKindRegistry, kind: string): string[] {
  return [kind.toLowerCase(), pluralOf(kind), ...registry.definitions().flatMap((d) => (d.kind === kind ? (d.shortNames ?? []) : []))];
}

/** Every kind the registry serves (plus Secret), in registration order, without duplicates. */
export function knownKinds(registry: ResourceKindRegistry): string[] {
  return [...new Set(registry.definitions().map((d) => d.kind))];
}

/**
 * The kind a user meant: case-insensitive kind, plural or short name, optionally with
 * its group as kubectl writes it (`channels.messaging.knative.dev`). Undefined if unknown.
 */
export function resolveKindName(registry: ResourceKindRegistry, input: string): string | undefined {
  const wanted = input.trim().toLowerCase();
  const bare = wanted.includes('.') ? wanted.slice(0, wanted.indexOf('.')) : wanted;
  for (const kind of knownKinds(registry)) {
    if (kindAliases(registry, kind).includes(bare)) return kind;
  }
  return undefined;
}
