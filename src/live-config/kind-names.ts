import type { ResourceKindRegistry } from '../resources/index.js';

/**
 * Short names users type for kinds, as kubectl knows them for Knative's CRDs (`imc`,
 * `ksvc`) plus a few Sluice adds (`subs`). Singular and plural lower-case names need no
 * entry: they are derived from the kind.
 */
const SHORT_NAMES: Readonly<Record<string, readonly string[]>> = {
  InMemoryChannel: ['imc'],
  Channel: ['ch'],
  Subscription: ['sub', 'subs'],
  Broker: ['brk'],
  Trigger: ['trig'],
  Service: ['ksvc', 'kservice'],
  EventDisplay: ['display', 'displays'],
  NatsJetStreamChannel: ['natschannel', 'jsc'],
  RedisChannel: ['redischannel'],
  PingSource: ['ping'],
  ApiServerSource: ['apiserver'],
  ContainerSource: ['container'],
  GitHubSource: ['github'],
  SinkBinding: ['binding'],
};

/** `Subscription` -> `subscriptions`, `Ingress` -> `ingresses`, `Policy` -> `policies`. */
export function pluralOf(kind: string): string {
  const k = kind.toLowerCase();
  if (/[^aeiou]y$/.test(k)) return k.slice(0, -1) + 'ies';
  if (/(s|x|z|ch|sh)$/.test(k)) return k + 'es';
  return k + 's';
}

/** Every name a kind answers to, lower case. */
export function kindAliases(kind: string): string[] {
  return [kind.toLowerCase(), pluralOf(kind), ...(SHORT_NAMES[kind] ?? [])];
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
    if (kindAliases(kind).includes(bare)) return kind;
  }
  return undefined;
}
