import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { InvalidQueryError } from '../errors.js';
import type { DeadLetterFilter, DeadLetterOwner, DeadLetterStore } from './dead-letter-store.js';
import { entryView } from './dead-letter-view.js';
import type { Redriver } from './redriver.js';
import { InvalidRedriveRequestError, parseSubscriptionRef, resolveOwner, type ResourceLike } from './subscription-ref.js';

export interface DeadLetterRoutesOptions {
  store: DeadLetterStore;
  redriver: Redriver;
  /** The Subscriptions and Triggers that exist now. */
  resources: () => readonly ResourceLike[];
}

const DEFAULT_LIMIT = 100;
const FILTER_FIELDS = ['id', 'type', 'source', 'subject', 'code'] as const;

const filterSchema = z.strictObject({
  id: z.string().min(1).optional(),
  type: z.string().min(1).optional(),
  source: z.string().min(1).optional(),
  subject: z.string().min(1).optional(),
  code: z.union([z.string().regex(/^\d{3}$/), z.number().int().min(100).max(599)]).optional(),
});

const redriveSchema = z.strictObject({
  subscription: z.string().min(1),
  ids: z.array(z.string().min(1)).max(1000).optional(),
  filter: filterSchema.optional(),
  dryRun: z.boolean().optional(),
  force: z.boolean().optional(),
});

/**
 * `GET /api/v1/deadletters` (list, filtered by subscription and event attributes) and
 * `POST /api/v1/deadletters/redrive` on the admin port (its guard and token apply).
 */
export function deadLetterRoutes(options: DeadLetterRoutesOptions): (app: FastifyInstance) => Promise<void> {
  return async (app) => {
    app.get('/api/v1/deadletters', async (req) => {
      const q = (req.query ?? {}) as Record<string, unknown>;
      const sub = queryString(q, 'subscription');
      // `kind/ns/name`, or the inspector's original query: namespace, resource (channel or broker) and subscription name.
      const owner: Partial<DeadLetterOwner> =
        sub !== undefined && sub.includes('/')
          ? resolveOwner(parseSubscriptionRef(sub), options.resources())
          : { namespace: queryString(q, 'namespace'), resource: queryString(q, 'resource'), name: sub };
      const filter: Record<string, string | boolean | undefined> = {};
      for (const f of FILTER_FIELDS) filter[f] = queryString(q, f);
      const pending = queryString(q, 'pending');
      if (pending !== undefined && pending !== 'true' && pending !== 'false') throw new InvalidQueryError(`query parameter pending must be true or false, got ${JSON.stringify(pending)}`);
      if (pending !== undefined) filter.pending = pending === 'true';
      const limit = limitOf(q);
      const items = (await options.store.list(owner, filter as DeadLetterFilter)).slice(0, limit).map(entryView);
      return { items };
    });

    app.post('/api/v1/deadletters/redrive', async (req) => {
      const parsed = redriveSchema.safeParse(req.body ?? {});
      if (!parsed.success) throw new InvalidRedriveRequestError(`invalid redrive request: ${describeIssues(parsed.error)}`);
      const body = parsed.data;
      const owner = resolveOwner(parseSubscriptionRef(body.subscription), options.resources());
      const filter: DeadLetterFilter | undefined = body.filter ? { ...body.filter, code: body.filter.code === undefined ? undefined : String(body.filter.code) } : undefined;
      return options.redriver.redrive({ owner, ids: body.ids, filter, dryRun: body.dryRun, force: body.force });
    });

    // A redrive waiting out a backoff would hold the admin server's close().
    app.addHook('preClose', (done) => {
      options.redriver.close();
      done();
    });
  };
}

function queryString(q: Record<string, unknown>, name: string): string | undefined {
  const v = q[name];
  if (v === undefined || v === '') return undefined;
  if (typeof v !== 'string') throw new InvalidQueryError(`query parameter ${name} must be given once`);
  return v;
}

function limitOf(q: Record<string, unknown>): number {
  const raw = queryString(q, 'limit');
  if (raw === undefined) return DEFAULT_LIMIT;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1) throw new InvalidQueryError(`query parameter limit must be a positive integer, got ${JSON.stringify(raw)}`);
  return n;
}

function describeIssues(err: z.ZodError): string {
  return err.issues.map((i) => `${i.path.length ? i.path.join('.') : 'body'}: ${i.message}`).join('; ');
}
