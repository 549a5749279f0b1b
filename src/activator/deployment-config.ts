import { ResourceValidationError } from '../errors.js';
import { nsKey } from '../resources/types.js';
import { parseAutoscaling } from './autoscale-config.js';
import type { ServiceConfig } from './service-spec.js';

/**
 * A ServiceConfig for a subscriber `ref` to an apps/v1 Deployment (scaled by a
 * KubeDeploymentScaler): nothing to run, only concurrency and autoscaling, read from the
 * same `autoscaling.knative.dev/*` annotations on the Deployment's metadata.
 */
export function deploymentServiceConfig(args: {
  namespace: string;
  name: string;
  annotations?: Record<string, string>;
  containerConcurrency?: number;
  containerPort?: number;
}): ServiceConfig {
  const { config, issues } = parseAutoscaling(args.annotations ?? {}, 'metadata.annotations');
  if (issues.length) throw new ResourceValidationError({ kind: 'Deployment', name: `${args.namespace}/${args.name}`, issues });
  return {
    namespace: args.namespace,
    name: args.name,
    key: nsKey(args.namespace, args.name),
    containerConcurrency: args.containerConcurrency ?? 0,
    requestTimeoutMs: 300_000,
    container: { command: [], args: [], env: {}, envSources: [], imagePullPolicy: 'IfNotPresent', limits: {}, containerPort: args.containerPort ?? 8080, readinessProbe: { kind: 'tcp', timeoutMs: 1000 } },
    autoscale: config,
    // Scaled through the Kubernetes API; the runner is not used.
    runner: 'container',
    ignored: [],
  };
}
