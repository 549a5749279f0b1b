import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sign } from '@octokit/webhooks-methods';

/** One call the fake API received. */
export interface GitHubApiCall {
  method: string;
  /** Path without the query string. */
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: unknown;
}

/** A hook as the fake stores it; `secret` is kept (GitHub never returns it). */
export interface FakeHook {
  id: number;
  name: string;
  active: boolean;
  events: string[];
  config: { url: string; content_type: string; insecure_ssl: string; secret?: string };
  created_at: string;
  updated_at: string;
}

/**
 * A local HTTP server playing GitHub's webhook REST API (`/repos/{o}/{r}/hooks`,
 * `/orgs/{org}/hooks`): checks the bearer token and the API headers, validates bodies as
 * GitHub does (422 for a duplicate URL or a bad one), paginates with Link headers, and
 * records every call. `failNext` makes the next calls answer an error.
 */
export class FakeGitHubApi {
  readonly calls: GitHubApiCall[] = [];
  /** Hook lists keyed by `repos/o/r` or `orgs/o`. */
  readonly hooks = new Map<string, FakeHook[]>();
  token: string;
  /** Hooks per page when the client does not ask (GitHub's default is 30). */
  defaultPageSize = 30;
  url = '';
  #server: Server;
  #nextId = 1_000_000;
  #failures: Array<{ status: number; message: string }> = [];

