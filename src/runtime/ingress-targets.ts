import type { SluiceEvent } from '../events/types.js';
import type { WebhookSource } from '../sources/source.js';

/** Something that takes events POSTed to a public address (a channel or a broker). */
export interface IngressTarget {
  /** For metrics, logs and errors: what takes the event (a flow or sink kind adds its own). */
  readonly kind: 'channel' | 'broker' | 'display' | 'sequence' | 'parallel' | 'transform' | 'jobsink';
  readonly namespace: string;
  readonly name: string;
  /** The resource this address is part of, when not the target itself (a flow's channel: its Sequence or Parallel). */
  readonly owner?: AddressOwner;
  /** undefined when ready; otherwise why not (answered as 503). */
  notReadyReason(): string | undefined;
  /** Resolves once every event is stored; rejects with a SluiceError otherwise. */
  accept(events: readonly SluiceEvent[]): Promise<void>;
}

/** What an ingress address belongs to: the resource whose annotations protect it. */
export type AddressOwner = Pick<IngressTarget, 'kind' | 'namespace' | 'name'>;

/**
 * Handles plain HTTP requests for a path prefix (the activator's `/services/<ns>/<name>/`),
 * or for an addressable kind's path (a transform); `owner` names the resource whose
 * ingress token applies to it.
 */
export type RawRouteHandler = ((request: import('fastify').FastifyRequest, reply: import('fastify').FastifyReply, rest: string) => Promise<void>) & {
  readonly owner?: AddressOwner;
};

/**
 * The public addresses the runtime has wired, looked up per request by the ingress.
 * Plain maps keyed by `namespace/name`: lookups are on the hot path.
 */
export class IngressTargets {
  readonly channels = new Map<string, IngressTarget>();
  readonly brokers = new Map<string, IngressTarget>();
  readonly webhooks = new Map<string, WebhookSource>();
  readonly services = new Map<string, RawRouteHandler>();
  /** Built-in event-display sinks at `/display/<ns>/<name>`. */
  readonly displays = new Map<string, IngressTarget>();
  /**
   * Addressable kinds beyond channels and brokers (Sequence, Parallel, EventTransform,
   * JobSink), by their whole path without the leading slash, e.g.
   * `flows/<ns>/sequences/<name>`: an IngressTarget takes events (202 once stored), a
   * RawRouteHandler answers the request itself (a transform's reply, a job's creation).
   */
  readonly paths = new Map<string, IngressTarget | RawRouteHandler>();
  /**
   * Per-address ingress auth, set by the runtime: undefined lets the request in, a string
   * says why not (401). One hook for every target kind, so brokers get it without their
   * targets knowing about auth.
   */
  authorize?: (target: AddressOwner, headers: import('node:http').IncomingHttpHeaders) => string | undefined;
}
