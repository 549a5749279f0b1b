// Scale-to-zero services: the activator (holds requests while a service wakes, routes
// them to ready replicas, decides the replica count), its two scalers (local processes,
// Kubernetes Deployments), the Service resource schema and an HTTP proxy helper.
export { Activator } from './activator.js';
export type { ActivatorOptions, ScalerFactory } from './activator.js';
export { ServiceActivator } from './service-activator.js';
export type { EndpointResolver, Lease, ServiceStatus, ServiceActivatorOptions } from './service-activator.js';
export type { Scaler, ScalerListener, ScalerStatus, Endpoint } from './scaler.js';
export { ProcessScaler } from './process-scaler.js';
export type { ProcessScalerOptions } from './process-scaler.js';
export { KubeDeploymentScaler } from './kube-scaler.js';
export type { KubeDeploymentScalerOptions, DeploymentApi } from './kube-scaler.js';
export { ActivatorMetrics } from './activator-metrics.js';
export { createServiceProxy } from './service-proxy.js';
export type { ServiceProxy, ServiceProxyOptions } from './service-proxy.js';
export { serviceSpecSchema, serviceKind, serviceConfigFrom } from './service-spec.js';
export type { ServiceSpec, ServiceConfig, ContainerConfig, ReadinessProbe, ServiceMode } from './service-spec.js';
export { parseAutoscaling, AUTOSCALING_DEFAULTS } from './autoscale-config.js';
export type { AutoscaleConfig } from './autoscale-config.js';
export { deploymentServiceConfig } from './deployment-config.js';
export { probeOnce } from './readiness-probe.js';
export { ServiceReconciler } from './service-reconciler.js';
export type { ServiceReconcilerOptions } from './service-reconciler.js';
export { DeploymentRefs, DEPLOYMENT_URL_ANNOTATION } from './deployment-refs.js';
export type { DeploymentRefsOptions } from './deployment-refs.js';
export { serviceResourceStatus } from './service-status.js';
export type { ServiceProblem, ServiceStatusInput } from './service-status.js';
