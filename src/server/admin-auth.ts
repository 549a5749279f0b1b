import type { FastifyInstance } from 'fastify';
import { InvalidOptionError, UnauthorizedError } from '../errors.js';
import { sendError } from './reply-error.js';
import { bearerToken, tokenMatches } from './bearer-token.js';

/**
 * Admin routes that stay open when an admin token is set: probes (kubelets and load
 * balancers do not send tokens) and Prometheus metrics (counts and resource names only,
 * no event content or Secrets; scrapers are usually not given tokens). Everything under
 * `/api/` needs the token, as does the Kubernetes-shaped API kubectl uses (`/apis/`,
 * `/openapi/`, `/version`), where the token is the kubeconfig's bearer token.
 */
export const OPEN_ADMIN_PATHS: readonly string[] = ['/healthz', '/readyz', '/metrics'];

/**
 * Requires `Authorization: Bearer <token>` on every `/api/` route of the admin app,
 * including routes other features add later. Browsers cannot set headers on an
 * EventSource, so `?access_token=<token>` (RFC 6750 §2.3) is accepted as well.
 */
export function requireAdminToken(app: FastifyInstance, token: string): void {
  if (token.length === 0) throw new InvalidOptionError('the admin token must not be empty');
  app.addHook('onRequest', async (req, reply) => {
    const q = req.url.indexOf('?');
    // The matched route, not the raw URL: the router decodes `/%61pi/...` to `/api/...`.
    const path = req.routeOptions.url ?? safeDecode(q === -1 ? req.url : req.url.slice(0, q));
    if (!isProtected(path)) return;
    const presented = bearerToken(req.headers) ?? queryToken(q === -1 ? '' : req.url.slice(q + 1));
    if (tokenMatches(presented, token)) return;
    reply.header('WWW-Authenticate', 'Bearer realm="sluice-admin"');
    const why =
      presented === undefined
        ? 'the admin API needs a bearer token: send "Authorization: Bearer <token>"'
        : 'the bearer token is not the admin token this sluice was started with (--admin-token / SLUICE_ADMIN_TOKEN)';
    return sendError(reply, new UnauthorizedError(why));
  });
}

/** Paths that need the token and the cross-site guard: the admin API and the Kubernetes-shaped one (discovery included: it names every kind). */
export function isProtected(path: string): boolean {
  for (const prefix of ['/api', '/apis', '/openapi']) if (path === prefix || path.startsWith(prefix + '/')) return true;
  return path === '/version';
}

function queryToken(query: string): string | undefined {
  const v = new URLSearchParams(query).get('access_token');
  return v === null || v === '' ? undefined : v;
}

function safeDecode(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}
