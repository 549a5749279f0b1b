import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A Kubernetes API server on loopback, small but honest about the parts a watcher
 * depends on: discovery documents, list (with labelSelector, limit/continue) and watch
 * (`?watch=true&resourceVersion=N`, a chunked stream of JSON lines), a global
 * resourceVersion counter, a bounded history that can be compacted so old versions get
 * 410 Gone (as an ERROR event in the stream, or as the HTTP status), bearer-token auth,
 * and test controls to drop or expire open watches.
 * Serves core v1 Pods, Events, Namespaces and apps/v1 Deployments.
 */

export type KubeObj = {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    [k: string]: unknown;
  };
  [k: string]: unknown;
};

interface ResourceType {
  group: string; // '' = core
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
}

const TYPES: ResourceType[] = [
  { group: '', version: 'v1', plural: 'pods', kind: 'Pod', namespaced: true },
  { group: '', version: 'v1', plural: 'events', kind: 'Event', namespaced: true },
  { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false },
  { group: 'apps', version: 'v1', plural: 'deployments', kind: 'Deployment', namespaced: true },
];

interface HistoryEntry {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  rt: ResourceType;
  object: KubeObj;
  previous?: KubeObj;
}

interface WatchConn {
  rt: ResourceType;
  namespace: string | undefined;
  selector: Selector;
  res: ServerResponse;
  path: string;
  query: string;
  timer?: NodeJS.Timeout;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
}

export type GoneMode = 'stream' | 'http';

export class FakeKubeApi {
  url = '';
  readonly requests: RecordedRequest[] = [];
  /** How an expired resourceVersion is answered: an ERROR event in a 200 stream (like etcd compaction mid-watch) or HTTP 410. */
  goneMode: GoneMode = 'stream';
  /** While true, watch requests are answered 503 (an API server restarting): lets a test change things while no watch is open. */
  refuseWatches = false;
  readonly #server: Server;
  readonly #token: string | undefined;
  #rv = 1000;
  #oldestRv = 1000;
  readonly #store = new Map<ResourceType, Map<string, KubeObj>>(TYPES.map((t) => [t, new Map()]));
  #history: HistoryEntry[] = [];
  readonly #watches = new Set<WatchConn>();

