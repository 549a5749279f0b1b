import { channelOfHost, segments } from '../runtime/ingress-address.js';
import { nsKey } from '../resources/types.js';
import type { IngressTarget, IngressTargets } from '../runtime/ingress-targets.js';

/** An event address on the ingress: what it names (for errors) and the target, undefined when nothing is there. */
export interface EventAddress {
  readonly target: IngressTarget | undefined;
  readonly what: string;
}

/**
 * The channel, display or broker a request addresses, as the ingress routes: a Knative
 * channel Host first, then `/channels/<ns>/<name>`, `/display/<ns>/<name>` and
 * `/<ns>/<broker>` (unless an addressable kind owns that path). Undefined for every
 * other path (sources, services, flows, transforms, job sinks, unknown shapes).
 */
export function eventTargetOf(targets: IngressTargets, host: string | undefined, url: string): EventAddress | undefined {
  // Knative addresses a channel by Host: `<name>-kn-channel.<namespace>.svc.cluster.local`.
  const byHost = host ? channelOfHost(host) : undefined;
  if (byHost) return channelAt(targets, nsKey(byHost.namespace, byHost.name));
  const q = url.indexOf('?');
  const parts = segments(q === -1 ? url : url.slice(0, q));
  if (parts.length === 3) {
    if (parts[0] === 'channels') return channelAt(targets, nsKey(parts[1]!, parts[2]!));
    if (parts[0] === 'display') {
      const key = nsKey(parts[1]!, parts[2]!);
      return { target: targets.displays.get(key), what: `event display ${key}` };
    }
    return undefined;
  }
  if (parts.length === 2) {
    const key = nsKey(parts[0]!, parts[1]!);
    if (targets.paths.size && targets.paths.has(`${parts[0]}/${parts[1]}`)) return undefined;
    return { target: targets.brokers.get(key), what: `broker ${key}` };
  }
  return undefined;
}

function channelAt(targets: IngressTargets, key: string): EventAddress {
  return { target: targets.channels.get(key), what: `channel ${key}` };
}