  constructor(options: { token: string }) {
    this.token = options.token;
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        try {
          this.#handle(req, Buffer.concat(chunks), res);
        } catch (err) {
          send(res, 500, { message: `fake GitHub API bug: ${(err as Error).message}` });
        }
      });
    });
  }

  /** Makes `owner/repo` (or an organization, given without '/') exist, with no hooks. */
  addTarget(ownerAndRepository: string): this {
    this.hooks.set(keyOf(ownerAndRepository), []);
    return this;
  }

  hooksOf(ownerAndRepository: string): FakeHook[] {
    return this.hooks.get(keyOf(ownerAndRepository)) ?? [];
  }

  /** Adds an existing hook (as if created by hand or an earlier run). */
  seedHook(ownerAndRepository: string, hook: Partial<FakeHook> & { config: FakeHook['config'] }): FakeHook {
    const now = new Date().toISOString();
    const h: FakeHook = { id: this.#nextId++, name: 'web', active: true, events: ['push'], created_at: now, updated_at: now, ...hook };
    const list = this.hooks.get(keyOf(ownerAndRepository));
    if (!list) throw new Error(`unknown target ${ownerAndRepository}`);
    list.push(h);
    return h;
  }

  /** The next `count` calls answer `status` with GitHub's error body. */
  failNext(status: number, message: string, count = 1): void {
    for (let i = 0; i < count; i++) this.#failures.push({ status, message });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #handle(req: IncomingMessage, raw: Buffer, res: ServerResponse): void {
    const u = new URL(req.url ?? '/', 'http://fake');
    let body: unknown;
    if (raw.length > 0) {
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        this.calls.push({ method: req.method ?? '', path: u.pathname, query: u.searchParams, headers: req.headers, body: raw.toString('utf8') });
        return send(res, 400, { message: 'Problems parsing JSON', documentation_url: 'https://docs.github.com/rest' });
      }
    }
    this.calls.push({ method: req.method ?? '', path: u.pathname, query: u.searchParams, headers: req.headers, body });

    // Enterprise Server serves the API below /api/v3; accept both layouts.
    const path = u.pathname.replace(/^\/api\/v3/, '');
    const auth = req.headers.authorization;
    if (auth !== `Bearer ${this.token}` && auth !== `token ${this.token}`) {
      return send(res, 401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest', status: '401' });
    }
    if (!req.headers['user-agent']) return send(res, 403, { message: 'Request forbidden by administrative rules. Please make sure your request has a User-Agent header' });
    const failure = this.#failures.shift();
    if (failure) return send(res, failure.status, { message: failure.message, documentation_url: 'https://docs.github.com/rest' });

    const m = /^\/(repos\/[^/]+\/[^/]+|orgs\/[^/]+)\/hooks(?:\/(\d+))?$/.exec(path);
    if (!m) return send(res, 404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' });
    const key = decodeURIComponent(m[1] as string);
    const list = this.hooks.get(key);
    if (!list) return send(res, 404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest/webhooks/repos' });
    const apiBase = `${this.url}/${key}/hooks`;
    const id = m[2] === undefined ? undefined : Number(m[2]);

    if (id === undefined && req.method === 'GET') {
      const perPage = Math.min(Number(u.searchParams.get('per_page') ?? this.defaultPageSize) || this.defaultPageSize, 100);
      const page = Math.max(Number(u.searchParams.get('page') ?? 1) || 1, 1);
      const slice = list.slice((page - 1) * perPage, page * perPage);
      if (page * perPage < list.length) {
        res.setHeader('link', `<${apiBase}?per_page=${perPage}&page=${page + 1}>; rel="next", <${apiBase}?per_page=${perPage}&page=${Math.ceil(list.length / perPage)}>; rel="last"`);
      }
      return send(res, 200, slice.map((h) => render(h, apiBase, key)));
    }
    if (id === undefined && req.method === 'POST') {
      const problem = validateHookBody(body, true);
      if (problem) return send(res, 422, { message: 'Validation Failed', errors: [{ resource: 'Hook', code: 'custom', message: problem }] });
      const b = body as { active?: boolean; events?: string[]; config: Record<string, string> };
      if (list.some((h) => h.config.url === b.config.url)) {
        return send(res, 422, { message: 'Validation Failed', errors: [{ resource: 'Hook', code: 'custom', message: `Hook already exists on this ${key.startsWith('orgs/') ? 'organization' : 'repository'}` }] });
      }
      const now = new Date().toISOString();
      const hook: FakeHook = {
        id: this.#nextId++,
        name: 'web',
        active: b.active ?? true,
        events: b.events ?? ['push'],
        config: { url: b.config.url as string, content_type: b.config.content_type ?? 'form', insecure_ssl: String(b.config.insecure_ssl ?? '0'), ...(b.config.secret ? { secret: b.config.secret } : {}) },
        created_at: now,
        updated_at: now,
      };
      list.push(hook);
      return send(res, 201, render(hook, apiBase, key));
    }
    const hook = list.find((h) => h.id === id);
    if (!hook) return send(res, 404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest/webhooks/repos' });
    if (req.method === 'GET') return send(res, 200, render(hook, apiBase, key));
    if (req.method === 'PATCH') {
      const problem = validateHookBody(body, false);
      if (problem) return send(res, 422, { message: 'Validation Failed', errors: [{ resource: 'Hook', code: 'custom', message: problem }] });
      const b = body as { active?: boolean; events?: string[]; config?: Record<string, string> };
      if (b.active !== undefined) hook.active = b.active;
      if (b.events) hook.events = b.events;
      if (b.config) {
        hook.config = {
          url: b.config.url ?? hook.config.url,
          content_type: b.config.content_type ?? hook.config.content_type,
          insecure_ssl: String(b.config.insecure_ssl ?? hook.config.insecure_ssl),
          ...(b.config.secret ? { secret: b.config.secret } : {}),
        };
      }
      hook.updated_at = new Date().toISOString();
      return send(res, 200, render(hook, apiBase, key));
    }
    if (req.method === 'DELETE') {
      list.splice(list.indexOf(hook), 1);
      res.statusCode = 204;
      return void res.end();
    }
    return send(res, 404, { message: 'Not Found' });
  }
}

function keyOf(ownerAndRepository: string): string {
  return ownerAndRepository.includes('/') ? `repos/${ownerAndRepository}` : `orgs/${ownerAndRepository}`;
}

function validateHookBody(body: unknown, create: boolean): string | undefined {
  if (body === null || typeof body !== 'object') return 'Invalid request body';
  const b = body as { config?: unknown; events?: unknown };
  if (b.events !== undefined && (!Array.isArray(b.events) || b.events.some((e) => typeof e !== 'string'))) return 'events must be a list of strings';
  if (b.config === undefined) return create ? 'config is missing' : undefined;
  const url = (b.config as { url?: unknown }).url;
  if (create && typeof url !== 'string') return 'url is missing';
  if (url !== undefined) {
    try {
      const u = new URL(String(url));
      if (u.protocol !== 'http:' && u.protocol !== 'https:') return 'url is not a supported scheme';
    } catch {
      return 'url is not a valid URL';
    }
  }
  return undefined;
}

function render(h: FakeHook, apiBase: string, key: string): Record<string, unknown> {
  return {
    type: key.startsWith('orgs/') ? 'Organization' : 'Repository',
    id: h.id,
    name: h.name,
    active: h.active,
    events: h.events,
    config: { content_type: h.config.content_type, insecure_ssl: h.config.insecure_ssl, url: h.config.url, ...(h.config.secret ? { secret: '********' } : {}) },
    updated_at: h.updated_at,
    created_at: h.created_at,
    url: `${apiBase}/${h.id}`,
    test_url: `${apiBase}/${h.id}/test`,
    ping_url: `${apiBase}/${h.id}/pings`,
    deliveries_url: `${apiBase}/${h.id}/deliveries`,
    last_response: { code: null, status: 'unused', message: null },
  };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.end(JSON.stringify(body));
}

/** What GitHub's side of a webhook delivery looks like, for `sendDelivery`. */
export interface DeliveryOptions {
  event: string;
  /** X-GitHub-Delivery; a random GUID when omitted. */
  id?: string;
  /** Raw body: sent byte for byte (and signed as such). */
  body: string | Buffer;
  /** Sign with this secret (`X-Hub-Signature-256: sha256=<hmac hex>`), as GitHub does. */
  secret?: string;
  contentType?: string;
  /** Extra or overriding headers (set a value to undefined to drop a header). */
  headers?: Record<string, string | undefined>;
}

/** The headers GitHub sends with a delivery, signed over the raw body when a secret is given. */
export async function deliveryHeaders(o: DeliveryOptions): Promise<Record<string, string>> {
  const { createHmac, randomUUID } = await import('node:crypto');
  const headers: Record<string, string | undefined> = {
    'content-type': o.contentType ?? 'application/json',
    'user-agent': 'GitHub-Hookshot/044aadd',
    'x-github-event': o.event,
    'x-github-delivery': o.id ?? randomUUID(),
    'x-github-hook-id': '292430182',
    'x-github-hook-installation-target-id': '79929171',
    'x-github-hook-installation-target-type': 'repository',
  };
  if (o.secret) {
    // GitHub signs the raw bytes; webhooks-methods' sign() takes them as a string.
    headers['x-hub-signature-256'] =
      typeof o.body === 'string' ? await sign(o.secret, o.body) : 'sha256=' + createHmac('sha256', o.secret).update(o.body).digest('hex');
  }
  Object.assign(headers, o.headers ?? {});
  return Object.fromEntries(Object.entries(headers).filter((e): e is [string, string] => e[1] !== undefined));
}