  constructor(options: { token?: string } = {}) {
    this.#token = options.token;
    this.#server = createServer((req, res) => {
      try {
        this.#handle(req, res);
      } catch (err) {
        this.#status(res, 500, 'InternalError', (err as Error).message);
      }
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    for (const w of this.#watches) this.#endWatch(w, true);
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** A kubeconfig (YAML) pointing at this server. */
  kubeconfigYaml(token = this.#token): string {
    return [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: fake',
      '  cluster:',
      `    server: ${this.url}`,
      '    insecure-skip-tls-verify: true',
      'users:',
      '- name: tester',
      '  user:',
      ...(token ? [`    token: ${token}`] : ['    username: tester', '    password: secret']),
      'contexts:',
      '- name: fake',
      '  context: {cluster: fake, user: tester}',
      'current-context: fake',
      '',
    ].join('\n');
  }

  get resourceVersion(): number {
    return this.#rv;
  }

  // ---- mutations (what a controller or kubectl would do) ----

  create(obj: KubeObj): KubeObj {
    const rt = typeOf(obj);
    const key = keyOf(obj);
    const store = this.#store.get(rt) as Map<string, KubeObj>;
    if (store.has(key)) throw new Error(`${obj.kind} ${key} already exists`);
    const stored = clone(obj);
    stored.metadata.uid = stored.metadata.uid ?? randomUUID();
    stored.metadata.creationTimestamp = stored.metadata.creationTimestamp ?? new Date().toISOString();
    stored.metadata.resourceVersion = String(++this.#rv);
    store.set(key, stored);
    this.#record({ rv: this.#rv, type: 'ADDED', rt, object: stored });
    return clone(stored);
  }

  /** Replaces the object (found by kind, namespace and name) with `mutate`'s result. */
  update(apiVersion: string, kind: string, namespace: string | undefined, name: string, mutate: (o: KubeObj) => void): KubeObj {
    const rt = typeByKind(apiVersion, kind);
    const store = this.#store.get(rt) as Map<string, KubeObj>;
    const key = `${namespace ?? ''}/${name}`;
    const previous = store.get(key);
    if (!previous) throw new Error(`${kind} ${key} not found`);
    const next = clone(previous);
    mutate(next);
    next.metadata.resourceVersion = String(++this.#rv);
    store.set(key, next);
    this.#record({ rv: this.#rv, type: 'MODIFIED', rt, object: next, previous });
    return clone(next);
  }

  delete(apiVersion: string, kind: string, namespace: string | undefined, name: string): KubeObj {
    const rt = typeByKind(apiVersion, kind);
    const store = this.#store.get(rt) as Map<string, KubeObj>;
    const key = `${namespace ?? ''}/${name}`;
    const previous = store.get(key);
    if (!previous) throw new Error(`${kind} ${key} not found`);
    store.delete(key);
    const gone = clone(previous);
    gone.metadata.resourceVersion = String(++this.#rv);
    this.#record({ rv: this.#rv, type: 'DELETED', rt, object: gone });
    return clone(gone);
  }

  // ---- test controls ----

  /** Forgets the history: a watch from any older resourceVersion now gets 410 Gone. */
  compact(): void {
    this.#oldestRv = this.#rv;
    this.#history = [];
  }

  /** Cuts every open watch connection (the client sees the stream end abruptly). */
  dropWatches(): number {
    const n = this.#watches.size;
    for (const w of [...this.#watches]) this.#endWatch(w, true);
    return n;
  }

  /** Sends `ERROR 410 Expired` on every open watch and ends them, as the API server does after compaction. */
  expireWatches(): number {
    const n = this.#watches.size;
    for (const w of [...this.#watches]) {
      w.res.write(JSON.stringify({ type: 'ERROR', object: goneStatus() }) + '\n');
      this.#endWatch(w, false);
    }
    return n;
  }

  /** Open watches, optionally only those whose path contains `pathPart`. */
  openWatches(pathPart = ''): string[] {
    return [...this.#watches].filter((w) => w.path.includes(pathPart)).map((w) => `${w.path}?${w.query}`);
  }

  /** Waits until at least `n` watches (on paths containing `pathPart`) are open. */
  async waitForWatches(n: number, pathPart = '', timeoutMs = 10_000): Promise<void> {
    await waitUntil(() => this.openWatches(pathPart).length >= n, timeoutMs, () => `${n} open watches on "${pathPart}" (have ${this.openWatches().join(', ') || 'none'})`);
  }

  /** Requests made, optionally filtered: `count(r => r.query.watch === 'true')`. */
  count(pred: (r: RecordedRequest) => boolean): number {
    return this.requests.filter(pred).length;
  }

  // ---- HTTP ----

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const query = Object.fromEntries(url.searchParams);
    this.requests.push({ method: req.method ?? '', path: url.pathname, query });
    if (this.#token && req.headers.authorization !== `Bearer ${this.#token}`) {
      return this.#status(res, 401, 'Unauthorized', 'Unauthorized');
    }
    if (req.method !== 'GET') return this.#status(res, 405, 'MethodNotAllowed', 'only GET is served');
    const p = url.pathname.replace(/\/+$/, '');
    if (p === '/api') return json(res, 200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] });
    if (p === '/apis') {
      return json(res, 200, {
        kind: 'APIGroupList',
        apiVersion: 'v1',
        groups: [{ name: 'apps', versions: [{ groupVersion: 'apps/v1', version: 'v1' }], preferredVersion: { groupVersion: 'apps/v1', version: 'v1' } }],
      });
    }
    const m = /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))(?:\/(.*))?$/.exec(p);
    if (!m) return this.#status(res, 404, 'NotFound', `the server could not find the requested resource (${p})`);
    const group = m[2] ?? '';
    const version = (m[1] ?? m[3]) as string;
    const types = TYPES.filter((t) => t.group === group && t.version === version);
    if (types.length === 0) return this.#status(res, 404, 'NotFound', `the server could not find the requested resource (${p})`);
    const rest = m[4] ? m[4].split('/') : [];
    if (rest.length === 0) return json(res, 200, discovery(group, version, types));
    let namespace: string | undefined;
    let plural: string;
    let name: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      namespace = rest[1];
      plural = rest[2] as string;
      name = rest[3];
    } else {
      plural = rest[0] as string;
      name = rest[1];
    }
    const rt = types.find((t) => t.plural === plural);
    if (!rt || (namespace !== undefined && !rt.namespaced)) return this.#status(res, 404, 'NotFound', `the server could not find the requested resource (${p})`);
    if (name !== undefined) {
      const o = this.#store.get(rt)?.get(`${namespace ?? ''}/${name}`);
      return o ? json(res, 200, o) : this.#status(res, 404, 'NotFound', `${rt.plural} "${name}" not found`);
    }
    let selector: Selector;
    try {
      selector = parseSelector(query.labelSelector ?? '');
    } catch (err) {
      return this.#status(res, 400, 'BadRequest', (err as Error).message);
    }
    if (query.watch === 'true' || query.watch === '1') {
      if (this.refuseWatches) return this.#status(res, 503, 'ServiceUnavailable', 'the API server is restarting');
      return this.#watch(rt, namespace, selector, query, url, res);
    }
    return this.#list(rt, namespace, selector, query, res);
  }

  #list(rt: ResourceType, namespace: string | undefined, selector: Selector, query: Record<string, string>, res: ServerResponse): void {
    const all = this.#matching(rt, namespace, selector);
    const offset = query.continue ? Number(Buffer.from(query.continue, 'base64url').toString()) : 0;
    const limit = query.limit ? Number(query.limit) : all.length;
    const page = all.slice(offset, offset + limit);
    const next = offset + limit < all.length ? Buffer.from(String(offset + limit)).toString('base64url') : undefined;
    // Real list items carry no apiVersion/kind: the list's kind says what they are.
    const items = page.map((o) => {
      const { apiVersion: _a, kind: _k, ...rest } = clone(o);
      return rest;
    });
    json(res, 200, {
      kind: `${rt.kind}List`,
      apiVersion: rt.group ? `${rt.group}/${rt.version}` : rt.version,
      metadata: { resourceVersion: String(this.#rv), ...(next ? { continue: next } : {}) },
      items,
    });
  }

  #watch(rt: ResourceType, namespace: string | undefined, selector: Selector, query: Record<string, string>, url: URL, res: ServerResponse): void {
    const from = query.resourceVersion ? Number(query.resourceVersion) : 0;
    if (from !== 0 && from < this.#oldestRv) {
      if (this.goneMode === 'http') return this.#status(res, 410, 'Expired', `too old resource version: ${from} (${this.#oldestRv})`);
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ type: 'ERROR', object: goneStatus(from, this.#oldestRv) }) + '\n');
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    const w: WatchConn = { rt, namespace, selector, res, path: url.pathname, query: url.searchParams.toString() };
    this.#watches.add(w);
    res.on('close', () => this.#endWatch(w, false));
    if (from === 0) {
      // No version: the current state as synthetic ADDED events, then what follows.
      for (const o of this.#matching(rt, namespace, selector)) send(w, 'ADDED', o);
    } else {
      for (const h of this.#history) if (h.rv > from) this.#deliver(w, h);
    }
    if (query.timeoutSeconds) w.timer = setTimeout(() => this.#endWatch(w, false), Number(query.timeoutSeconds) * 1000);
  }

  #record(h: HistoryEntry): void {
    this.#history.push(h);
    if (this.#history.length > 10_000) this.#history.shift();
    for (const w of this.#watches) this.#deliver(w, h);
  }

  #deliver(w: WatchConn, h: HistoryEntry): void {
    if (w.rt !== h.rt) return;
    if (w.namespace !== undefined && h.object.metadata.namespace !== w.namespace) return;
    const now = matches(w.selector, h.object.metadata.labels);
    if (h.type === 'MODIFIED') {
      const before = h.previous ? matches(w.selector, h.previous.metadata.labels) : now;
      if (now && before) send(w, 'MODIFIED', h.object);
      else if (now) send(w, 'ADDED', h.object);
      else if (before) send(w, 'DELETED', h.object);
    } else if (now) send(w, h.type, h.object);
  }

  #matching(rt: ResourceType, namespace: string | undefined, selector: Selector): KubeObj[] {
    return [...(this.#store.get(rt) as Map<string, KubeObj>).values()]
      .filter((o) => (namespace === undefined || o.metadata.namespace === namespace) && matches(selector, o.metadata.labels))
      .sort((a, b) => keyOf(a).localeCompare(keyOf(b)));
  }

  #endWatch(w: WatchConn, abrupt: boolean): void {
    if (!this.#watches.delete(w)) return;
    if (w.timer) clearTimeout(w.timer);
    if (abrupt) w.res.socket?.destroy();
    else w.res.end();
  }

  #status(res: ServerResponse, code: number, reason: string, message: string): void {
    json(res, code, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });
  }
}

// ---- realistic objects ----

export function namespaceObj(name: string, labels: Record<string, string> = {}): KubeObj {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name, labels: { 'kubernetes.io/metadata.name': name, ...labels } },
    spec: { finalizers: ['kubernetes'] },
    status: { phase: 'Active' },
  };
}

export function podObj(namespace: string, name: string, opts: { labels?: Record<string, string>; owner?: { apiVersion: string; kind: string; name: string; controller?: boolean } } = {}): KubeObj {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace,
      labels: opts.labels ?? {},
      ...(opts.owner
        ? { ownerReferences: [{ apiVersion: opts.owner.apiVersion, kind: opts.owner.kind, name: opts.owner.name, uid: randomUUID(), controller: opts.owner.controller ?? true, blockOwnerDeletion: true }] }
        : {}),
    },
    spec: {
      containers: [{ name: 'app', image: 'ghcr.io/example/app:1.4.2', ports: [{ containerPort: 8080, protocol: 'TCP' }], resources: {}, imagePullPolicy: 'IfNotPresent' }],
      restartPolicy: 'Always',
      serviceAccountName: 'default',
      nodeName: 'node-1',
    },
    status: { phase: 'Pending', qosClass: 'BestEffort' },
  };
}

export function deploymentObj(namespace: string, name: string, labels: Record<string, string> = {}): KubeObj {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace, labels, annotations: { 'deployment.kubernetes.io/revision': '1' }, generation: 1 },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name, image: `ghcr.io/example/${name}:1.0.0` }] } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
    },
    status: { observedGeneration: 1, replicas: 1, readyReplicas: 1, availableReplicas: 1 },
  };
}

