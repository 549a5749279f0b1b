import type { IncomingHttpHeaders } from 'node:http';
import type { SluiceEvent } from '../events/types.js';
import { httpStatusOf } from '../errors.js';
import { responseCodeClass, type Metrics, type Tally } from '../observability/metrics.js';
import { TRACING_OFF, stampUntraced, type Tracing } from '../observability/tracing.js';
import type { IngressTarget } from '../runtime/ingress-targets.js';

export interface AcceptOptions {
  metrics: Metrics;
  tracing?: Tracing | undefined;
  /** Sees every batch a target accepted (the event inspector's tap); must be cheap and must not throw. */
  onAccepted?: ((target: IngressTarget, events: readonly SluiceEvent[]) => void) | undefined;
}

/**
 * Stores events in a target with what every entry into Sluice gets: the receive and
 * publish spans (and trace context for events that come without one), the received and
 * rejected counters and the inspector's tap. `events` is called inside the receive span,
 * so that a request whose body does not parse is traced and counted too. Resolves once stored; rejects with the
 * target's error (a SluiceError with its HTTP status).
 */
export type AcceptEvents = (target: IngressTarget, events: () => readonly SluiceEvent[], headers: IncomingHttpHeaders) => Promise<void>;

/**
 * One function for both ways in: the public ingress after it parsed a request, and
 * Sluice's own hops (trigger replies, chained channels, sources whose sink is a Sluice
 * address), which call it in process instead of POSTing to themselves over loopback.
 */
export function createAcceptEvents(options: AcceptOptions): AcceptEvents {
  const { metrics, onAccepted } = options;
  const tracing = options.tracing ?? TRACING_OFF;
  // The received counter of each target, bound once (targets live as long as their resource).
  const received = new WeakMap<IngressTarget, Tally>();
  const countReceived = (target: IngressTarget, n: number) => {
    let t = received.get(target);
    if (!t) received.set(target, (t = metrics.tally(metrics.eventsReceived, { namespace_name: target.namespace, resource: target.name, kind: target.kind })));
    t.inc(n);
  };
  const rejected = (target: IngressTarget, err: unknown) => {
    const status = httpStatusOf(err);
    metrics.eventsRejected.inc({ namespace_name: target.namespace, resource: target.name, response_code: String(status), response_code_class: responseCodeClass(status) });
    return status;
  };
  if (!tracing.enabled) {
    // No spans to open or end: the same steps without a span object per request.
    return async (target, events, headers) => {
      try {
        const stamped = stampUntraced(events(), headers);
        await target.accept(stamped);
        if (stamped.length) countReceived(target, stamped.length);
        onAccepted?.(target, stamped);
      } catch (err) {
        rejected(target, err);
        throw err;
      }
    };
  }
  return async (target, events, headers) => {
    const span = tracing.startReceive(target, headers);
    try {
      // Events without the distributed-tracing extension get one here: the trace they start.
      const stamped = span.stamp(events());
      await span.publish(() => target.accept(stamped));
      if (stamped.length) countReceived(target, stamped.length);
      onAccepted?.(target, stamped);
      span.end(202);
    } catch (err) {
      span.end(rejected(target, err), err);
      throw err;
    }
  };
}
