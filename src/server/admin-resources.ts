import type { FastifyInstance, FastifyReply } from 'fastify';
import { ApplyRejectedError, InvalidOptionError, NotFoundError, UnavailableError } from '../errors.js';
import { kindAliases, knownKinds, resolveKindName, type LiveConfig } from '../live-config/index.js';
import { bodyDocuments, rawKey } from '../live-config/documents.js';
import { ResourceKindRegistry } from '../resources/index.js';
import type { SecretResource } from '../resources/types.js';
import type { ResourceView } from '../runtime/runtime-view.js';
import { sendError } from './reply-error.js';

/** Largest resource body the admin API takes; the loader's limit for a file. */
const MAX_BODY = 16 * 1024 * 1024;

interface StatusLookup {
  listResources(): ResourceView[];
  /** One resource's status; without it an apply lists the resources once (never once per item). */
  statusOf?(kind: string, namespace: string, name: string): unknown;
}

export interface AdminResourcesOptions {
  /** True once the server began shutting down: writes then answer 503 instead of applying. */
  isDraining?: () => boolean;
}

/**
 * The admin API's write side: `POST`/`PUT /api/v1/resources` apply YAML (multi-document)
 * or JSON (object, List or array), all-or-nothing: one invalid document and nothing is
 * applied (400 naming each document, kind, name and field). `DELETE` by path, or with a
 * body naming the documents. Changes are applied live and saved under `--data-dir`.
 */
export function adminResourcesPlugin(live: LiveConfig, runtime: StatusLookup, registry: ResourceKindRegistry, options: AdminResourcesOptions = {}) {
  return async (app: FastifyInstance): Promise<void> => {
    // The kinds this server accepts and the names users may type for them, so clients
    // resolve `subs` or `imc` exactly as the server would, whatever their own version.
    app.get('/api/v1/kinds', async () => ({
      items: knownKinds(registry).map((kind) => ({
        kind,
        apiVersions: registry.definitions().filter((d) => d.kind === kind).flatMap((d) => ResourceKindRegistry.versionsOf(d)),
        aliases: kindAliases(registry, kind),
      })),
    }));
    await app.register(async (scope) => {
      // Bodies are read as text: the resource loader parses YAML and JSON itself, so the
      // API and `sluice start` give the same messages.
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser('*', { parseAs: 'string', bodyLimit: MAX_BODY }, (_req, body, done) => done(null, body));
      scope.setErrorHandler((err, _req, reply) => replyError(reply, err));
      // Content types (YAML/JSON only), Origin and Host are checked for every admin write
      // before this (admin-guard.ts); here: nothing is applied or deleted once shutdown began.
      scope.addHook('onRequest', async (req, reply) => {
        if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') return;
        if (options.isDraining?.()) return sendError(reply, new UnavailableError('sluice is shutting down: resources are not applied or deleted now; retry once it is back'));
      });

      const apply = async (body: unknown, contentType: string | undefined) => {
        const items = await live.applyBody(textOf(body), contentType);
        const statusOf = statusLookup(runtime);
        return { items: items.map((i) => ({ ...i, ...statusSummary(statusOf(i.kind, i.namespace, i.name)) })) };
      };
      scope.post('/api/v1/resources', { bodyLimit: MAX_BODY }, async (req) => apply(req.body, req.headers['content-type']));
      scope.put('/api/v1/resources', { bodyLimit: MAX_BODY }, async (req) => apply(req.body, req.headers['content-type']));
      scope.put('/api/v1/resources/:kind/:namespace/:name', { bodyLimit: MAX_BODY }, async (req) => {
        const p = req.params as { kind: string; namespace: string; name: string };
        // Checked before anything is applied: the body must be exactly the resource the path names.
        const named = bodyDocuments(textOf(req.body), req.headers['content-type']).raw.filter((d) => d !== null && d !== undefined).map(rawKey);
        const kind = resolveKindName(registry, p.kind) ?? p.kind;
        const k = named[0];
        if (named.length !== 1 || !k || k.namespace !== p.namespace || k.name !== p.name || (resolveKindName(registry, k.kind) ?? k.kind) !== kind) {
          throw new InvalidOptionError(`PUT /api/v1/resources/${p.kind}/${p.namespace}/${p.name} takes exactly that one resource; use PUT /api/v1/resources for several`);
        }
        return (await apply(req.body, req.headers['content-type'])).items[0];
      });
      scope.delete('/api/v1/resources/:kind/:namespace/:name', async (req) => {
        const p = req.params as { kind: string; namespace: string; name: string };
        if (!(await live.deleteOne(p.kind, p.namespace, p.name))) throw new NotFoundError(`${p.kind} ${p.namespace}/${p.name} not found`);
        return { items: [{ kind: p.kind, namespace: p.namespace, name: p.name, result: 'deleted' }] };
      });
      scope.delete('/api/v1/resources', { bodyLimit: MAX_BODY }, async (req) => {
        const items = await live.deleteBody(textOf(req.body), req.headers['content-type']);
        return { items };
      });
    });
  };
}

