import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { InvalidOptionError, MethodNotAllowedError, NotFoundError, UnavailableError } from '../errors.js';
import type { KubeKind, KubeKinds, KubeObject } from './kube-kinds.js';
import { statusOfError, type ErrorSubject } from './kube-errors.js';
import type { KubeObjectStore } from './object-store.js';
import { parseFieldSelector, parseLabelSelector } from './selectors.js';
import { toTable, wantsTable } from './table.js';
import { serveWatch, type WatchQuery } from './watch.js';
import { apiVersionOf, qualified, KubeWrites, type WriteTarget } from './writes.js';

/** Largest body a write takes: the admin API's limit. */
const MAX_BODY = 16 * 1024 * 1024;

export interface KubeResourceRoutesOptions {
  /** True once the server began shutting down: writes then answer 503. */
  isDraining?: () => boolean;
}

interface ListQuery extends WatchQuery {
  watch?: string;
  labelSelector?: string;
  fieldSelector?: string;
  includeObject?: string;
  dryRun?: string;
  fieldManager?: string;
  force?: string;
}

type Params = { group?: string; version?: string; namespace?: string; plural: string; name?: string };

/**
 * The resource half of the Kubernetes API for Sluice's kinds: list (label and field
 * selectors, Tables for `kubectl get`), watch, get, create, update, patch, delete and
 * the status subresource, under `/apis/<group>/<version>` and `/api/v1` (Secret,
 * ConfigMap). Errors are `Status` objects. Writes go through `KubeWrites` to live
 * configuration, the same path as every other write.
 */
export function kubeResourceRoutes(kinds: KubeKinds, store: KubeObjectStore, writes: KubeWrites, options: KubeResourceRoutesOptions = {}) {
  return async (app: FastifyInstance): Promise<void> => {
    await app.register(async (scope) => {
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser('*', { parseAs: 'string', bodyLimit: MAX_BODY }, (_req, body, done) => done(null, body));
      scope.setErrorHandler((err, req, reply) => sendStatus(reply, err, subjectOf(kinds, req)));
      scope.addHook('onRequest', async (req, reply) => {
        if (req.method === 'GET' || req.method === 'HEAD') return;
        if (options.isDraining?.()) return sendStatus(reply, new UnavailableError('sluice is shutting down: resources are not changed now; retry once it is back'));
      });

      const handlers = new Handlers(kinds, store, writes);
      // Core kinds (Secret, ConfigMap) under a static /api/v1, beside the admin API's own /api/v1 routes.
      for (const base of ['/apis/:group/:version', '/api/v1']) {
        scope.get(`${base}/:plural`, (req, reply) => handlers.list(req, reply));
        scope.get(`${base}/namespaces/:namespace/:plural`, (req, reply) => handlers.list(req, reply));
        scope.post(`${base}/namespaces/:namespace/:plural`, { bodyLimit: MAX_BODY }, (req, reply) => handlers.create(req, reply));
        scope.get(`${base}/namespaces/:namespace/:plural/:name`, (req, reply) => handlers.get(req, reply));
        scope.put(`${base}/namespaces/:namespace/:plural/:name`, { bodyLimit: MAX_BODY }, (req, reply) => handlers.update(req, reply));
        scope.patch(`${base}/namespaces/:namespace/:plural/:name`, { bodyLimit: MAX_BODY }, (req, reply) => handlers.patch(req, reply));
        scope.delete(`${base}/namespaces/:namespace/:plural/:name`, { bodyLimit: MAX_BODY }, (req, reply) => handlers.delete(req, reply));
        scope.get(`${base}/namespaces/:namespace/:plural/:name/status`, (req, reply) => handlers.get(req, reply));
        for (const method of ['PUT', 'PATCH'] as const) {
          scope.route({ method, url: `${base}/namespaces/:namespace/:plural/:name/status`, bodyLimit: MAX_BODY, handler: (req, reply) => handlers.statusWrite(req, reply) });
        }
      }
    });
  };
}

class Handlers {
  constructor(
    readonly kinds: KubeKinds,
    readonly store: KubeObjectStore,
    readonly writes: KubeWrites,
  ) {}

  async list(req: FastifyRequest, reply: FastifyReply): Promise<unknown> {
    const { kind, version, namespace } = this.#target(req);
    const q = req.query as ListQuery;
    const matches = selectorOf(q);
    if (q.watch === 'true' || q.watch === '1') {
      return serveWatch(req, reply, this.store, { kind, version, namespace, matches, table: wantsTable(req.headers.accept), query: q });
    }
    const items = this.store.list(kind.kind, namespace).filter(matches).map((o) => asVersion(o, kind, version));
    const rv = this.store.resourceVersion;
    if (wantsTable(req.headers.accept)) return reply.send(toTable(kind, items, rv, q.includeObject !== undefined ? { includeObject: q.includeObject } : {}));
    return reply.send({ kind: `${kind.kind}List`, apiVersion: apiVersionOf({ kind, version }), metadata: { resourceVersion: rv }, items });
  }