export function eventObj(namespace: string, name: string, involved: { kind: string; name: string }, reason = 'Scheduled', message = 'Successfully assigned'): KubeObj {
  const now = new Date().toISOString();
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name, namespace },
    involvedObject: { kind: involved.kind, namespace, name: involved.name, apiVersion: 'v1' },
    reason,
    message,
    source: { component: 'default-scheduler' },
    firstTimestamp: now,
    lastTimestamp: now,
    count: 1,
    type: 'Normal',
    reportingComponent: 'default-scheduler',
  };
}

// ---- label selectors (the query-string form) ----

type Requirement = { key: string; op: '=' | '!=' | 'in' | 'notin' | 'exists' | '!'; values: string[] };
type Selector = Requirement[];

function parseSelector(text: string): Selector {
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (cur.trim()) parts.push(cur);
  return parts.map((raw) => {
    const s = raw.trim();
    let m: RegExpExecArray | null;
    if ((m = /^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(s))) {
      return { key: m[1] as string, op: m[2] as 'in' | 'notin', values: (m[3] as string).split(',').map((v) => v.trim()) };
    }
    if ((m = /^([\w./-]+)\s*(==|=|!=)\s*([\w.-]*)$/.exec(s))) {
      return { key: m[1] as string, op: m[2] === '!=' ? '!=' : '=', values: [m[3] as string] };
    }
    if ((m = /^!([\w./-]+)$/.exec(s))) return { key: m[1] as string, op: '!', values: [] };
    if ((m = /^([\w./-]+)$/.exec(s))) return { key: m[1] as string, op: 'exists', values: [] };
    throw new Error(`unable to parse requirement: ${JSON.stringify(s)}`);
  });
}

