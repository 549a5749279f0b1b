import http from 'node:http';
import https from 'node:https';
import { Watch, type KubeConfig } from '@kubernetes/client-node';
import { KubeApiError } from '../../errors.js';

/** One line of a watch stream. `object` is a Kubernetes object, or a Status for ERROR. */
export interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR' | string;
  object: KubeObject;
}

/** The parts of a Kubernetes object Sluice reads; the rest is carried as is. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    ownerReferences?: Array<{ apiVersion?: string; kind?: string; name?: string; uid?: string; controller?: boolean }>;
    [key: string]: unknown;
  };
  /** Present on a Status object (watch ERROR events, failed requests). */
  code?: number;
  reason?: string;
  message?: string;
  [key: string]: unknown;
}

export interface KubeList {
  metadata?: { resourceVersion?: string; continue?: string };
  items?: KubeObject[];
}

export type Query = Record<string, string | number | boolean | undefined>;

/** A handle on a running watch; `abort()` ends it without calling `onDone` as a failure. */
export interface WatchHandle {
  abort(): void;
}

const REQUEST_TIMEOUT_MS = 30_000;

/**
 * The few Kubernetes API calls the ApiServerSource makes: GET a JSON document (lists and
 * discovery) and open a watch (through the client library's `Watch`, which splits the
 * chunked stream into lines). Authentication and TLS come from the KubeConfig.
 */
export class KubeClient {
  readonly #kc: KubeConfig;
  readonly #watch: Watch;
  /** The API server URL without a trailing slash; also the CloudEvents `source`. */
  readonly server: string;

  constructor(kc: KubeConfig) {
    const cluster = kc.getCurrentCluster();
    if (!cluster?.server) throw new KubeApiError('the Kubernetes config has no current cluster with a server URL');
    this.#kc = kc;
    this.#watch = new Watch(kc);
    this.server = cluster.server.replace(/\/+$/, '');
  }

  /** GET `path` and parse JSON; throws KubeApiError with the API server's status and message. */
  async getJson<T>(path: string, query: Query = {}): Promise<T> {
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
    const opts: https.RequestOptions = { method: 'GET', headers: { Accept: 'application/json' } };
    try {
      await this.#kc.applyToHTTPSOptions(opts);
    } catch (err) {
      throw new KubeApiError(`cannot authenticate to ${this.server}: ${(err as Error).message}`, { cause: err });
    }
    const mod = url.protocol === 'https:' ? https : http;
    const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = mod.request(url, opts, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)));
      req.on('error', (err) => reject(new KubeApiError(`GET ${url.pathname} on ${this.server} failed: ${err.message}`, { cause: err })));
      req.end();
    });
    if (status !== 200) {
      throw new KubeApiError(`GET ${url.pathname} on ${this.server} answered ${status}: ${statusMessage(body)}`, { status });
    }
    try {
      return JSON.parse(body) as T;
    } catch (err) {
      throw new KubeApiError(`GET ${url.pathname} on ${this.server} answered with invalid JSON`, { cause: err, status });
    }
  }

  /**
   * Opens a watch. `onEvent` gets each event in order; `onDone` is called once when the
   * stream ends (null: the server closed it) or fails (an error with `statusCode` when
   * the server refused the request, e.g. 410 Gone), but not after `abort()`.
   */
  async watch(path: string, query: Query, onEvent: (e: WatchEvent) => void, onDone: (err: (Error & { statusCode?: number }) | null) => void): Promise<WatchHandle> {
    let aborted = false;
    let finished = false;
    const done = (err: unknown) => {
      if (aborted || finished) return;
      finished = true;
      onDone(err ? (err as Error & { statusCode?: number }) : null);
    };
    const controller = await this.#watch.watch(
      path,
      query,
      (type: string, object: unknown) => {
        if (!aborted && !finished) onEvent({ type, object: (object ?? {}) as KubeObject });
      },
      done,
    );
    return {
      abort: () => {
        if (aborted) return;
        aborted = true;
        controller.abort();
      },
    };
  }
}

function statusMessage(body: string): string {
  try {
    const s = JSON.parse(body) as { message?: string; reason?: string };
    return s.message ?? s.reason ?? body.slice(0, 200);
  } catch {
    return body.slice(0, 200) || '(no body)';
  }
}
