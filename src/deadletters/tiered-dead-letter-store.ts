import type { Logger } from 'pino';
import type { DeliveryObserver, DeliveryTarget, OutcomeInfo } from '../dispatcher/types.js';
import type { DeadLetterEntry, DeadLetterFilter, DeadLetterOwner, DeadLetterOwnerKind, DeadLetterStore, RedriveMark } from './dead-letter-store.js';
import type { BackendDeadLetterStore } from './backend-dead-letter-store.js';
import type { MemoryDeadLetterStore } from './memory-dead-letter-store.js';

export interface TieredDeadLetterStoreOptions {
  memory: MemoryDeadLetterStore;
  backends: readonly BackendDeadLetterStore[];
  /** The backend channel kind of a Subscription's channel, or of a Trigger's Broker (`NatsJetStreamChannel`...); undefined when unknown. */
  channelKindOf: (namespace: string, resource: string, owner: DeadLetterOwnerKind) => string | undefined;
  kindOf: (target: DeliveryTarget) => DeadLetterOwnerKind;
  logger: Logger;
}

/**
 * The server's dead letters: those of Subscriptions on a durable channel go to that
 * backend's store (shared by replicas, kept across restarts); the others (in-memory
 * channels, Triggers) and any a backend could not take stay in memory. Lists merge all,
 * newest first; an entry id's prefix says which store has it.
 */
export class TieredDeadLetterStore implements DeadLetterStore, DeliveryObserver {
  readonly #o: TieredDeadLetterStoreOptions;
  /** Backend writes in flight (tests and close wait for them). */
  readonly #pending = new Set<Promise<void>>();

  constructor(options: TieredDeadLetterStoreOptions) {
    this.#o = options;
  }

  get memory(): MemoryDeadLetterStore {
    return this.#o.memory;
  }

  onOutcome(info: OutcomeInfo): void {
    if (info.outcome !== 'dead-lettered') return;
    const t = info.target;
    const kind = this.#o.kindOf(t);
    const backend = this.#backendFor(t, kind);
    if (!backend || !backend.available()) {
      this.#o.memory.onOutcome(info);
      return;
    }
    const owner: DeadLetterOwner = { kind, namespace: t.namespace, name: t.subscription, resource: t.resource };
    const event = info.deadLetter ?? info.event;
    const meta = { attempts: info.attempts, statusCode: info.statusCode, deadLetterUri: t.deadLetterUri };
    const p = backend.add(owner, event, meta).catch((err: unknown) => {
      this.#o.logger.warn({ err, subscription: `${t.namespace}/${t.subscription}`, store: backend.channelKind }, 'cannot keep a dead letter in its backend; kept in memory');
      this.#o.memory.add(owner, event, meta);
    });
    this.#pending.add(p);
    void p.finally(() => this.#pending.delete(p));
  }

  /** Resolves once the dead letters reported so far are written. */
  async flush(): Promise<void> {
    await Promise.all([...this.#pending]);
  }

  #backendFor(t: DeliveryTarget, owner: DeadLetterOwnerKind): BackendDeadLetterStore | undefined {
    if (this.#o.backends.length === 0) return undefined;
    const kind = this.#o.channelKindOf(t.namespace, t.resource, owner);
    return kind === undefined ? undefined : this.#o.backends.find((b) => b.channelKind === kind);
  }

  async list(owner?: Partial<DeadLetterOwner>, filter?: DeadLetterFilter): Promise<DeadLetterEntry[]> {
    const lists = await Promise.all([
      this.#o.memory.list(owner, filter),
      ...this.#o.backends.map(async (b) => {
        // A backend no channel has connected to holds nothing this server can reach.
        if (!b.available()) return [];
        try {
          return await b.list(owner, filter);
        } catch (err) {
          this.#o.logger.warn({ err, store: b.channelKind }, 'cannot list the dead letters kept in a channel backend');
          return [];
        }
      }),
    ]);
    // Newest first; stable, so each store's own order holds among equal times.
    return lists.flat().sort((a, b) => b.at - a.at);
  }

  async get(entryId: string): Promise<DeadLetterEntry | undefined> {
    const b = this.#storeOf(entryId);
    return b.get(entryId);
  }

  async markRedriven(entryId: string, mark: RedriveMark, expect?: { current: RedriveMark | undefined }): Promise<boolean> {
    return this.#storeOf(entryId).markRedriven(entryId, mark, expect);
  }

  #storeOf(entryId: string): DeadLetterStore {
    return this.#o.backends.find((b) => entryId.startsWith(b.prefix)) ?? this.#o.memory;
  }
}
