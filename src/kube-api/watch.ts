import type { FastifyReply, FastifyRequest } from 'fastify';
import { InvalidOptionError, ResourceVersionGoneError } from '../errors.js';
import type { KubeKind, KubeObject } from './kube-kinds.js';
import { statusOfError } from './kube-errors.js';
import type { KubeObjectStore, StoreEvent } from './object-store.js';
import { toTable } from './table.js';
import { apiVersionOf } from './writes.js';

export interface WatchQuery {
  resourceVersion?: string;
  resourceVersionMatch?: string;
  timeoutSeconds?: string;
  allowWatchBookmarks?: string;
  sendInitialEvents?: string;
  includeObject?: string;
}

export interface WatchRequest {
  kind: KubeKind;
  version: string;
  namespace: string | undefined;
  matches: (o: KubeObject) => boolean;
  table: boolean;
  query: WatchQuery;
}

/** A server-chosen watch length when the client names none: clients re-watch from their last version. */
const DEFAULT_TIMEOUT_S = 30 * 60;
/** How often a BOOKMARK tells a quiet watch the current version, so a resumed watch stays within history. */
export const BOOKMARK_INTERVAL_MS = 10_000;

/**
 * A Kubernetes watch: newline-delimited `{"type", "object"}` events on a chunked
 * response. From a resourceVersion, the changes after it (410 Expired as an ERROR event
 * when it is older than the history, as the API server answers); without one (or "0"),
 * every current object as ADDED first. Selectors apply to each side of a change, so an
 * object that stops matching arrives as DELETED. BOOKMARKs when asked for, including
 * the `k8s.io/initial-events-end` one of `sendInitialEvents`.
 */
export function serveWatch(req: FastifyRequest, reply: FastifyReply, store: KubeObjectStore, w: WatchRequest): void {
  const q = w.query;
  const timeoutS = q.timeoutSeconds !== undefined ? Number(q.timeoutSeconds) : DEFAULT_TIMEOUT_S;
  if (!Number.isFinite(timeoutS) || timeoutS < 0) throw new InvalidOptionError(`timeoutSeconds must be a non-negative number, not ${JSON.stringify(q.timeoutSeconds)}`);
  const rvParam = q.resourceVersion ?? '';
  const initial = q.sendInitialEvents === 'true' || rvParam === '' || rvParam === '0';
  const fromRv = initial ? undefined : Number(rvParam);
  if (fromRv !== undefined && !Number.isSafeInteger(fromRv)) throw new ResourceVersionGoneError(`too old resource version: ${rvParam}`);

  reply.hijack();
  const res = reply.raw;
  // `connection: close`: a watch ends when Sluice stops or the timeout passes, and its socket
  // must go with it; an idle keep-alive left behind would hold up the admin port's shutdown.
  res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache, private', 'transfer-encoding': 'chunked', connection: 'close' });
  // Headers now, not with the first event: client-go's Watch() returns only once they arrive,
  // and `kubectl wait` on an object already in the wanted state waits for that return.
  res.flushHeaders();
  let tableColumnsSent = false;
  const write = (type: string, object: unknown) => res.write(JSON.stringify({ type, object }) + '\n');
  const serve = (o: KubeObject): unknown => {
    const obj = o.apiVersion === apiVersionOf(w) ? o : { ...o, apiVersion: apiVersionOf(w) };
    if (!w.table) return obj;
    // Column definitions ride on the first event only, as the API server sends them.
    const t = toTable(w.kind, [obj], obj.metadata.resourceVersion, { columns: !tableColumnsSent, ...(q.includeObject ? { includeObject: q.includeObject } : {}) });
    tableColumnsSent = true;
    return t;
  };
  const inScope = (o: KubeObject | undefined): o is KubeObject =>
    o !== undefined && o.kind === w.kind.kind && (w.namespace === undefined || o.metadata.namespace === w.namespace) && w.matches(o);
  let lastRv = fromRv ?? Number(store.resourceVersion);
  const onEvent = (e: StoreEvent) => {
    lastRv = e.rv;
    const now = inScope(e.object);
    if (e.type !== 'MODIFIED') {
      if (now) write(e.type, serve(e.object));
      return;
    }
    const before = inScope(e.previous);
    if (now) write(before ? 'MODIFIED' : 'ADDED', serve(e.object));
    else if (before) write('DELETED', serve({ ...e.object, metadata: { ...e.object.metadata } }));
  };

  let stop: (() => void) | undefined;
  try {
    if (initial) {
      for (const o of store.list(w.kind.kind, w.namespace)) if (inScope(o)) write('ADDED', serve(o));
      lastRv = Number(store.resourceVersion);
      if (q.sendInitialEvents === 'true') write('BOOKMARK', bookmark(w, lastRv, true));
    }
    // Sluice is stopping: the stream ends and its socket goes at once, whatever the client does.
    stop = store.watch(initial ? lastRv : fromRv, onEvent, () => {
      end();
      res.socket?.destroy();
    });
  } catch (err) {
    write('ERROR', statusOfError(err));
    res.end();
    return;
  }
  const bookmarks = q.allowWatchBookmarks === 'true' ? setInterval(() => write('BOOKMARK', bookmark(w, Math.max(lastRv, Number(store.resourceVersion)), false)), BOOKMARK_INTERVAL_MS) : undefined;
  const end = () => {
    stop?.();
    stop = undefined;
    clearInterval(bookmarks);
    clearTimeout(timer);
    if (!res.writableEnded) res.end();
  };
  const timer = setTimeout(end, timeoutS * 1000);
  req.raw.once('close', end);
  res.once('close', end);
}

function bookmark(w: WatchRequest, rv: number, initialEnd: boolean): unknown {
  return {
    kind: w.kind.kind,
    apiVersion: apiVersionOf(w),
    metadata: { resourceVersion: String(rv), ...(initialEnd ? { annotations: { 'k8s.io/initial-events-end': 'true' } } : {}) },
  };
}
