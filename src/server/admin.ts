import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Metrics } from '../observability/metrics.js';
import { NotFoundError } from '../errors.js';
import { sendError } from './reply-error.js';
import { requireAdminToken } from './admin-auth.js';
import { guardAdminRequests } from './admin-guard.js';
import { redactedSecret } from './admin-resources.js';
import type { ResourceView, RuntimeView } from '../runtime/runtime-view.js';

/** What the admin API needs from the runtime. */
export type AdminRuntime = RuntimeView;
export type { ResourceView };

export interface AdminOptions {
  runtime: AdminRuntime;
  metrics: Metrics;
  logger: Logger;
  /** Lets later features (apply/delete, inspector) add routes without editing this file. */
  plugins?: Array<(app: FastifyInstance) => void | Promise<void>>;
  /** Bearer token required on `/api/` routes (`--admin-token`); health, readiness and metrics stay open. */
  token?: string;
  /** The kind a name in a URL means (`imc`, `subscriptions`); default: the kind itself, case-insensitive. */
  resolveKind?: (input: string) => string | undefined;
  /**
   * `--admin-host`: a specific name or address is accepted as `Host` besides loopback
   * names; a bind-all one (0.0.0.0, ::) is not a name and adds nothing (see admin-guard.ts).
   */
  adminHost?: string;
  /** `--admin-allowed-hosts`: more names clients reach the admin port by (any port). */
  allowedHosts?: readonly string[];
  /** Serve HTTPS with this certificate and key (kubectl sends tokens only over TLS). */
  tls?: { cert: string | Buffer; key: string | Buffer };
}

/**
 * Admin port: health, readiness, Prometheus metrics and the resource API. Loopback by
 * default; requests from other web pages (foreign Origin, DNS-rebound Host) are refused.
 */
export async function createAdminApp(options: AdminOptions): Promise<FastifyInstance> {
  const base = { loggerInstance: options.logger.child({ component: 'admin' }) as FastifyBaseLogger, logController: new LogController({ disableRequestLogging: true }) };
  // The routes do not depend on the transport: an HTTPS instance is used as the HTTP type.
  const app = (options.tls ? Fastify({ ...base, https: { cert: options.tls.cert, key: options.tls.key } }) : Fastify(base)) as unknown as FastifyInstance;
  app.setErrorHandler((err, _req, reply) => sendError(reply, err));
  app.setNotFoundHandler((req, reply) => sendError(reply, new NotFoundError(`no admin route ${req.method} ${req.url}`)));
  // Before the token: web pages (cross-site requests, DNS rebinding) are refused either way.
  guardAdminRequests(app, { ...(options.adminHost !== undefined ? { adminHost: options.adminHost } : {}), ...(options.allowedHosts ? { allowedHosts: options.allowedHosts } : {}) });
  if (options.token !== undefined) requireAdminToken(app, options.token);
  const kindIs = (input: string, kind: string) => (options.resolveKind?.(input) ?? input).toLowerCase() === kind.toLowerCase();
  const allResources = (): ResourceView[] => [...options.runtime.listResources(), ...(options.runtime.listSecrets?.() ?? []).map(redactedSecret)];

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const r = options.runtime.readiness();
    return reply.code(r.ready ? 200 : 503).send({ status: r.ready ? 'ready' : 'not ready', pending: r.pending });
  });
  app.get('/metrics', async (_req, reply) => {
    const body = await options.metrics.registry.metrics();
    return reply.type(options.metrics.registry.contentType).send(body);
  });
  app.get('/api/v1/resources', async (req) => {
    const q = req.query as { kind?: string; namespace?: string };
    const items = allResources()
      .filter((r) => (!q.kind || kindIs(q.kind, r.kind)) && (!q.namespace || r.metadata.namespace === q.namespace));
    return { items };
  });
  app.get('/api/v1/resources/:kind/:namespace/:name', async (req) => {
    const p = req.params as { kind: string; namespace: string; name: string };
    const r = allResources()
      .find((x) => kindIs(p.kind, x.kind) && x.metadata.namespace === p.namespace && x.metadata.name === p.name);
    if (!r) throw new NotFoundError(`${p.kind} ${p.namespace}/${p.name} not found`);
    return r;
  });
  for (const plugin of options.plugins ?? []) await plugin(app);
  return app;
}
