import { AppsV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import type { Logger } from '../observability/logger.js';
import type { ResolvedDestination } from '../runtime/addressing.js';
import { DestinationError } from '../runtime/addressing.js';
import { nsKey, type KReference } from '../resources/types.js';
import { Activator } from './activator.js';
import { deploymentServiceConfig } from './deployment-config.js';
import { KubeDeploymentScaler, type DeploymentApi } from './kube-scaler.js';
import type { ServiceStatus } from './service-activator.js';

export interface DeploymentRefsOptions {
  logger: Logger;
  registry?: Registry;
  /** Kubernetes access; called on the first Deployment ref (throws when there is none). */
  kubeConfig: () => KubeConfig;
  /** Scale polling while replicas change (default 200 ms). */
  pollIntervalMs?: number;
}

type Ref = Required<Pick<KReference, 'name' | 'namespace'>> & KReference;

// Only these annotations of a Deployment are the activator's; the rest belong to others.
const OURS = /^(autoscaling\.knative\.dev\/|activator\.sluice\.dev\/(queue-size|timeout)$)/;

/** Sluice's annotation on a Deployment: where its pods are reached (default: its cluster-local Service). */
export const DEPLOYMENT_URL_ANNOTATION = 'activator.sluice.dev/url';

/**
 * Subscriber refs to `apps/v1` Deployments: each referenced Deployment gets an activator
 * service whose scaler is the Deployment's scale subresource, so deliveries wake it from
 * zero and it goes back to zero when idle. Its address is its Kubernetes Service,
 * `http://<name>.<namespace>.svc.cluster.local/`, or the URL in the Deployment's
 * `activator.sluice.dev/url` annotation (e.g. when Sluice runs outside the cluster).
 * The Deployment is read once for that and its autoscaling annotations; deliveries wait
 * for that read instead of failing. A Deployment once referenced stays under the
 * activator until Sluice stops (left at zero when idle): a sink ref held by a source may
 * outlive the reconcile pass that resolved it.
 */
export class DeploymentRefs {
  readonly #o: DeploymentRefsOptions;
  readonly #log: Logger;
  readonly #activator: Activator;
  readonly #adopted = new Map<string, Promise<void>>();
  #api: DeploymentApi | undefined;

  constructor(options: DeploymentRefsOptions) {
    this.#o = options;
    this.#log = options.logger.child({ component: 'deployment-refs' });
    this.#activator = new Activator({ logger: options.logger, ...(options.registry ? { registry: options.registry } : {}) });
  }

  /** A RefResolver for kind `Deployment`. */
  readonly resolve = (ref: Ref): ResolvedDestination => {
    if (!ref.apiVersion.startsWith('apps/')) throw new DestinationError(`Deployment ${ref.namespace}/${ref.name}: apiVersion must be apps/v1, not ${ref.apiVersion}`);
    const key = nsKey(ref.namespace, ref.name);
    const api = this.#kube();
    let adopted = this.#adopted.get(key);
    if (!adopted) {
      adopted = this.#adopt(api, ref.namespace, ref.name);
      this.#adopted.set(key, adopted);
    }
    const ready = adopted;
    const resolver = this.#activator.resolver(key);
    return {
      url: clusterUrl(ref.namespace, ref.name),
      endpoint: {
        acquire: async (signal) => {
          await untilAborted(ready, signal);
          return resolver.acquire(signal);
        },
      },
    };
  };

  status(): Record<string, ServiceStatus> {
    return this.#activator.status();
  }

  close(): Promise<void> {
    return this.#activator.close();
  }

  #kube(): DeploymentApi {
    if (!this.#api) {
      let kc: KubeConfig;
      try {
        kc = this.#o.kubeConfig();
      } catch (err) {
        throw new DestinationError(`apps/v1 Deployment refs need the Kubernetes API: ${(err as Error).message}`, 'KubernetesUnavailable');
      }
      this.#api = kc.makeApiClient(AppsV1Api);
    }
    return this.#api;
  }

  /**
   * Reads the Deployment (its URL and autoscaling annotations), then scales it. When it
   * cannot be read, scaling starts with Knative's defaults and the scaler reports the
   * API errors in the status.
   */
  async #adopt(api: DeploymentApi, namespace: string, name: string): Promise<void> {
    const key = nsKey(namespace, name);
    let annotations: Record<string, string> = {};
    try {
      const dep = await api.readNamespacedDeployment({ name, namespace });
      annotations = dep.metadata?.annotations ?? {};
    } catch (err) {
      this.#log.warn({ deployment: key, err: (err as Error).message }, 'cannot read the Deployment: scaling it with the default settings');
    }
    const url = annotations[DEPLOYMENT_URL_ANNOTATION] ?? clusterUrl(namespace, name);
    const ours = Object.fromEntries(Object.entries(annotations).filter(([k]) => OURS.test(k)));
    let config;
    try {
      config = deploymentServiceConfig({ namespace, name, annotations: ours });
    } catch (err) {
      this.#log.warn({ deployment: key, err: (err as Error).message }, 'ignoring invalid autoscaling annotations of the Deployment');
      config = deploymentServiceConfig({ namespace, name });
    }
    try {
      const scaler = new KubeDeploymentScaler({ namespace, deployment: name, url, api, logger: this.#log, ...(this.#o.pollIntervalMs ? { pollIntervalMs: this.#o.pollIntervalMs } : {}) });
      await this.#activator.apply(config, scaler);
    } catch (err) {
      // Deliveries then get the activator's 503 and are retried; the next pass tries again.
      this.#adopted.delete(key);
      this.#log.error({ err, deployment: key }, 'cannot scale the Deployment');
    }
  }
}

function clusterUrl(namespace: string, name: string): string {
  return `http://${name}.${namespace}.svc.cluster.local/`;
}

function untilAborted(p: Promise<void>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    void p.then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}
