import { createCoreKinds, type KindDefinition, type ResourceKindRegistry } from './resources/index.js';
import { eventDisplayKind } from './display/index.js';
import { natsJetStreamChannelKind } from './channels/nats/nats-channel-spec.js';
import { redisChannelKind } from './channels/bullmq/redis-channel-spec.js';
import { gitHubSourceKind } from './sources/github/github-source-kind.js';
import { pingSourceKind } from './sources/ping/ping-source-kind.js';
import { apiServerSourceKind } from './sources/apiserver/apiserver-source-kind.js';
import { containerSourceKind } from './sources/container/container-source-kind.js';
import { sinkBindingKind } from './sources/sinkbinding/sinkbinding-kind.js';
import { serviceKind } from './activator/service-spec.js';
import { brokerKind, triggerKind } from './broker/broker-kinds.js';
import { configMapKind } from './broker/config-map-kind.js';

/**
 * Every kind `sluice` understands. The resources module knows only the core messaging
 * kinds; each feature owns its kind definition and is added here, so the loader, the CLI
 * `validate` command and the admin API all accept exactly the same YAML.
 */
export function createSluiceKinds(extra: readonly KindDefinition[] = []): ResourceKindRegistry {
  const registry = createCoreKinds()
    .register(eventDisplayKind)
    .register(natsJetStreamChannelKind)
    .register(redisChannelKind)
    .register(gitHubSourceKind)
    .register(pingSourceKind)
    .register(apiServerSourceKind)
    .register(containerSourceKind)
    .register(sinkBindingKind)
    .register(brokerKind)
    .register(triggerKind)
    .register(configMapKind)
    .register({ apiVersion: serviceKind.apiVersion, kind: serviceKind.kind, spec: serviceKind.spec, validate: serviceKind.validate });
  for (const def of extra) registry.register(def);
  return registry;
}
