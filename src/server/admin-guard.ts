import { isIPv4, isIPv6 } from 'node:net';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ForbiddenOriginError, InvalidOptionError, UnsupportedMediaTypeError } from '../errors.js';
import { sendError } from './reply-error.js';
import { isProtected, OPEN_ADMIN_PATHS } from './admin-auth.js';

/** Body types the admin API's writes take: what `sluice apply` sends and what the loader parses. */
export const ADMIN_WRITE_CONTENT_TYPES: readonly string[] = [
  'application/yaml', 'application/x-yaml', 'text/yaml', 'application/json',
  // kubectl's patches. None is a CORS-safelisted type, so a web page cannot send them without a preflight the admin port never grants.
  'application/merge-patch+json', 'application/json-patch+json', 'application/strategic-merge-patch+json', 'application/apply-patch+yaml',
];

/** Bind-all addresses: listening on them names no host a client would use. */
const BIND_ALL = new Set(['', '0.0.0.0', '::', '[::]']);
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
/** `Sec-Fetch-Site` values a request from the admin page itself (or a typed URL) carries. */
const OWN_FETCH_SITES = new Set(['same-origin', 'none']);

export interface AdminGuardOptions {
  /**
   * The address the admin port listens on (`--admin-host`). A specific name or address
   * (`192.168.1.5`, `admin.internal`, `::1`) is accepted as `Host`; a bind-all address
   * (`0.0.0.0`, `::`) adds nothing: then only loopback names and `allowedHosts` are.
   */
  adminHost?: string;
  /**
   * More names or addresses clients use to reach the admin port (`--admin-allowed-hosts`,
   * e.g. a Kubernetes Service name), without a port: any port is accepted.
   */
  allowedHosts?: readonly string[];
}

/**
 * Keeps web pages off the admin API. Localhost is not a trust boundary: any page a
 * browser opens can send requests to `http://127.0.0.1:9090`, and with DNS rebinding a
 * page of `evil.example` can even read the answers. So, as an `onRequest` hook registered
 * before the admin token's (it applies with or without `--admin-token`):
 *
 * - **Host** (every path except the probes `/healthz`, `/readyz` and `/metrics`, which
 *   kubelets and scrapers reach by pod IP): must name a loopback host (`localhost`,
 *   `127.x.x.x`, `[::1]`), the `--admin-host` when it is a specific name or address, or
 *   one of `--admin-allowed-hosts`; any port. A DNS-rebound page sends its own name
 *   (`Host: evil.example:9090`) and is refused, the admin page at `/` included.
 * - **Origin** (every `/api` request, the live stream included, and the Kubernetes-shaped
 *   API: `/apis`, `/openapi`, `/version`): when sent, must be the
 *   origin the `Host` names (`http://<Host>`, or `https://` behind a TLS proxy);
 *   `Origin: null` (sandboxed frames, file: pages) is foreign.
 * - **Sec-Fetch-Site** (every `/api` request): when sent, must be `same-origin` or
 *   `none` (a typed URL); `cross-site` and `same-site` come from another page.
 * - **Content-Type** (every `/api` write: POST, PUT, PATCH, DELETE): must be YAML or JSON
 *   (ADMIN_WRITE_CONTENT_TYPES, parameters such as `charset` allowed), else 415. A
 *   browser sends those only after a CORS preflight, which this API never grants; the
 *   "simple" types (`text/plain`, forms) are refused before the body is read. A DELETE
 *   without a body needs none.
 *
 * Refusals are 403 `SLUICE_ERR_FORBIDDEN_ORIGIN` (415 `SLUICE_ERR_UNSUPPORTED_MEDIA_TYPE`
 * for the body type), with the usual `{error, reason}` body; nothing is read or changed.
 */
export function guardAdminRequests(app: FastifyInstance, options: AdminGuardOptions = {}): void {
  const allowed = allowedHostNames(options);
  app.addHook('onRequest', async (req, reply) => {
    const route = req.routeOptions.url;
    if (route !== undefined && OPEN_ADMIN_PATHS.includes(route)) return;
    const hostHeader = req.headers.host;
    const host = hostHeader === undefined ? undefined : parseHost(hostHeader);
    if (!host || !(isLoopbackName(host.name) || allowed.has(host.name))) {
      return sendError(reply, new ForbiddenOriginError(hostProblem(hostHeader, options)));
    }
    if (!isApiPath(req)) return;
    const origin = req.headers.origin;
    if (origin !== undefined && !isOwnOrigin(origin, hostHeader!)) {
      return sendError(
        reply,
        new ForbiddenOriginError(`cross-origin request refused: Origin ${JSON.stringify(origin)} is not the admin port's own origin (http://${hostHeader}); other web pages cannot use the admin API`),
      );
    }
    const site = req.headers['sec-fetch-site'];
    if (typeof site === 'string' && !OWN_FETCH_SITES.has(site.toLowerCase())) {
      return sendError(reply, new ForbiddenOriginError(`cross-site request refused (Sec-Fetch-Site: ${site}): other web pages cannot use the admin API`));
    }
    if (!SAFE_METHODS.has(req.method)) {
      const problem = writeContentTypeProblem(req.method, req.headers);
      if (problem) return sendError(reply, new UnsupportedMediaTypeError(problem));
    }
  });
}

