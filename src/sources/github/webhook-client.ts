import { request, type Dispatcher } from 'undici';
import { GitHubApiError, InvalidOptionError } from '../../errors.js';
import { DEFAULT_GITHUB_API_URL } from './spec-schema.js';

/** The REST API version this client speaks (GitHub's `X-GitHub-Api-Version`). */
export const GITHUB_API_VERSION = '2022-11-28';

/** What Sluice asks GitHub to send, and where. */
export interface HookSettings {
  /** Where GitHub posts: `<publicUrl>/sources/<ns>/<name>`. */
  url: string;
  events: readonly string[];
  /** Shared secret GitHub signs deliveries with; none = unsigned deliveries. */
  secret?: string | undefined;
  /** Let GitHub skip TLS certificate verification of `url` (`insecure_ssl: "1"`). */
  insecureSsl: boolean;
}

/** A webhook as GitHub returns it (the fields Sluice reads). */
export interface GitHubHook {
  id: number;
  name?: string;
  active: boolean;
  events: string[];
  config: { url?: string; content_type?: string; insecure_ssl?: string | number; secret?: string };
}

export interface GitHubWebhookClientOptions {
  /** `https://api.github.com` by default; `https://<host>/api/v3` for GitHub Enterprise Server. */
  apiUrl?: string | undefined;
  token: string;
  owner: string;
  /** Absent for an organization webhook. */
  repo?: string | undefined;
  /** Per-request limit for headers and body (default 30 s). */
  timeoutMs?: number;
  dispatcher?: Dispatcher;
}

const MAX_PAGES = 20;

/**
 * The part of GitHub's REST API that manages repository and organization webhooks
 * (`/repos/{owner}/{repo}/hooks`, `/orgs/{org}/hooks`), with undici. Every failure is a
 * GitHubApiError carrying GitHub's status and message.
 */
export class GitHubWebhookClient {
  readonly #base: string;
  readonly #hooksPath: string;
  readonly #o: GitHubWebhookClientOptions;

  constructor(options: GitHubWebhookClientOptions) {
    let base: URL;
    try {
      base = new URL(options.apiUrl ?? DEFAULT_GITHUB_API_URL);
    } catch (err) {
      throw new InvalidOptionError(`githubAPIURL ${JSON.stringify(options.apiUrl)} is not a URL`, { cause: err });
    }
    if (!options.token) throw new InvalidOptionError('a GitHub access token is required to manage webhooks');
    this.#base = base.href.replace(/\/+$/, '');
    const owner = encodeURIComponent(options.owner);
    this.#hooksPath = options.repo === undefined ? `/orgs/${owner}/hooks` : `/repos/${owner}/${encodeURIComponent(options.repo)}/hooks`;
    this.#o = options;
  }

  /** `/repos/o/r/hooks` or `/orgs/o/hooks`, relative to the API URL. */
  get hooksPath(): string {
    return this.#hooksPath;
  }

