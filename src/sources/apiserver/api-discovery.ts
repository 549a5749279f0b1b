import { KubeApiError } from '../../errors.js';
import type { KubeClient } from './kube-client.js';

/** What API discovery says about one kind. */
export interface ResolvedKind {
  apiVersion: string;
  kind: string;
  /** e.g. `pods`, `deployments`. */
  plural: string;
  namespaced: boolean;
  /** `/api/v1` for the core group, `/apis/<group>/<version>` otherwise. */
  groupPath: string;
}

interface APIResourceList {
  resources?: Array<{ name: string; kind: string; namespaced: boolean; verbs?: string[] }>;
}

/**
 * Maps `apiVersion` + `kind` to the REST collection (`pods`, `deployments`) through the
 * API server's discovery documents, one request per group/version, cached: watching
 * ten resources of `apps/v1` costs one discovery call. A failed lookup is not cached,
 * so a CRD installed later is found on the next try.
 */
export class ApiDiscovery {
  readonly #client: KubeClient;
  readonly #cache = new Map<string, Promise<APIResourceList>>();

  constructor(client: KubeClient) {
    this.#client = client;
  }

  async resolve(apiVersion: string, kind: string): Promise<ResolvedKind> {
    const groupPath = groupPathOf(apiVersion);
    let pending = this.#cache.get(groupPath);
    if (!pending) {
      pending = this.#client.getJson<APIResourceList>(groupPath);
      this.#cache.set(groupPath, pending);
      pending.catch(() => this.#cache.delete(groupPath));
    }
    let list: APIResourceList;
    try {
      list = await pending;
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) {
        throw new KubeApiError(`the API server does not serve apiVersion ${JSON.stringify(apiVersion)} (GET ${groupPath} answered 404)`, { cause: err, status: 404 });
      }
      throw err;
    }
    // Sub-resources (`pods/log`, `deployments/scale`) share the kind of their parent or
    // another one; only a top-level collection can be listed and watched.
    const found = (list.resources ?? []).find((r) => r.kind === kind && !r.name.includes('/'));
    if (!found) {
      throw new KubeApiError(`the API server has no kind ${JSON.stringify(kind)} in ${apiVersion}`, { status: 404 });
    }
    if (found.verbs && (!found.verbs.includes('list') || !found.verbs.includes('watch'))) {
      throw new KubeApiError(`${kind} (${apiVersion}) cannot be listed and watched (verbs: ${found.verbs.join(', ')})`);
    }
    return { apiVersion, kind, plural: found.name, namespaced: found.namespaced, groupPath };
  }
}

/** `v1` -> `/api/v1`; `apps/v1` -> `/apis/apps/v1`. */
export function groupPathOf(apiVersion: string): string {
  return apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
}

/** The collection path to list and watch: cluster-wide when `namespace` is undefined. */
export function collectionPath(kind: ResolvedKind, namespace: string | undefined): string {
  return kind.namespaced && namespace !== undefined
    ? `${kind.groupPath}/namespaces/${encodeURIComponent(namespace)}/${kind.plural}`
    : `${kind.groupPath}/${kind.plural}`;
}
