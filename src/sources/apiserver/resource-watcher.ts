import type { Logger } from '../../observability/logger.js';
import { nextBackoffMs } from '../../subscriptions/retry-backoff.js';
import type { KubeClient, KubeList, KubeObject, WatchEvent, WatchHandle } from './kube-client.js';

export type ChangeType = 'add' | 'update' | 'delete';
export type ChangeHandler = (change: ChangeType, object: KubeObject) => void;

export interface ResourceWatcherOptions {
  client: KubeClient;
  /** Collection path, e.g. `/api/v1/namespaces/default/pods`. */
  path: string;
  /** Filled into list items, which the API server sends without apiVersion and kind. */
  apiVersion: string;
  kind: string;
  labelSelector?: string | undefined;
  onChange: ChangeHandler;
  logger: Logger;
  /** Report objects found by the first list as `add` (default true, as Knative's adapter does). */
  emitInitial?: boolean;
  /** Backoff between failed list/watch attempts (defaults 200 ms doubling to 30 s). */
  retryInitialMs?: number;
  retryMaxMs?: number;
  /** Asked of the server so that an idle watch is renewed now and then (default 240-360 s). */
  watchTimeoutSeconds?: number;
  /** Page size of lists (default 500). */
  pageSize?: number;
}

interface WatchAttempt {
  handle?: WatchHandle;
  closed: boolean;
  openedAt: number;
}

/**
 * List-then-watch of one collection, keeping the set of objects it has reported so that
 * what it reports is a consistent story: a dropped watch resumes from the last
 * resourceVersion seen (no replays), and an expired version (410 Gone, in the stream or
 * as the HTTP status) triggers a relist whose result is diffed against what is known:
 * `update` for objects that changed, `delete` for those that vanished, `add` only for
 * objects never reported. Changes are reported synchronously and in order.
 */
export class ResourceWatcher {
  readonly #o: ResourceWatcherOptions;
  readonly #log: Logger;
  #known = new Map<string, KubeObject>();
  #rv: string | undefined;
  #attempt: WatchAttempt | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #failures = 0;
  #started = false;

  constructor(options: ResourceWatcherOptions) {
    this.#o = options;
    this.#log = options.logger;
  }

  /** Objects currently known (after the last list and the watch events since). */
  get size(): number {
    return this.#known.size;
  }

