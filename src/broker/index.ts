// Brokers and Triggers: Knative's content-based routing on top of a backing channel.
export { BrokerReconciler, BROKER_CHANNEL_PREFIX, type BrokerInstance } from './broker-reconciler.js';
export { TriggerReconciler } from './trigger-reconciler.js';
export { BrokerIngress, brokerUrl } from './broker-ingress.js';
export {
  brokerKind,
  triggerKind,
  BROKER_KIND,
  TRIGGER_KIND,
  EVENTING_V1,
  BROKER_CLASS_ANNOTATION,
  CHANNEL_BASED_BROKER_CLASS,
  CHANNEL_KIND_ANNOTATION,
  type BrokerSpec,
  type TriggerSpec,
} from './broker-kinds.js';
export { configMapKind, CONFIG_MAP_KIND, CHANNEL_TEMPLATE_KEY, parseChannelTemplateSpec, type ConfigMapContent } from './config-map-kind.js';
export { brokerBacking, DEFAULT_BROKER_CONFIG_NAME, type BrokerBacking } from './broker-backing.js';
export { ARRIVAL_TIME_ATTRIBUTE, DEFAULT_BROKER_TTL, TTL_ATTRIBUTE } from './broker-ttl.js';
