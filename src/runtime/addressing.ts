import type { Destination, KReference } from '../resources/types.js';
import type { EndpointResolver } from '../dispatcher/index.js';
import { SluiceError } from '../errors.js';

/** A destination that could not be resolved (unknown ref, bad URI): the resource is not Ready. */
export class DestinationError extends SluiceError {
  readonly code = 'SLUICE_ERR_DESTINATION';
  override readonly statusCode = 400;
  constructor(
    message: string,
    /** Knative-style condition reason, e.g. `SubscriberResolveFailed`. */
    readonly conditionReason = 'DestinationNotResolved',
  ) {
    super(message);
  }
}

export interface ResolvedDestination {
  url: string;
  /** Present when deliveries go through the activator rather than straight to `url`. */
  endpoint?: EndpointResolver;
}

/** Resolves a `ref` of one kind to its address; returns undefined when no such object exists. */
export type RefResolver = (ref: Required<Pick<KReference, 'name' | 'namespace'>> & KReference) => ResolvedDestination | undefined;

/**
 * Knative's destination resolution: `uri` alone must be absolute; `ref` resolves to the
 * referenced object's address, and a `uri` given with it is resolved relative to that.
 * Each addressable kind registers a resolver, so brokers and services plug in here.
 */
export class AddressResolver {
  #byKind = new Map<string, RefResolver>();

  register(kind: string, resolver: RefResolver): void {
    this.#byKind.set(kind, resolver);
  }

  resolve(dest: Destination, namespace: string, what: string): ResolvedDestination {
    if (dest.ref) {
      const ref = { ...dest.ref, namespace: dest.ref.namespace ?? namespace };
      const resolver = this.#byKind.get(ref.kind);
      if (!resolver) {
        throw new DestinationError(`${what}: ref kind ${ref.kind} (${ref.apiVersion}) is not addressable in Sluice; supported: ${[...this.#byKind.keys()].join(', ')}`);
      }
      let base: ResolvedDestination | undefined;
      try {
        base = resolver(ref);
      } catch (err) {
        // A resolver says why the object cannot be used (e.g. a Service that is not ready).
        if (err instanceof DestinationError) throw new DestinationError(`${what}: ${err.message}`, err.conditionReason);
        throw err;
      }
      if (!base) throw new DestinationError(`${what}: ${ref.kind} ${ref.namespace}/${ref.name} not found`);
      if (!dest.uri) return base;
      if (base.endpoint) return withPath(base as Required<ResolvedDestination>, dest.uri);
      return { ...base, url: new URL(dest.uri, base.url.endsWith('/') ? base.url : base.url + '/').toString() };
    }
    if (dest.uri) {
      let u: URL;
      try {
        u = new URL(dest.uri);
      } catch {
        throw new DestinationError(`${what}: uri ${JSON.stringify(dest.uri)} is not an absolute URL`);
      }
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new DestinationError(`${what}: uri ${dest.uri} must be http or https`);
      return { url: u.toString() };
    }
    throw new DestinationError(`${what}: neither ref nor uri is set`);
  }
}

/**
 * `uri` next to a ref to an activator-backed service (Service, Deployment): a path is
 * taken below the service's root, both in the public address (which has a
 * `/services/<ns>/<name>` prefix) and on every replica the activator grants; an
 * absolute URL is used as it is, while the activator still wakes and scales the service.
 */
function withPath(base: Required<ResolvedDestination>, uri: string): ResolvedDestination {
  const at = (root: string) => new URL(uri.replace(/^\/+/, ''), root.endsWith('/') ? root : root + '/').toString();
  const endpoint = base.endpoint;
  return {
    url: at(base.url),
    endpoint: {
      acquire: async (signal) => {
        const lease = await endpoint.acquire(signal);
        return { url: at(lease.url), release: () => lease.release() };
      },
    },
  };
}
