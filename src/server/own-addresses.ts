import type { IncomingHttpHeaders } from 'node:http';
import type { LocalDelivery, LocalSink } from '../dispatcher/types.js';
import { NotFoundError, NotReadyError, httpStatusOf } from '../errors.js';
import type { AcceptEvents } from './accept-events.js';
import { ingressAddressOf, ownPathOf } from '../runtime/ingress-address.js';
import { nsKey } from '../resources/types.js';
import type { IngressTargets, IngressTarget } from '../runtime/ingress-targets.js';

type TargetMap = 'channels' | 'brokers' | 'displays' | 'paths';
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
    if (!p) return undefined;
    // An extra path is taken in process only when it stores events (a flow, a job sink);
    // a handler that answers the request itself (a transform) is reached over HTTP.
    if (p.map === 'paths' && typeof this.#targets.paths.get(p.key) !== 'object') return undefined;
    return (p.sink ??= this.#sink(p));
  };

  #sink(p: Parsed): LocalSink {
    return async (event, headers) => {
      const found = this.#targets[p.map].get(p.key);
      const target: IngressTarget | undefined = typeof found === 'object' ? found : undefined;
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
  const own = bases.filter((b) => b !== '');
  const at = ingressAddressOf(url, own);
  if (!at) {
    const path = ownPathOf(url, own);
    // Extra paths have at least a kind, a namespace and a name (`flows/<ns>/sequences/<name>`...).
    return path && path.split('/').length >= 3 ? { map: 'paths', key: path, what: `address /${path}` } : undefined;
  }
  const key = nsKey(at.namespace, at.name);
  return { map: MAPS[at.kind], key, what: `${WHAT[at.kind]} ${key}` };
}

function sameBases(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
