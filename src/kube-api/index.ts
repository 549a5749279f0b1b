import type { FastifyInstance } from 'fastify';
import type { LiveConfig } from '../live-config/index.js';
import type { ResourceKindRegistry } from '../resources/index.js';
import type { RuntimeView } from '../runtime/runtime-view.js';
import { redactedSecret } from '../server/admin-resources.js';
import { discoveryRoutes, sluiceServerVersion } from './discovery.js';
import { KubeKinds } from './kube-kinds.js';
import { KubeObjectStore, type KubeObjectStoreOptions } from './object-store.js';
import { openApiRoutes } from './openapi.js';
import { openApiV2Routes } from './openapi-v2.js';
import { kubeResourceRoutes } from './resource-routes.js';
import { KubeWrites } from './writes.js';

export { KubeKinds } from './kube-kinds.js';
export { KubeObjectStore } from './object-store.js';

export interface KubeApiOptions extends KubeObjectStoreOptions {
  registry: ResourceKindRegistry;
  live: LiveConfig;
  runtime: RuntimeView;
  isDraining?: () => boolean;
}

/**
 * The Kubernetes-shaped API on the admin port: discovery, OpenAPI, and the resources of
 * every Sluice kind, so `kubectl` with a kubeconfig from `sluice kubeconfig` works
 * unchanged. One store (live configuration) and one validation with the admin API.
 */
export function kubeApi(options: KubeApiOptions): { plugin: (app: FastifyInstance) => Promise<void>; store: KubeObjectStore } {
  const kinds = new KubeKinds(options.registry);
  const { live, runtime } = options;
  const store = new KubeObjectStore(
    kinds,
    {
      listResources: () => [...runtime.listResources(), ...(runtime.listSecrets?.() ?? []).map(redactedSecret)],
      document: (kind, namespace, name) => live.document(kind, namespace, name, { copy: false }),
    },
    options,
  );
  const writes = new KubeWrites(store, {
    apply: async (doc) => {
      await live.applyBody(JSON.stringify(doc), 'application/json', 'kubectl');
    },
    validate: async (doc) => {
      live.validateBody(JSON.stringify(doc), 'application/json', 'kubectl');
    },
    delete: (kind, namespace, name) => live.deleteOne(kind, namespace, name),
    document: (kind, namespace, name) => live.document(kind, namespace, name),
  });
  const plugin = async (app: FastifyInstance) => {
    const version = sluiceServerVersion();
    await discoveryRoutes(kinds, version)(app);
    await openApiV2Routes(kinds, version.gitVersion)(app);
    await openApiRoutes(kinds)(app);
    await kubeResourceRoutes(kinds, store, writes, options.isDraining ? { isDraining: options.isDraining } : {})(app);
  };
  return { plugin, store };
}
