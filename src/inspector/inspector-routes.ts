import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { InvalidQueryError, TooManyStreamsError, UnavailableError } from '../errors.js';
import type { RuntimeView as AdminRuntime } from '../runtime/runtime-view.js';
import type { DeliveryQuery } from './delivery-log.js';
import type { Inspector } from './inspector.js';
import { findStaticDir, loadStaticAssets, type StaticAsset } from './static-assets.js';

export interface InspectorRoutesOptions {
  inspector: Inspector;
  runtime: Pick<AdminRuntime, 'listResources'>;
  logger: Logger;
  /** Folder holding index.html, inspector.js and inspector.css (found automatically by default). */
  staticDir?: string;
}

const DEFAULT_LIMIT = 100;
const STREAM_KINDS = new Set(['channel', 'broker']);
// Event content is untrusted: the page renders it as text, and no inline script may run.
const PAGE_HEADERS = {
  'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

/**
 * The event inspector on the admin port: the page at `/`, the live stream
 * (`/api/v1/stream`, server-sent events), recent deliveries and rates (dead letters are
 * served by the dead-letter store's routes, src/deadletters).
 * Added through createAdminApp's `plugins`.
 */
export function inspectorRoutes(options: InspectorRoutesOptions): (app: FastifyInstance) => Promise<void> {
  return async (app) => {
    const { inspector } = options;
    const assets = await loadAssets(options);

    for (const path of ['/', '/inspector.js', '/inspector.css']) {
      app.get(path, async (_req, reply) => {
        const asset = assets.get(path);
        if (!asset) throw new UnavailableError('the inspector page files were not found; reinstall sluice (src/inspector/static is missing)');
        return reply.headers(PAGE_HEADERS).type(asset.contentType).send(asset.body);
      });
    }

    app.get('/api/v1/stream', async (req, reply) => {
      const q = req.query as Record<string, unknown>;
      const kind = queryString(q, 'kind');
      if (kind !== undefined && !STREAM_KINDS.has(kind)) throw new InvalidQueryError(`query parameter kind must be channel or broker, got ${JSON.stringify(kind)}`);
      const filter = { kind, namespace: queryString(q, 'namespace'), name: queryString(q, 'name') };
      if (inspector.stream.full) throw new TooManyStreamsError(`the inspector already serves ${inspector.stream.maxClients} live streams; close one and retry`);
      // The stream outlives this handler: fastify must not answer for it.
      reply.hijack();
      inspector.stream.attach(reply.raw, filter);
    });

    app.get('/api/v1/deliveries', async (req) => ({ items: inspector.deliveries.deliveries(deliveryQuery(req.query, inspector.deliveries.capacity)) }));

    app.get('/api/v1/rates', async () => {
      const triggers = triggerKeys(options.runtime);
      return {
        windowSeconds: inspector.rateWindowSeconds,
        items: inspector.rates((ns, broker, name) => triggers.has(`${ns}/${broker}/${name}`)),
      };
    });

    // Open streams would hold the admin server's close() forever.
    app.addHook('preClose', (done) => {
      inspector.stream.closeAll();
      done();
    });
  };
}

async function loadAssets(options: InspectorRoutesOptions): Promise<Map<string, StaticAsset>> {
  const dir = options.staticDir ?? (await findStaticDir());
  try {
    if (dir) return await loadStaticAssets(dir);
  } catch (err) {
    options.logger.error({ err, dir }, 'inspector page files could not be read; the page at / is unavailable');
    return new Map();
  }
  options.logger.error('inspector page files not found (src/inspector/static); the page at / is unavailable');
  return new Map();
}

function queryString(q: Record<string, unknown>, name: string): string | undefined {
  const v = q[name];
  if (v === undefined || v === '') return undefined;
  if (typeof v !== 'string') throw new InvalidQueryError(`query parameter ${name} must be given once`);
  return v;
}

function deliveryQuery(query: unknown, capacity: number): DeliveryQuery {
  const q = (query ?? {}) as Record<string, unknown>;
  const rawLimit = queryString(q, 'limit');
  let limit = DEFAULT_LIMIT;
  if (rawLimit !== undefined) {
    limit = Number(rawLimit);
    if (!/^\d+$/.test(rawLimit) || limit < 1) throw new InvalidQueryError(`query parameter limit must be a positive integer, got ${JSON.stringify(rawLimit)}`);
  }
  return {
    namespace: queryString(q, 'namespace'),
    resource: queryString(q, 'resource'),
    subscription: queryString(q, 'subscription'),
    limit: Math.min(limit, capacity),
  };
}

/** `namespace/broker/trigger` of every Trigger, to tell triggers from subscriptions in the rates. */
function triggerKeys(runtime: Pick<AdminRuntime, 'listResources'>): Set<string> {
  const out = new Set<string>();
  for (const r of runtime.listResources()) {
    if (r.kind !== 'Trigger') continue;
    const broker = (r.spec as { broker?: unknown } | null)?.broker;
    if (typeof broker === 'string') out.add(`${r.metadata.namespace}/${broker}/${r.metadata.name}`);
  }
  return out;
}
