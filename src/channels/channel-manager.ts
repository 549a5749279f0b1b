import type { Logger } from 'pino';
import type { Channel } from './channel.js';
import type { ChannelRegistry } from './registry.js';

/** What a channel should be: the backend kind and its spec, built under `namespace/name`. */
export interface ChannelWanted {
  readonly namespace: string;
  /** The name the backend builds it under (a Broker's is `broker.<name>`). */
  readonly name: string;
  readonly backendKind: string;
  readonly spec: Readonly<Record<string, unknown>>;
}

/** A channel the manager runs. */
export interface ManagedChannel {
  readonly backendKind: string;
  readonly channel: Channel;
  /** Bumped each time the channel object is replaced, so subscriptions know to move over. */
  readonly generation: number;
}

export type EnsureResult =
  | { readonly ok: true; readonly managed: ManagedChannel; readonly change: 'created' | 'replaced' | 'unchanged' }
  | { readonly ok: false; readonly reason: 'UnsupportedChannelKind' | 'ChannelCreateFailed'; readonly message: string };

interface Entry extends ManagedChannel {
  readonly specKey: string;
  /** Channels this one replaced, still taking events until its subscriptions are on the new one. */
  replaced: Channel[];
}

export interface ChannelManagerOptions {
  readonly registry: ChannelRegistry;
  readonly logger: Logger;
  /** How long a replaced or removed channel may drain before it is closed. */
  readonly drainMs: number;
}

/**
 * The lifecycle of every channel Sluice runs, a Channel resource's or a Broker's backing
 * one, in one place: built from the registry; replaced when its backend or spec changes,
 * the old one kept until the new one has every subscription (`commit`), then drained
 * and closed; drained, closed and destroyed when removed. Subscriptions need not leave a
 * retired channel: it drops them itself when it closes (`isRetired`).
 */
export class ChannelManager {
  readonly #o: ChannelManagerOptions;
  readonly #entries = new Map<string, Entry>();
  readonly #retired = new WeakSet<Channel>();
  readonly #retiring = new Set<Promise<void>>();
  #generation = 0;

  constructor(options: ChannelManagerOptions) {
    this.#o = options;
  }

  /** Makes `key` the channel `wanted` describes: unchanged, created, or replaced (the old one kept until commit). */
  ensure(key: string, wanted: ChannelWanted): EnsureResult {
    const factory = this.#o.registry.get(wanted.backendKind);
    if (!factory) {
      return { ok: false, reason: 'UnsupportedChannelKind', message: `channel kind ${wanted.backendKind} is not available; available: ${this.#o.registry.kinds().join(', ')}` };
    }
    const specKey = JSON.stringify([wanted.backendKind, wanted.spec]);
    const existing = this.#entries.get(key);
    if (existing && existing.specKey === specKey) return { ok: true, managed: existing, change: 'unchanged' };
    let channel: Channel;
    try {
      channel = factory({ namespace: wanted.namespace, name: wanted.name, spec: wanted.spec });
    } catch (err) {
      return { ok: false, reason: 'ChannelCreateFailed', message: (err as Error).message };
    }
    const entry: Entry = { backendKind: wanted.backendKind, channel, generation: ++this.#generation, specKey, replaced: existing ? [...existing.replaced, existing.channel] : [] };
    this.#entries.set(key, entry);
    this.#o.logger.info({ channel: key, kind: wanted.backendKind }, existing ? 'channel replaced' : 'channel created');
    return { ok: true, managed: entry, change: existing ? 'replaced' : 'created' };
  }

  get(key: string): ManagedChannel | undefined {
    return this.#entries.get(key);
  }

  entries(): IterableIterator<[string, ManagedChannel]> {
    return this.#entries.entries();
  }

  /** The subscriptions of `key` are on its current channel: the channels it replaced stop taking events and drain. */
  commit(key: string): void {
    const e = this.#entries.get(key);
    if (!e || e.replaced.length === 0) return;
    for (const c of e.replaced.splice(0)) this.#retire(c, false);
  }

  /** Stops `key`: its channels drain until the drain time, then close and are destroyed (streams, queues). */
  remove(key: string): void {
    const e = this.#entries.get(key);
    if (!e) return;
    this.#entries.delete(key);
    for (const c of e.replaced) this.#retire(c, false);
    this.#retire(e.channel, true);
    this.#o.logger.info({ channel: key }, 'channel deleted');
  }

  /** True once a channel was closed by a removal or replacement: nothing more to unsubscribe from. */
  isRetired(channel: Channel): boolean {
    return this.#retired.has(channel);
  }

  /** Drains every channel until `deadline` (epoch ms) and closes it; waits for retiring ones too. */
  async close(deadline: number): Promise<void> {
    const channels = [...this.#entries.values()].flatMap((e) => [e.channel, ...e.replaced]);
    this.#entries.clear();
    for (const c of channels) this.#retired.add(c);
    await Promise.all([...channels.map((c) => c.close({ deadline }).catch(() => {})), ...this.#retiring]);
  }

  #retire(channel: Channel, destroy: boolean): void {
    if (this.#retired.has(channel)) return;
    this.#retired.add(channel);
    const done: Promise<void> = channel
      .close({ deadline: Date.now() + this.#o.drainMs })
      .then(() => (destroy ? channel.destroy?.() : undefined))
      .catch((err: unknown) => this.#o.logger.warn({ err }, 'closing a channel failed'))
      .finally(() => this.#retiring.delete(done));
    this.#retiring.add(done);
  }
}
