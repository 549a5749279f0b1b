import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { InvalidOptionError } from '../../errors.js';

const SA_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export interface LoadKubeConfigOptions {
  /** `--kubeconfig`: wins over everything else. */
  kubeconfigPath?: string;
  /** Defaults to `process.env` (KUBECONFIG, KUBERNETES_SERVICE_HOST/PORT). */
  env?: NodeJS.ProcessEnv;
  /** Defaults to the user's home; `~/.kube/config` is tried last, as kubectl does. */
  homeDir?: string;
  /** Prefix for the service account files (tests point this at a temp dir). */
  inClusterRoot?: string;
}

/**
 * Builds a KubeConfig from `--kubeconfig`, then `KUBECONFIG`, then the in-cluster
 * service account, then `~/.kube/config`. Unlike `loadFromDefault()`, which silently
 * falls back to http://localhost:8080 when nothing is found, this throws an
 * InvalidOptionError that says where it looked.
 */
export function loadKubeConfig(options: LoadKubeConfigOptions = {}): KubeConfig {
  const env = options.env ?? process.env;
  const kc = new KubeConfig();
  let from: string;
  if (options.kubeconfigPath) {
    loadFiles(kc, [options.kubeconfigPath], '--kubeconfig');
    from = options.kubeconfigPath;
  } else if (env.KUBECONFIG) {
    const files = env.KUBECONFIG.split(delimiter).filter(Boolean);
    loadFiles(kc, files, 'KUBECONFIG');
    from = `KUBECONFIG=${env.KUBECONFIG}`;
  } else if (env.KUBERNETES_SERVICE_HOST && existsSync(`${options.inClusterRoot ?? ''}${SA_TOKEN}`)) {
    if (!env.KUBERNETES_SERVICE_PORT) {
      throw new InvalidOptionError('in-cluster Kubernetes config: KUBERNETES_SERVICE_HOST is set but KUBERNETES_SERVICE_PORT is not');
    }
    // loadFromCluster reads process.env itself; give it the env we were handed.
    const saved = { host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT };
    process.env.KUBERNETES_SERVICE_HOST = env.KUBERNETES_SERVICE_HOST;
    process.env.KUBERNETES_SERVICE_PORT = env.KUBERNETES_SERVICE_PORT;
    try {
      kc.loadFromCluster(options.inClusterRoot);
    } finally {
      restoreEnv('KUBERNETES_SERVICE_HOST', saved.host);
      restoreEnv('KUBERNETES_SERVICE_PORT', saved.port);
    }
    from = 'the in-cluster service account';
  } else {
    const home = options.homeDir ?? safeHome();
    const file = home ? join(home, '.kube', 'config') : undefined;
    if (!file || !existsSync(file)) {
      throw new InvalidOptionError(
        'no Kubernetes configuration found: pass --kubeconfig <file>, set KUBECONFIG, run inside a pod ' +
          `(service account token at ${SA_TOKEN}), or create ${file ?? '~/.kube/config'}`,
      );
    }
    loadFiles(kc, [file], '~/.kube/config');
    from = file;
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) {
    const ctx = kc.getCurrentContext();
    throw new InvalidOptionError(
      ctx
        ? `Kubernetes config from ${from}: current context ${JSON.stringify(ctx)} names no known cluster`
        : `Kubernetes config from ${from}: no current-context is set`,
    );
  }
  if (!cluster.server) {
    throw new InvalidOptionError(`Kubernetes config from ${from}: cluster ${JSON.stringify(cluster.name)} has no server URL`);
  }
  try {
    new URL(cluster.server);
  } catch (err) {
    throw new InvalidOptionError(`Kubernetes config from ${from}: server ${JSON.stringify(cluster.server)} is not a URL`, { cause: err });
  }
  return kc;
}

function loadFiles(kc: KubeConfig, files: string[], label: string): void {
  if (files.length === 0) throw new InvalidOptionError(`${label} is empty`);
  files.forEach((file, i) => {
    if (!existsSync(file)) throw new InvalidOptionError(`${label}: kubeconfig file ${file} does not exist`);
    try {
      if (i === 0) kc.loadFromFile(file);
      else {
        const more = new KubeConfig();
        more.loadFromFile(file);
        kc.mergeConfig(more, true);
      }
    } catch (err) {
      throw new InvalidOptionError(`${label}: cannot read kubeconfig ${file}: ${(err as Error).message}`, { cause: err });
    }
  });
}

function restoreEnv(key: string, value: string | undefined): void {
  if (value === undefined) delete process.env[key];
  else process.env[key] = value;
}

function safeHome(): string | undefined {
  try {
    return homedir();
  } catch {
    return undefined;
  }
}
