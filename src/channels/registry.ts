import type { ChannelFactory } from './channel.js';
import { InvalidOptionError } from '../errors.js';

/**
 * Backends register here by resource kind, so a new backend is a new folder plus one
 * registration line; nothing else in Sluice names a backend.
 */
export class ChannelRegistry {
  #factories = new Map<string, ChannelFactory>();

  register(kind: string, factory: ChannelFactory): void {
    if (this.#factories.has(kind)) throw new InvalidOptionError(`channel kind ${kind} is already registered`);
    this.#factories.set(kind, factory);
  }

  get(kind: string): ChannelFactory | undefined {
    return this.#factories.get(kind);
  }

  kinds(): string[] {
    return [...this.#factories.keys()];
  }
}
