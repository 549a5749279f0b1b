// What a URL reaches on Sluice's own ingress, routed as the ingress routes requests: the
// one parser behind in-process delivery (server/own-addresses), the loop checks
// (loop-guard) and the ingress's Host-based channel addresses.

/** What a URL reaches on Sluice's own ingress. */
export interface IngressAddress {
  readonly kind: 'broker' | 'channel' | 'display';
  readonly namespace: string;
  readonly name: string;
}

// Knative's Host address of a channel: `<name>-kn-channel.<namespace>.svc[.cluster.local]`.
const CHANNEL_HOST = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)-kn-channel\.([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.svc(?:\.cluster\.local)?\.?(?::\d+)?$/;
// Names a local client may use for an ingress bound on loopback or on every interface.
const LOOPBACK = /^(localhost|127\.0\.0\.1|\[::1\]|0\.0\.0\.0|\[::\])$/;

/** The channel a Host header (or URL host name, with or without port) names in Knative's form. */
export function channelOfHost(host: string): IngressAddress | undefined {
  // Every ingress request asks: skip the regex (and a lower-cased copy) for the usual Host.
  if (!/-kn-channel\./i.test(host)) return undefined;
  const m = CHANNEL_HOST.exec(host.toLowerCase());
  return m ? { kind: 'channel', namespace: m[3]!, name: m[1]! } : undefined;
}

/**
 * The broker, channel or display a URL reaches when sent to Sluice's own ingress: by
 * Knative's channel Host, else by path below one of `bases` (the public URL, the local
 * ingress). URLs are compared normalised: host case, default port, empty path segments
 * (trailing slash), percent-encoding, query and fragment, and any loopback name for a
 * loopback base. Webhook sources and `/services/...` are not event addresses: undefined.
 */
export function ingressAddressOf(url: string, bases: readonly string[]): IngressAddress | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  const byHost = channelOfHost(u.hostname);
  if (byHost) return byHost;
  const rest = restBelow(u, bases);
  if (!rest) return undefined;
  if (rest.length === 3 && rest[0] === 'channels') return { kind: 'channel', namespace: rest[1]!, name: rest[2]! };
  if (rest.length === 3 && rest[0] === 'display') return { kind: 'display', namespace: rest[1]!, name: rest[2]! };
  // As the ingress routes: any two parts are a broker (sources and services have three or more).
  if (rest.length === 2) return { kind: 'broker', namespace: rest[0]!, name: rest[1]! };
  return undefined;
}

/**
 * The path a URL names below one of `bases` (segments joined by `/`, as the ingress keys
 * its extra addressable paths: flows, job sinks, transforms), or undefined when the URL
 * is not Sluice's own.
 */
export function ownPathOf(url: string, bases: readonly string[]): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  return restBelow(u, bases)?.join('/');
}

function restBelow(u: URL, bases: readonly string[]): string[] | undefined {
  for (const base of bases) {
    let b: URL;
    try {
      b = new URL(base);
    } catch {
      continue;
    }
    if (!sameOrigin(u, b)) continue;
    const prefix = segments(b.pathname);
    const parts = segments(u.pathname);
    if (prefix.some((p, i) => parts[i] !== p)) continue;
    return parts.slice(prefix.length);
  }
  return undefined;
}

function sameOrigin(a: URL, b: URL): boolean {
  if (a.protocol !== b.protocol || a.port !== b.port) return false;
  return a.hostname === b.hostname || (LOOPBACK.test(a.hostname) && LOOPBACK.test(b.hostname));
}

/** Path segments, percent-decoded, empty ones dropped (as the ingress splits paths). */
export function segments(pathname: string): string[] {
  // The common path (every ingress request) has nothing to decode: split by hand, no per-segment decode.
  if (!pathname.includes('%')) {
    const out: string[] = [];
    let start = 0;
    for (let i = pathname.indexOf('/'); i !== -1; i = pathname.indexOf('/', start)) {
      if (i > start) out.push(pathname.slice(start, i));
      start = i + 1;
    }
    if (start < pathname.length) out.push(pathname.slice(start));
    return out;
  }
  return pathname
    .split('/')
    .filter((p) => p.length > 0)
    .map((p) => {
      try {
        return decodeURIComponent(p);
      } catch {
        return p;
      }
    });
}