/** Why a write's `Content-Type` is refused, or undefined when it is YAML or JSON (or a body-less DELETE). */
export function writeContentTypeProblem(method: string, headers: FastifyRequest['headers']): string | undefined {
  const raw = headers['content-type'];
  const wanted = `send the body as ${ADMIN_WRITE_CONTENT_TYPES.join(', ')}`;
  if (raw === undefined || raw.trim() === '') {
    const hasBody = headers['transfer-encoding'] !== undefined || (headers['content-length'] !== undefined && headers['content-length'] !== '0');
    if (method === 'DELETE' && !hasBody) return undefined;
    return `${method} needs a Content-Type: ${wanted}`;
  }
  const type = raw.split(';')[0]!.trim().toLowerCase();
  if (ADMIN_WRITE_CONTENT_TYPES.includes(type)) return undefined;
  return `Content-Type ${JSON.stringify(raw)} is not accepted by the admin API: ${wanted}`;
}

/** `--admin-host` (when specific) plus `--admin-allowed-hosts`, as normalised host names. */
function allowedHostNames(options: AdminGuardOptions): Set<string> {
  const out = new Set<string>();
  const admin = options.adminHost?.trim() ?? '';
  if (!BIND_ALL.has(admin)) out.add(hostEntry(admin, '--admin-host'));
  for (const h of options.allowedHosts ?? []) out.add(hostEntry(h, '--admin-allowed-hosts'));
  return out;
}

function hostEntry(value: string, flag: string): string {
  const v = value.trim();
  const parsed = parseHost(isIPv6(v) ? `[${v}]` : v);
  if (!parsed || BIND_ALL.has(parsed.name) || parsed.name === '[::]') {
    throw new InvalidOptionError(`${flag}: ${JSON.stringify(value)} is not a host name or address (e.g. sluice-admin, 10.0.0.5, ::1)`);
  }
  if (parsed.port !== undefined && flag === '--admin-allowed-hosts') {
    throw new InvalidOptionError(`${flag}: give ${JSON.stringify(value)} without a port (any port is accepted)`);
  }
  return parsed.name;
}

/**
 * The host name of a `Host` header (lower case, IPv6 in brackets and normalised), or
 * undefined when it is not a plain `name[:port]`.
 */
export function parseHost(header: string): { name: string; port: string | undefined } | undefined {
  const m = /^(\[[0-9a-f:.]+\]|[a-z0-9._-]+)(?::(\d{1,5}))?$/i.exec(header.trim());
  if (!m) return undefined;
  let name = m[1]!.toLowerCase();
  if (name.startsWith('[')) {
    if (!isIPv6(name.slice(1, -1))) return undefined;
    try {
      name = new URL(`http://${name}/`).hostname;
    } catch {
      return undefined;
    }
  }
  return { name, port: m[2] };
}

function isLoopbackName(name: string): boolean {
  return name === 'localhost' || name === '[::1]' || (isIPv4(name) && name.startsWith('127.'));
}

function isApiPath(req: FastifyRequest): boolean {
  // The matched route, not the raw URL: the router decodes `/%61pi/...` to `/api/...`.
  const q = req.url.indexOf('?');
  const path = req.routeOptions.url ?? safeDecode(q === -1 ? req.url : req.url.slice(0, q));
  return isProtected(path);
}

/** True when `origin` is the origin the `Host` header names (http, or https behind a TLS proxy). */
function isOwnOrigin(origin: string, hostHeader: string): boolean {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false; // `null` and anything else that is not an origin
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
  try {
    return new URL(`${url.protocol}//${hostHeader}`).host === url.host;
  } catch {
    return false;
  }
}

function hostProblem(header: string | undefined, options: AdminGuardOptions): string {
  const names = ['localhost', '127.0.0.1', '[::1]'];
  const admin = options.adminHost?.trim() ?? '';
  const extra = BIND_ALL.has(admin) ? '' : ` or ${admin}`;
  const what = header === undefined ? 'a request without a Host header' : `Host ${JSON.stringify(header)}`;
  return `the admin API does not answer ${what}: reach it as ${names.join(', ')}${extra} (a web page of another name may be rebinding DNS); add names it is reached by with --admin-allowed-hosts`;
}

function safeDecode(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}
