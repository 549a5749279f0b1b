import { InvalidOptionError, KubeApiError } from '../../errors.js';
import { API_SERVER_EVENT_TYPES, ApiServerSource, loadKubeConfig, type ApiServerSourceSpec } from '../apiserver/index.js';
import { apiServerSourceKind } from '../apiserver/apiserver-source-kind.js';
import type { Source } from '../source.js';
import type { SourceRunner } from './source-runner.js';

/**
 * Runs ApiServerSources. The kubeconfig (`--kubeconfig`, else the server's `kubeConfig`,
 * else KUBECONFIG, else the in-cluster service account) is read on every start, so a retry after a failure picks
 * up a file that appeared or changed since.
 */
export const apiServerRunner: SourceRunner<ApiServerSourceSpec> = {
  definition: apiServerSourceKind,
  build(ctx) {
    const { namespace, name } = ctx.resource.metadata;
    const spec = ctx.resource.spec;
    let inner: ApiServerSource | undefined;
    let stopped = false;
    const source: Source = {
      async start(emit) {
        const kubeConfig = ctx.kubeconfigPath || !ctx.kubeConfig ? loadKubeConfig(ctx.kubeconfigPath ? { kubeconfigPath: ctx.kubeconfigPath } : {}) : ctx.kubeConfig();
        if (stopped) return;
        inner = new ApiServerSource({ namespace, name, spec, kubeConfig, logger: ctx.logger });
        await inner.start(emit);
      },
      async stop() {
        stopped = true;
        await inner?.stop();
      },
    };
    return {
      source,
      status: () => {
        const server = inner?.server;
        if (!server) return {};
        const types = Object.values(API_SERVER_EVENT_TYPES[spec.mode]);
        return { fields: { ceAttributes: types.map((type) => ({ type, source: server })) } };
      },
      failureReason: (err) =>
        err instanceof InvalidOptionError
          ? 'KubeConfigError'
          : err instanceof KubeApiError
            ? err.status === undefined
              ? 'ApiServerUnreachable'
              : err.status === 401 || err.status === 403
                ? 'ApiServerForbidden'
                : 'ApiServerError'
            : 'StartFailed',
    };
  },
};