function matches(sel: Selector, labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  return sel.every((r) => {
    const has = r.key in l;
    const v = l[r.key] as string;
    switch (r.op) {
      case '=':
        return has && v === r.values[0];
      case '!=':
        return !has || v !== r.values[0];
      case 'in':
        return has && r.values.includes(v);
      case 'notin':
        return !has || !r.values.includes(v);
      case 'exists':
        return has;
      case '!':
        return !has;
    }
  });
}

// ---- helpers ----

function discovery(group: string, version: string, types: ResourceType[]): unknown {
  const resources = types.flatMap((t) => [
    {
      name: t.plural,
      singularName: t.kind.toLowerCase(),
      namespaced: t.namespaced,
      kind: t.kind,
      verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
    },
    // Sub-resources share or borrow kinds; a client must not pick them.
    { name: `${t.plural}/status`, singularName: '', namespaced: t.namespaced, kind: t.kind, verbs: ['get', 'patch', 'update'] },
  ]);
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: group ? `${group}/${version}` : version, resources };
}

function typeOf(o: KubeObj): ResourceType {
  return typeByKind(o.apiVersion, o.kind);
}

function typeByKind(apiVersion: string, kind: string): ResourceType {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const rt = TYPES.find((t) => t.group === group && t.version === version && t.kind === kind);
  if (!rt) throw new Error(`fake API server does not serve ${apiVersion} ${kind}`);
  return rt;
}

function keyOf(o: KubeObj): string {
  return `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}

function send(w: WatchConn, type: string, object: KubeObj): void {
  w.res.write(JSON.stringify({ type, object }) + '\n');
}

function goneStatus(from?: number, oldest?: number): unknown {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: from !== undefined ? `too old resource version: ${from} (${oldest})` : 'The resourceVersion for the provided watch is too old.',
    reason: 'Expired',
    code: 410,
  };
}

function json(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function clone<T>(o: T): T {
  return structuredClone(o);
}

export async function waitUntil(cond: () => boolean, timeoutMs = 10_000, what: () => string = () => 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what()}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export async function startFakeKubeApi(options: { token?: string } = {}): Promise<FakeKubeApi> {
  return new FakeKubeApi(options).start();
}