  async get(req: FastifyRequest, reply: FastifyReply): Promise<unknown> {
    const t = this.#item(req);
    const o = this.store.get(t.kind.kind, t.namespace, t.name!);
    if (!o) throw new NotFoundError(`${qualified(t.kind)} "${t.name}" not found`);
    const obj = asVersion(o, t.kind, t.version);
    if (wantsTable(req.headers.accept)) return reply.send(toTable(t.kind, [obj], obj.metadata.resourceVersion));
    return reply.send(obj);
  }

  async create(req: FastifyRequest, reply: FastifyReply): Promise<unknown> {
    const t = this.#target(req);
    const created = await this.writes.create(t, jsonBody(req));
    return reply.code(201).send(asVersion(created, t.kind, t.version));
  }

  async update(req: FastifyRequest, reply: FastifyReply): Promise<unknown> {
    const t = this.#item(req);
    return reply.send(asVersion(await this.writes.update(t, jsonBody(req)), t.kind, t.version));
  }

  async patch(req: FastifyRequest, reply: FastifyReply): Promise<unknown> {
    const t = this.#item(req);
    const q = req.query as ListQuery;
    const { object, created } = await this.writes.patch(t, textBody(req), req.headers['content-type'], {
      ...(q.fieldManager !== undefined ? { fieldManager: q.fieldManager } : {}),
      ...(q.force !== undefined ? { force: q.force } : {}),
    });
    return reply.code(created ? 201 : 200).send(asVersion(object, t.kind, t.version));
  }

  async delete(req: FastifyRequest, reply: FastifyReply): Promise<unknown> {
    const t = this.#item(req);
    const text = typeof req.body === 'string' ? req.body.trim() : '';
    const options = text ? (parseJson(text, 'DeleteOptions') as { preconditions?: { uid?: string; resourceVersion?: string } }) : {};
    const deleted = await this.writes.delete(t, options.preconditions ? { preconditions: options.preconditions } : {});
    return reply.send(asVersion(deleted, t.kind, t.version));
  }

  /** Status belongs to Sluice's controllers: it is read, never written by clients. */
  async statusWrite(req: FastifyRequest, _reply: FastifyReply): Promise<unknown> {
    const t = this.#item(req);
    throw new MethodNotAllowedError(`the status of ${qualified(t.kind)} "${t.name}" is set by Sluice from what it runs; change the spec instead`);
  }

  #target(req: FastifyRequest): WriteTarget {
    const p = req.params as Params;
    const version = p.version ?? 'v1';
    const kind = this.kinds.byPlural(p.group ?? '', version, p.plural);
    if (!kind) throw new NotFoundError(`the server could not find the requested resource (${p.plural} in ${p.group ? `${p.group}/` : ''}${version})`);
    return { kind, version, namespace: p.namespace as string, ...(p.name !== undefined ? { name: p.name } : {}), ...(dryRunOf(req) ? { dryRun: true } : {}) };
  }

  #item(req: FastifyRequest): WriteTarget & { name: string } {
    const t = this.#target(req);
    return { ...t, name: t.name! };
  }
}

/** An object as served under the version the client asked for (Sluice's versions of a kind share one schema). */
function asVersion(o: KubeObject, kind: KubeKind, version: string): KubeObject {
  const apiVersion = apiVersionOf({ kind, version });
  return o.apiVersion === apiVersion ? o : { ...o, apiVersion };
}

function selectorOf(q: ListQuery): (o: KubeObject) => boolean {
  const labels = parseLabelSelector(q.labelSelector ?? '');
  const fields = parseFieldSelector<KubeObject>(q.fieldSelector ?? '', {
    'metadata.name': (o) => o.metadata.name,
    'metadata.namespace': (o) => o.metadata.namespace,
  });
  return (o) => labels(o.metadata.labels) && fields(o);
}

/** `dryRun=All` (kubectl's `--dry-run=server`, `kubectl diff`); any other value is refused, as Kubernetes does. */
function dryRunOf(req: FastifyRequest): boolean {
  const v = (req.query as ListQuery).dryRun;
  if (v === undefined) return false;
  if (v !== 'All') throw new InvalidOptionError(`dryRun: unsupported value ${JSON.stringify(v)}; the only valid value is All`);
  return true;
}

function textBody(req: FastifyRequest): string {
  if (typeof req.body !== 'string' || req.body.trim() === '') throw new InvalidOptionError('the request needs a body');
  return req.body;
}

function jsonBody(req: FastifyRequest): unknown {
  return parseJson(textBody(req), 'object');
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new InvalidOptionError(`the body is not a valid JSON ${what}: ${(err as Error).message}`, { cause: err });
  }
}

function subjectOf(kinds: KubeKinds, req: FastifyRequest): ErrorSubject | undefined {
  const p = req.params as Partial<Params> | undefined;
  if (!p?.plural) return undefined;
  const kind = kinds.byPlural(p.group ?? '', p.version ?? 'v1', p.plural);
  return kind ? { kind, ...(p.name !== undefined ? { name: p.name } : {}) } : undefined;
}

export function sendStatus(reply: FastifyReply, err: unknown, subject?: ErrorSubject): FastifyReply {
  const status = statusOfError(err, subject);
  return reply.code(status.code).type('application/json').send(status);
}
