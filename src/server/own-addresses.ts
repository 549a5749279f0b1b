import type { IncomingHttpHeaders } from 'node:http';
import type { LocalDelivery, LocalSink } from '../dispatcher/types.js';
import { NotFoundError, NotReadyError, httpStatusOf } from '../errors.js';
import type { AcceptEvents } from './accept-events.js';
import { ingressAddressOf } from '../runtime/ingress-address.js';
import { nsKey } from '../resources/types.js';
import type { IngressTargets, IngressTarget } from '../runtime/ingress-targets.js';

type TargetMap = 'channels' | 'brokers' | 'displays';
interface Parsed {
  readonly map: TargetMap;
  readonly key: string;
  readonly what: string;
  /** Built on first use and kept with the parsed URL: no closure per delivery. */
  sink?: LocalSink;
}

/** Parsed URLs kept; bounded so that a flood of distinct reply URLs cannot grow it without end. */
const CACHE_MAX = 4096;

/**
 * Recognises Sluice's own event addresses (its channels, brokers and displays, under its
 * public URL or its bound ingress address, and Knative's `-kn-channel` host names of its
 * channels) and stores events there in process, through the same accept path as the
 * ingress (spans, metrics, inspector tap). Own hops never cross HTTP, so they carry no
 * credential and pass ingress tokens as what they are: Sluice's own work. Webhook
 * sources and `/services/...` are not event addresses and stay on HTTP.
 */
export class OwnAddresses {
  readonly #targets: IngressTargets;
  readonly #bases: () => readonly string[];
  readonly #accept: AcceptEvents;
  #cache = new Map<string, Parsed | null>();
  #lastBases: readonly string[] = [];

  constructor(targets: IngressTargets, bases: () => readonly string[], accept: AcceptEvents) {
    this.#targets = targets;
    this.#bases = bases;
    this.#accept = accept;
  }

  /** For the dispatcher's `local` option. */
  readonly resolve: LocalDelivery = (url) => {
    const p = this.#parse(url);
    return p ? (p.sink ??= this.#sink(p)) : undefined;
  };

  #sink(p: Parsed): LocalSink {
    return async (event, headers) => {
      const target: IngressTarget | undefined = this.#targets[p.map].get(p.key);
      if (!target) return { statusCode: 404, error: new NotFoundError(`${p.what} not found`) };
      const notReady = target.notReadyReason();
      if (notReady) return { statusCode: 503, error: new NotReadyError(`${p.what} is not ready: ${notReady}`) };
      try {
        await this.#accept(target, () => [event], headers as IncomingHttpHeaders);
        return { statusCode: 202 };
      } catch (err) {
        return { statusCode: httpStatusOf(err), error: err instanceof Error ? err : new Error(String(err)) };
      }
    };
  }

  #parse(url: string): Parsed | undefined {
    const bases = this.#bases();
    if (!sameBases(bases, this.#lastBases)) {
      // The public URL is known only once the port is bound: what was foreign may be own now.
      this.#cache.clear();
      this.#lastBases = bases;
    }
    let hit = this.#cache.get(url);
    if (hit === undefined) {
      hit = parseOwn(url, bases) ?? null;
      if (this.#cache.size >= CACHE_MAX) this.#cache.clear();
      this.#cache.set(url, hit);
    }
    return hit ?? undefined;
  }
}

const MAPS = { channel: 'channels', broker: 'brokers', display: 'displays' } as const;
const WHAT = { channel: 'channel', broker: 'broker', display: 'event display' } as const;

function parseOwn(url: string, bases: readonly string[]): Parsed | undefined {
  const at = ingressAddressOf(url, bases.filter((b) => b !== ''));
  if (!at) return undefined;
  const key = nsKey(at.namespace, at.name);
  return { map: MAPS[at.kind], key, what: `${WHAT[at.kind]} ${key}` };
}

function sameBases(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
