import type { ChannelTemplate, Resource } from '../resources/types.js';
import { BROKER_CLASS_ANNOTATION, CHANNEL_BASED_BROKER_CLASS, CHANNEL_KIND_ANNOTATION, type BrokerSpec } from './broker-kinds.js';
import { CHANNEL_TEMPLATE_KEY, channelTemplateEntry, parseChannelTemplateSpec, type ConfigMapContent } from './config-map-kind.js';

/** The ConfigMap a stock Knative install points brokers at; it holds the cluster's default channel. */
export const DEFAULT_BROKER_CONFIG_NAME = 'config-br-default-channel';

export type BrokerBacking = { ok: true; template: ChannelTemplate } | { ok: false; reason: string; message: string };

export interface BackingLookups {
  configMap(namespace: string, name: string): ConfigMapContent | undefined;
  /** What a broker without any configuration is backed by (`--default-channel`). */
  defaultTemplate: ChannelTemplate;
}

/**
 * Which channel backs a Broker, most specific first: the `sluice.dev/channel-kind`
 * annotation, a class annotation naming a channel kind, the ConfigMap in `spec.config`
 * (Knative's `channel-template-spec`), else the default channel. An annotation naming the
 * same kind as the ConfigMap keeps the ConfigMap's spec.
 */
export function brokerBacking(broker: Resource<BrokerSpec>, lookups: BackingLookups): BrokerBacking {
  let fromConfig: ChannelTemplate | undefined;
  const ref = broker.spec.config;
  if (ref) {
    const ns = ref.namespace ?? broker.metadata.namespace;
    const cm = lookups.configMap(ns, ref.name);
    if (!cm) {
      // Knative YAML usually names the stock config, which Sluice need not be given.
      if (ref.name !== DEFAULT_BROKER_CONFIG_NAME) {
        return { ok: false, reason: 'BrokerConfigNotFound', message: `spec.config: ConfigMap ${ns}/${ref.name} not found` };
      }
    } else {
      const entry = channelTemplateEntry(cm.data);
      if (!entry) {
        return { ok: false, reason: 'BrokerConfigInvalid', message: `spec.config: ConfigMap ${ns}/${ref.name} has no ${CHANNEL_TEMPLATE_KEY} (or channelTemplateSpec) key` };
      }
      const parsed = parseChannelTemplateSpec(entry.text);
      if ('error' in parsed) {
        return { ok: false, reason: 'BrokerConfigInvalid', message: `spec.config: ConfigMap ${ns}/${ref.name} ${entry.key}: ${parsed.error}` };
      }
      fromConfig = parsed.template;
    }
  }
  const annotations = broker.metadata.annotations ?? {};
  const cls = annotations[BROKER_CLASS_ANNOTATION];
  const kind = annotations[CHANNEL_KIND_ANNOTATION] ?? (cls && cls !== CHANNEL_BASED_BROKER_CLASS ? cls : undefined);
  if (kind) return { ok: true, template: fromConfig?.kind === kind ? fromConfig : { apiVersion: '', kind } };
  return { ok: true, template: fromConfig ?? lookups.defaultTemplate };
}
