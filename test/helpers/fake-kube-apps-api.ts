import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';

/**
 * The slice of the Kubernetes API the activator's Deployment scaler uses, on loopback:
 * GET a Deployment, GET/PATCH its scale subresource (JSON Patch or merge patch), with a
 * status that follows the spec: `readyReplicas` reaches `spec.replicas` `readyDelayMs`
 * after a scale-up (pods starting), and drops at once on a scale-down. Checks the bearer
 * token, records requests, and can be told to fail the next calls.
 */
export interface FakeDeployment {
  namespace: string;
  name: string;
  replicas: number;
  readyReplicas: number;
  generation: number;
  annotations: Record<string, string>;
  readyTimer?: NodeJS.Timeout;
}

export interface AppsRequest {
  method: string;
  path: string;
  contentType: string | undefined;
  body: unknown;
}

export class FakeKubeAppsApi {
  url = '';
  readonly token = 'fake-token-apps';
  readonly requests: AppsRequest[] = [];
  /** How long pods take to become ready after a scale-up. */
  readyDelayMs = 150;
  readonly #deployments = new Map<string, FakeDeployment>();
  #failures: number[] = [];
  #server: Server;
  #rv = 100;

  constructor() {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => this.#handle(req, res, Buffer.concat(chunks)));
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((r) => this.#server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    for (const d of this.#deployments.values()) clearTimeout(d.readyTimer);
    this.#server.closeAllConnections();
    await new Promise<void>((r) => this.#server.close(() => r()));
  }

  /** A KubeConfig pointing at this server with its token. */
  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'fake', server: this.url, skipTLSVerify: true }],
      users: [{ name: 'fake', token: this.token }],
      contexts: [{ name: 'fake', cluster: 'fake', user: 'fake', namespace: 'default' }],
      currentContext: 'fake',
    });
    return kc;
  }

  addDeployment(namespace: string, name: string, replicas = 0, annotations: Record<string, string> = {}): FakeDeployment {
    const d: FakeDeployment = { namespace, name, replicas, readyReplicas: replicas, generation: 1, annotations };
    this.#deployments.set(`${namespace}/${name}`, d);
    return d;
  }

  deployment(namespace: string, name: string): FakeDeployment | undefined {
    return this.#deployments.get(`${namespace}/${name}`);
  }

  /** The next `n` API calls answer `status` (e.g. 500, 403). */
  failNext(n: number, status = 500): void {
    for (let i = 0; i < n; i++) this.#failures.push(status);
  }

  /** Simulates pods crashing: ready replicas drop to `ready` (and recover after readyDelayMs). */
  crashPods(namespace: string, name: string, ready: number): void {
    const d = this.deployment(namespace, name);
    if (!d) return;
    d.readyReplicas = ready;
    this.#settle(d);
  }

  #settle(d: FakeDeployment): void {
    clearTimeout(d.readyTimer);
    if (d.readyReplicas > d.replicas) d.readyReplicas = d.replicas;
    if (d.readyReplicas < d.replicas) d.readyTimer = setTimeout(() => (d.readyReplicas = d.replicas), this.readyDelayMs);
  }

  #handle(req: IncomingMessage, res: ServerResponse, raw: Buffer): void {
    const path = (req.url ?? '').split('?')[0]!;
    let body: unknown;
    try {
      body = raw.length ? JSON.parse(raw.toString()) : undefined;
    } catch {
      return this.#status(res, 400, 'BadRequest', 'body is not JSON');
    }
    this.requests.push({ method: req.method ?? '', path, contentType: req.headers['content-type'], body });
    if (req.headers.authorization !== `Bearer ${this.token}`) return this.#status(res, 401, 'Unauthorized', 'Unauthorized');
    const fail = this.#failures.shift();
    if (fail) return this.#status(res, fail, 'InternalError', `injected failure ${fail}`);
    const m = /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/deployments\/([^/]+)(\/scale)?$/.exec(path);
    if (!m) return this.#status(res, 404, 'NotFound', `the server could not find the requested resource`);
    const d = this.#deployments.get(`${m[1]}/${m[2]}`);
    if (!d) return this.#status(res, 404, 'NotFound', `deployments.apps "${m[2]}" not found`);
    if (!m[3]) {
      if (req.method !== 'GET') return this.#status(res, 405, 'MethodNotAllowed', 'only GET here');
      return this.#json(res, 200, this.#deploymentObject(d));
    }
    if (req.method === 'PATCH') {
      const replicas = patchedReplicas(req.headers['content-type'], body);
      if (replicas === undefined) return this.#status(res, 422, 'Invalid', 'patch must set /spec/replicas to a non-negative integer');
      d.replicas = replicas;
      d.generation++;
      this.#rv++;
      this.#settle(d);
    } else if (req.method !== 'GET') {
      return this.#status(res, 405, 'MethodNotAllowed', 'GET or PATCH');
    }
    return this.#json(res, 200, {
      apiVersion: 'autoscaling/v1',
      kind: 'Scale',
      metadata: { name: d.name, namespace: d.namespace, resourceVersion: String(this.#rv) },
      spec: { replicas: d.replicas },
      status: { replicas: d.replicas, selector: `app=${d.name}` },
    });
  }

  #deploymentObject(d: FakeDeployment): unknown {
    return {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: d.name, namespace: d.namespace, generation: d.generation, resourceVersion: String(this.#rv), annotations: d.annotations },
      spec: {
        replicas: d.replicas,
        selector: { matchLabels: { app: d.name } },
        template: { metadata: { labels: { app: d.name } }, spec: { containers: [{ name: 'app', image: 'example/app:1' }] } },
      },
      status: { observedGeneration: d.generation, replicas: d.replicas, readyReplicas: d.readyReplicas || undefined, availableReplicas: d.readyReplicas || undefined },
    };
  }

  #json(res: ServerResponse, status: number, obj: unknown): void {
    res.statusCode = status;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(obj));
  }

  #status(res: ServerResponse, code: number, reason: string, message: string): void {
    this.#json(res, code, { apiVersion: 'v1', kind: 'Status', status: 'Failure', message, reason, code });
  }
}

function patchedReplicas(contentType: string | undefined, body: unknown): number | undefined {
  let v: unknown;
  if (contentType?.startsWith('application/json-patch+json') && Array.isArray(body)) {
    const op = body.find((o: { op?: string; path?: string }) => (o.op === 'replace' || o.op === 'add') && o.path === '/spec/replicas') as { value?: unknown } | undefined;
    v = op?.value;
  } else if (contentType?.startsWith('application/merge-patch+json') || contentType?.startsWith('application/strategic-merge-patch+json')) {
    v = (body as { spec?: { replicas?: unknown } } | undefined)?.spec?.replicas;
  }
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : undefined;
}