  async listHooks(): Promise<GitHubHook[]> {
    const out: GitHubHook[] = [];
    let url: string | undefined = `${this.#base}${this.#hooksPath}?per_page=100`;
    for (let page = 0; url && page < MAX_PAGES; page++) {
      const r: { body: unknown; next: string | undefined } = await this.#call('GET', url);
      if (!Array.isArray(r.body)) throw new GitHubApiError(`GitHub API GET ${this.#hooksPath} did not answer a list of hooks`);
      out.push(...(r.body as GitHubHook[]));
      // Never follow a link elsewhere: the request carries the access token.
      url = r.next && new URL(r.next).origin === new URL(this.#base).origin ? r.next : undefined;
    }
    return out;
  }

  async createHook(settings: HookSettings): Promise<GitHubHook> {
    const r = await this.#call('POST', `${this.#base}${this.#hooksPath}`, { name: 'web', ...hookBody(settings) });
    return r.body as GitHubHook;
  }

  async updateHook(id: number, settings: HookSettings): Promise<GitHubHook> {
    const r = await this.#call('PATCH', `${this.#base}${this.#hooksPath}/${id}`, hookBody(settings));
    return r.body as GitHubHook;
  }

  /** Deletes a hook; false when GitHub no longer has it (already deleted). */
  async deleteHook(id: number): Promise<boolean> {
    try {
      await this.#call('DELETE', `${this.#base}${this.#hooksPath}/${id}`);
      return true;
    } catch (err) {
      if (err instanceof GitHubApiError && err.status === 404) return false;
      throw err;
    }
  }

  /**
   * Makes sure exactly one hook posts to `settings.url` with these events and secret:
   * an existing hook with the same URL is updated (its secret is unreadable, so it is
   * always written), otherwise one is created. Safe to call on every start.
   */
  async ensureHook(settings: HookSettings): Promise<{ hook: GitHubHook; outcome: 'created' | 'updated' }> {
    const existing = (await this.listHooks()).find((h) => h.config?.url === settings.url);
    if (existing) return { hook: await this.updateHook(existing.id, settings), outcome: 'updated' };
    return { hook: await this.createHook(settings), outcome: 'created' };
  }

  /** Removes the hook with `id`, or else every hook posting to `url`; returns the ids deleted. */
  async removeHook(url: string, id?: number): Promise<number[]> {
    if (id !== undefined && (await this.deleteHook(id))) return [id];
    const ids = (await this.listHooks()).filter((h) => h.config?.url === url).map((h) => h.id);
    const deleted: number[] = [];
    for (const h of ids) if (await this.deleteHook(h)) deleted.push(h);
    return deleted;
  }

  async #call(method: Dispatcher.HttpMethod, url: string, body?: unknown): Promise<{ body: unknown; next: string | undefined }> {
    const path = new URL(url).pathname;
    const timeout = this.#o.timeoutMs ?? 30_000;
    let res: Dispatcher.ResponseData;
    try {
      res = await request(url, {
        method,
        headers: {
          authorization: `Bearer ${this.#o.token}`,
          accept: 'application/vnd.github+json',
          'x-github-api-version': GITHUB_API_VERSION,
          'user-agent': 'sluice',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? null : JSON.stringify(body),
        headersTimeout: timeout,
        bodyTimeout: timeout,
        ...(this.#o.dispatcher ? { dispatcher: this.#o.dispatcher } : {}),
      });
    } catch (err) {
      throw new GitHubApiError(`GitHub API ${method} ${path} could not be reached: ${(err as Error).message}`, { cause: err });
    }
    const text = await res.body.text().catch(() => '');
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (res.statusCode < 200 || res.statusCode >= 300) {
      const message = typeof (parsed as { message?: unknown })?.message === 'string' ? (parsed as { message: string }).message : undefined;
      const details = describeErrors(parsed);
      const said = message ? `: ${message}${details ? ` (${details})` : ''}` : text ? `: ${text.slice(0, 200)}` : '';
      throw new GitHubApiError(`GitHub API ${method} ${path} answered ${res.statusCode}${said}`, {
        status: res.statusCode,
        ...(message ? { githubMessage: message } : {}),
      });
    }
    return { body: parsed, next: nextLink(res.headers.link) };
  }
}

/** True for failures worth retrying later: unreachable, rate limited, or a 5xx. */
export function isRetryableGitHubError(err: unknown): boolean {
  if (!(err instanceof GitHubApiError)) return false;
  return err.status === undefined || err.status === 429 || err.status >= 500;
}

function hookBody(s: HookSettings): Record<string, unknown> {
  const config: Record<string, string> = { url: s.url, content_type: 'json', insecure_ssl: s.insecureSsl ? '1' : '0' };
  if (s.secret) config.secret = s.secret;
  return { active: true, events: [...s.events], config };
}

/** GitHub's validation details: `errors: [{resource, field, code, message}]`. */
function describeErrors(body: unknown): string {
  const errors = (body as { errors?: unknown })?.errors;
  if (!Array.isArray(errors)) return '';
  return errors
    .map((e: unknown) => {
      if (typeof e === 'string') return e;
      const o = e as { message?: unknown; field?: unknown; code?: unknown };
      return typeof o.message === 'string' ? o.message : [o.field, o.code].filter((x) => typeof x === 'string').join(' ');
    })
    .filter(Boolean)
    .join('; ');
}

/** The `rel="next"` URL of a Link header, if any. */
function nextLink(link: string | string[] | undefined): string | undefined {
  const value = Array.isArray(link) ? link.join(',') : link;
  if (!value) return undefined;
  for (const part of value.split(',')) {
    const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec(part);
    if (m) return m[1];
  }
  return undefined;
}
