import { InvalidOptionError } from '../errors.js';
import type { ResourceKindRegistry } from '../resources/index.js';
import { kindAliases, knownKinds, pluralOf } from '../live-config/kind-names.js';
import type { AdminClient } from './admin-client.js';

/** The kinds a `<kind>` argument selects. */
export interface KindSelection {
  kinds: string[];
  /** How to name it in messages (`channel`, `subscription`). */
  label: string;
}

interface KindInfo {
  kind: string;
  aliases: string[];
}

let registry: ResourceKindRegistry | undefined;

/** Every kind's schema, for offline validation; loaded only by the commands that validate. */
export async function sluiceKinds(): Promise<ResourceKindRegistry> {
  registry ??= (await import('../kinds.js')).createSluiceKinds();
  return registry;
}

const served = new WeakMap<AdminClient, Promise<KindInfo[]>>();

/** The kinds the server accepts, with their names (from an older server without the list: our own). */
function kindsOf(client: AdminClient): Promise<KindInfo[]> {
  let p = served.get(client);
  if (!p) {
    p = (async () => {
      const res = await client.request<{ items?: KindInfo[]; error?: string; reason?: string }>('GET', '/api/v1/kinds');
      if (res.status === 200 && Array.isArray(res.body.items)) return res.body.items;
      if (res.status !== 404) throw client.errorOf(res.status, res.body, '/api/v1/kinds');
      const own = await sluiceKinds();
      return knownKinds(own).map((kind) => ({ kind, aliases: kindAliases(own, kind) }));
    })();
    served.set(client, p);
  }
  return p;
}

/**
 * Resolves what the user typed as the server does: a kind, its plural or short name,
 * case-insensitive (`channels`, `subs`, `Trigger`), optionally with its group
 * (`channels.messaging.knative.dev`). `channel`/`channels`/`ch` select every channel
 * kind (InMemoryChannel and the durable ones too), since they share one address space;
 * `all` selects every kind but Secret.
 */
export async function selectKinds(client: AdminClient, input: string): Promise<KindSelection> {
  const infos = await kindsOf(client);
  const lower = input.trim().toLowerCase();
  if (lower === 'all') return { kinds: infos.map((i) => i.kind).filter((k) => k !== 'Secret'), label: 'resource' };
  const bare = lower.includes('.') ? lower.slice(0, lower.indexOf('.')) : lower;
  const found = infos.find((i) => i.aliases.includes(bare));
  if (!found) {
    throw new InvalidOptionError(
      `unknown kind ${JSON.stringify(input)}: use one of ${infos.map((i) => pluralOf(i.kind)).join(', ')} (singular, plural or short names like imc, subs, ksvc), or all`,
    );
  }
  if (found.kind === 'Channel') {
    return { kinds: ['Channel', ...infos.map((i) => i.kind).filter((k) => k !== 'Channel' && k.endsWith('Channel'))], label: 'channel' };
  }
  return { kinds: [found.kind], label: found.kind.toLowerCase() };
}

/** A single kind, for commands that act on one resource (`delete <kind> <name>`). */
export async function singleKind(client: AdminClient, input: string): Promise<string> {
  const infos = await kindsOf(client);
  const lower = input.trim().toLowerCase();
  const bare = lower.includes('.') ? lower.slice(0, lower.indexOf('.')) : lower;
  return infos.find((i) => i.aliases.includes(bare))?.kind ?? (await selectKinds(client, input)).kinds[0]!;
}
