import { AdminApiError, InvalidOptionError } from '../errors.js';

export interface AdminClientOptions {
  /** Admin base URL (`--server`, SLUICE_SERVER). */
  server: string;
  /** Admin bearer token (`--token`, SLUICE_ADMIN_TOKEN). */
  token?: string;
  /** Per request, except streams. */
  timeoutMs?: number;
}

export interface AdminResponse<T> {
  status: number;
  body: T;
}

interface ErrorBody {
  error?: string;
  reason?: string;
  issues?: unknown;
}

/** Connection error codes worth naming to the user, and what to do about each. */
const CONNECT_HINTS: Record<string, string> = {
  ECONNREFUSED: 'is `sluice start` running, and is --server its admin port (9090 by default)?',
  ENOTFOUND: 'the host name does not resolve: check --server',
  EAI_AGAIN: 'the host name does not resolve: check --server',
  ECONNRESET: 'the connection was reset: is --server the admin port of a sluice?',
  ETIMEDOUT: 'the connection timed out: check --server and the network',
  EHOSTUNREACH: 'the host is unreachable: check --server and the network',
  UND_ERR_SOCKET: 'the connection closed: is --server the admin port of a sluice?',
};

/** The `sluice` commands' HTTP client for a running broker's admin API. */
export class AdminClient {
  readonly server: string;
  readonly #token: string | undefined;
  readonly #timeoutMs: number;

  constructor(options: AdminClientOptions) {
    let url: URL;
    try {
      url = new URL(options.server);
    } catch {
      throw new InvalidOptionError(`--server ${JSON.stringify(options.server)} is not a URL (e.g. http://127.0.0.1:9090)`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidOptionError(`--server ${options.server} must be an http:// or https:// URL`);
    this.server = options.server.replace(/\/+$/, '');
    this.#token = options.token || undefined;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
  }

  headers(extra: Record<string, string> = {}): Record<string, string> {
    return { accept: 'application/json', ...(this.#token ? { authorization: `Bearer ${this.#token}` } : {}), ...extra };
  }

  /** Sends a request; any answer (2xx or not) resolves, only transport failures reject. */
  async request<T = unknown>(method: string, path: string, options: { body?: string; contentType?: string } = {}): Promise<AdminResponse<T>> {
    const res = await this.fetch(path, {
      method,
      headers: this.headers(options.contentType ? { 'content-type': options.contentType } : {}),
      ...(options.body !== undefined ? { body: options.body } : {}),
      signal: AbortSignal.timeout(this.#timeoutMs),
    });
    const text = await res.text();
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : {};
    } catch {
      throw new AdminApiError(
        `${this.server}${path} answered HTTP ${res.status} with ${res.headers.get('content-type') ?? 'no content type'}, not JSON: is --server the admin port of a sluice (9090 by default)?`,
        { status: res.status },
      );
    }
    return { status: res.status, body: body as T };
  }

  /** Like request(), but a non-2xx answer throws AdminApiError with the server's message. */
  async json<T = unknown>(method: string, path: string, options: { body?: string; contentType?: string } = {}): Promise<T> {
    const res = await this.request<T>(method, path, options);
    if (res.status >= 200 && res.status < 300) return res.body;
    throw this.errorOf(res.status, res.body as ErrorBody, path);
  }

  /** An AdminApiError for an error answer, with a hint where the cause is a usual mistake. */
  errorOf(status: number, body: ErrorBody, path: string): AdminApiError {
    const message = typeof body?.error === 'string' ? body.error : `HTTP ${status}`;
    const reason = typeof body?.reason === 'string' ? body.reason : undefined;
    let hint = '';
    if (status === 401) hint = this.#token ? ' (check --token / SLUICE_ADMIN_TOKEN)' : ' (pass --token or set SLUICE_ADMIN_TOKEN)';
    else if (reason === 'SLUICE_ERR_METHOD_NOT_ALLOWED' || /no channel, broker or source/.test(message)) {
      hint = ` (${this.server} looks like the public ingress port; point --server at the admin port, 9090 by default)`;
    } else if (status === 404 && /no admin route/.test(message)) hint = ` (this sluice does not serve ${path.split('?')[0]}: is it an older version?)`;
    return new AdminApiError(`${message}${hint}`, { status, ...(reason ? { apiReason: reason } : {}) });
  }

  /** fetch() with transport failures turned into one clear AdminApiError. */
  async fetch(path: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(this.server + path, init);
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      if ((err as Error).name === 'TimeoutError') {
        throw new AdminApiError(`sluice admin at ${this.server} did not answer within ${this.#timeoutMs / 1000}s: is it overloaded, or is --server right?`, { cause: err });
      }
      const code = cause?.code ?? (err as { code?: string }).code;
      const hint = (code && CONNECT_HINTS[code]) ?? 'is `sluice start` running, and is --server right?';
      throw new AdminApiError(`cannot reach sluice admin at ${this.server}: ${hint} (${code ?? cause?.message ?? (err as Error).message})`, { cause: err });
    }
  }
}