  /** Lists once (rejecting when that fails, so that a wrong kind or a 403 surfaces), then watches. */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    await this.#list(true);
    this.#openWatch();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#closeAttempt();
  }

  async #list(initial: boolean): Promise<void> {
    const items: KubeObject[] = [];
    let cont: string | undefined;
    let rv: string | undefined;
    do {
      const page = await this.#o.client.getJson<KubeList>(this.#o.path, {
        labelSelector: this.#o.labelSelector,
        limit: this.#o.pageSize ?? 500,
        continue: cont,
      });
      items.push(...(page.items ?? []));
      cont = page.metadata?.continue || undefined;
      rv = page.metadata?.resourceVersion ?? rv;
    } while (cont && !this.#stopped);
    if (this.#stopped) return;
    this.#reconcile(items.map((i) => this.#normalize(i)), initial);
    this.#rv = rv;
  }

  #reconcile(items: KubeObject[], initial: boolean): void {
    const fresh = new Map<string, KubeObject>();
    for (const o of items) fresh.set(keyOf(o), o);
    if (initial) {
      this.#known = fresh;
      if (this.#o.emitInitial ?? true) for (const o of fresh.values()) this.#report('add', o);
      return;
    }
    const known = this.#known;
    this.#known = fresh;
    for (const [key, o] of fresh) {
      const old = known.get(key);
      if (!old) this.#report('add', o);
      else if (uidOf(old) !== uidOf(o)) {
        // Deleted and recreated under the same name while we were not watching.
        this.#report('delete', old);
        this.#report('add', o);
      } else if (rvOf(old) !== rvOf(o)) this.#report('update', o);
    }
    for (const [key, old] of known) if (!fresh.has(key)) this.#report('delete', old);
  }

  #openWatch(): void {
    if (this.#stopped) return;
    const attempt: WatchAttempt = { closed: false, openedAt: Date.now() };
    this.#attempt = attempt;
    const timeoutSeconds = this.#o.watchTimeoutSeconds ?? 240 + Math.floor(Math.random() * 120);
    this.#o.client
      .watch(
        this.#o.path,
        { resourceVersion: this.#rv, allowWatchBookmarks: true, labelSelector: this.#o.labelSelector, timeoutSeconds },
        (e) => {
          if (!attempt.closed) this.#onEvent(attempt, e);
        },
        (err) => {
          if (!attempt.closed) this.#onWatchEnded(attempt, err);
        },
      )
      .then(
        (handle) => {
          attempt.handle = handle;
          if (attempt.closed || this.#stopped) handle.abort();
        },
        (err: unknown) => {
          if (!attempt.closed) this.#onWatchEnded(attempt, err as Error);
        },
      );
  }

  #onEvent(attempt: WatchAttempt, e: WatchEvent): void {
    if (e.type === 'ERROR') {
      this.#endAttempt(attempt);
      if (e.object.code === 410) {
        this.#log.info({ path: this.#o.path, resourceVersion: this.#rv }, 'watch: resourceVersion expired (410 Gone); relisting');
        this.#schedule(() => this.#relist(), 0);
      } else {
        this.#log.warn({ path: this.#o.path, status: e.object }, 'watch: the API server sent an error; watching again');
        this.#schedule(() => this.#openWatch(), this.#nextDelay());
      }
      return;
    }
    const o = this.#normalize(e.object);
    const rv = rvOf(o);
    if (rv) this.#rv = rv;
    this.#failures = 0;
    if (e.type === 'BOOKMARK') return;
    const key = keyOf(o);
    const old = this.#known.get(key);
    switch (e.type) {
      case 'ADDED':
      case 'MODIFIED':
        this.#known.set(key, o);
        if (old && uidOf(old) === uidOf(o)) {
          // The same version seen again (a replay) is not a change.
          if (rvOf(old) !== rv) this.#report('update', o);
        } else if (old) {
          // Deleted and recreated under the same name between two events we saw.
          this.#report('delete', old);
          this.#report('add', o);
        } else {
          // MODIFIED for an object we never saw is still a modification (as Knative reports it).
          this.#report(e.type === 'ADDED' ? 'add' : 'update', o);
        }
        break;
      case 'DELETED':
        this.#known.delete(key);
        this.#report('delete', o);
        break;
      default:
        this.#log.debug({ path: this.#o.path, type: e.type }, 'watch: ignoring unknown event type');
    }
  }

  #onWatchEnded(attempt: WatchAttempt, err: (Error & { statusCode?: number }) | null): void {
    this.#endAttempt(attempt);
    if (this.#stopped) return;
    if (err?.statusCode === 410) {
      this.#log.info({ path: this.#o.path, resourceVersion: this.#rv }, 'watch: resourceVersion expired (HTTP 410); relisting');
      this.#schedule(() => this.#relist(), 0);
      return;
    }
    if (err) this.#log.warn({ path: this.#o.path, err: err.message, status: err.statusCode }, 'watch failed; watching again');
    else this.#log.debug({ path: this.#o.path, resourceVersion: this.#rv }, 'watch closed; resuming');
    // A watch that ran for a while ended normally (server timeout, proxy idle cut):
    // resume at once. One that failed straight away backs off, so a broken server is
    // not hammered.
    const ranFor = Date.now() - attempt.openedAt;
    if (!err && ranFor > 5000) this.#failures = 0;
    this.#schedule(() => this.#openWatch(), !err && ranFor > 5000 ? 0 : this.#nextDelay());
  }

  async #relist(): Promise<void> {
    if (this.#stopped) return;
    try {
      await this.#list(false);
    } catch (err) {
      if (this.#stopped) return;
      this.#log.warn({ path: this.#o.path, err: (err as Error).message }, 'relist failed; retrying');
      this.#schedule(() => this.#relist(), this.#nextDelay());
      return;
    }
    this.#openWatch();
  }

  #report(change: ChangeType, o: KubeObject): void {
    if (this.#stopped) return;
    try {
      this.#o.onChange(change, o);
    } catch (err) {
      // A broken handler must not stop the watch.
      this.#log.error({ path: this.#o.path, err }, 'change handler threw');
    }
  }

  #normalize(o: KubeObject): KubeObject {
    if (o.apiVersion && o.kind) return o;
    return { apiVersion: this.#o.apiVersion, kind: this.#o.kind, ...o };
  }

  #schedule(fn: () => void | Promise<void>, ms: number): void {
    if (this.#stopped) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void fn();
    }, ms);
  }

  #nextDelay(): number {
    return nextBackoffMs(this.#failures++, { initialMs: this.#o.retryInitialMs ?? 200, maxMs: this.#o.retryMaxMs ?? 30_000 });
  }

  #endAttempt(attempt: WatchAttempt): void {
    attempt.closed = true;
    attempt.handle?.abort();
  }

  #closeAttempt(): void {
    if (this.#attempt) this.#endAttempt(this.#attempt);
    this.#attempt = undefined;
  }
}

function keyOf(o: KubeObject): string {
  return `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
}

function uidOf(o: KubeObject): string | undefined {
  return o.metadata?.uid;
}

function rvOf(o: KubeObject): string | undefined {
  return o.metadata?.resourceVersion;
}