function textOf(body: unknown): string {
  if (typeof body === 'string') return body;
  if (Buffer.isBuffer(body)) return body.toString('utf8');
  throw new InvalidOptionError('send the resources as the request body (YAML or JSON)');
}

/**
 * Status by kind/namespace/name for an apply's answer: the runtime's own lookup, else one
 * listing indexed once (an apply of n resources must stay O(n), not list n times).
 */
function statusLookup(runtime: StatusLookup): (kind: string, namespace: string, name: string) => unknown {
  if (runtime.statusOf) return (kind, namespace, name) => runtime.statusOf!(kind, namespace, name);
  const byKey = new Map(runtime.listResources().map((r) => [`${r.kind}/${r.metadata.namespace}/${r.metadata.name}`, r.status]));
  return (kind, namespace, name) => byKey.get(`${kind}/${namespace}/${name}`);
}

/** The applied resource's readiness right after the apply, so the CLI can warn at once. */
function statusSummary(status: unknown): Record<string, unknown> {
  const st = status as { conditions?: Array<{ type: string; status: string; reason?: string; message?: string }>; address?: { url?: string } } | undefined;
  const ready = st?.conditions?.find((c) => c.type === 'Ready');
  return {
    ...(ready ? { ready: ready.status, ...(ready.reason ? { reason: ready.reason } : {}), ...(ready.message ? { message: ready.message } : {}) } : {}),
    ...(st?.address?.url ? { address: st.address.url } : {}),
  };
}

/** `{error, reason}` as everywhere, plus `issues` per document for rejected applies. */
function replyError(reply: FastifyReply, err: unknown): FastifyReply {
  if (err instanceof ApplyRejectedError) {
    const issues = err.errors.flatMap((e) =>
      e.issues.map((i) => ({
        ...(e.origin ? { document: e.origin.document } : {}),
        ...(e.kind ? { kind: e.kind } : {}),
        ...(e.resourceName ? { name: e.resourceName } : {}),
        path: i.path,
        message: i.message,
      })),
    );
    return reply.code(400).type('application/json').send({ error: err.message, reason: err.reason, issues });
  }
  const code = (err as { code?: string }).code;
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') return reply.code(413).send({ error: `request body is larger than ${MAX_BODY} bytes`, reason: 'SLUICE_ERR_PAYLOAD_TOO_LARGE' });
  return sendError(reply, err);
}

/** A Secret as the admin API shows it: key names only, never the values. */
export function redactedSecret(s: SecretResource): ResourceView {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { ...s.metadata },
    spec: { type: s.type ?? 'Opaque', data: Object.fromEntries(Object.keys(s.data).map((k) => [k, '<redacted>'])) },
    status: { conditions: [] },
  };
}
