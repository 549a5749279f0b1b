import { z } from 'zod';
import type { ResourceIssue } from '../errors.js';
import { defaultDestinationNamespace, deliverySpecSchema, destinationSchema, kReferenceSchema } from '../resources/common-schemas.js';
import type { KindContext, KindDefinition } from '../resources/kind-registry.js';
import type { Destination, KReference } from '../resources/types.js';
import type { DeliverySpec } from '../subscriptions/delivery-spec.js';
import { formatPath } from '../resources/zod-issues.js';
import { formatFilterPath, triggerFilterIssues } from './filters/index.js';
import type { SubscriptionsAPIFilter, TriggerAttributesFilter } from './filters/index.js';

export const EVENTING_V1 = 'eventing.knative.dev/v1';
export const BROKER_KIND = 'Broker';
export const TRIGGER_KIND = 'Trigger';

/** Knative's broker class annotation; Sluice implements the channel-based class. */
export const BROKER_CLASS_ANNOTATION = 'eventing.knative.dev/broker.class';
export const CHANNEL_BASED_BROKER_CLASS = 'MTChannelBasedBroker';
/** Sluice's shortcut for the backing channel kind, without a ConfigMap (`NatsJetStreamChannel`, `RedisChannel`). */
export const CHANNEL_KIND_ANNOTATION = 'sluice.dev/channel-kind';

/** `Broker.spec` (eventing.knative.dev/v1). */
export interface BrokerSpec {
  /** A ConfigMap whose `channel-template-spec` names the backing channel (Knative's MTChannelBasedBroker config). */
  config?: KReference;
  /** Defaults for the Triggers that set none (Knative: retry 10, exponential, PT0.2S). */
  delivery?: DeliverySpec;
}

/** `Trigger.spec` (eventing.knative.dev/v1). */
export interface TriggerSpec {
  broker: string;
  subscriber: Destination;
  delivery?: DeliverySpec;
  filter?: TriggerAttributesFilter;
  filters?: SubscriptionsAPIFilter[];
}

const DNS1123 = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

const brokerSpecSchema: z.ZodType<BrokerSpec, unknown> = z.strictObject({
  config: kReferenceSchema.optional(),
  delivery: deliverySpecSchema.optional(),
});

/**
 * Kinds whose name may stand for the backing channel (in the class or channel-kind
 * annotation): channel implementations the kind registry knows, never the abstract Channel.
 */
function channelKindsOf(ctx: KindContext): string[] {
  const kinds = new Set<string>();
  for (const def of ctx.registry.definitions()) if (def.kind.endsWith('Channel') && def.kind !== 'Channel') kinds.add(def.kind);
  return [...kinds].sort();
}

function annotationPath(name: string): string {
  return formatPath(['metadata', 'annotations', name]);
}

export const brokerKind: KindDefinition<BrokerSpec> = {
  apiVersion: EVENTING_V1,
  kind: BROKER_KIND, shortNames: ['brk'],
  spec: brokerSpecSchema,
  defaults(r) {
    const ns = r.metadata.namespace;
    if (r.spec.config && !r.spec.config.namespace) r.spec.config.namespace = ns;
    defaultDestinationNamespace(r.spec.delivery?.deadLetterSink, ns);
  },
  validate(r, ctx) {
    const issues: ResourceIssue[] = [];
    const annotations = r.metadata.annotations ?? {};
    const channelKinds = channelKindsOf(ctx);
    const cls = annotations[BROKER_CLASS_ANNOTATION];
    if (cls !== undefined && cls !== CHANNEL_BASED_BROKER_CLASS && !channelKinds.includes(cls)) {
      issues.push({
        path: annotationPath(BROKER_CLASS_ANNOTATION),
        message: `broker class ${JSON.stringify(cls)} is not implemented by Sluice; use ${CHANNEL_BASED_BROKER_CLASS} (the backing channel comes from spec.config or the ${CHANNEL_KIND_ANNOTATION} annotation)`,
      });
    }
    const chKind = annotations[CHANNEL_KIND_ANNOTATION];
    if (chKind !== undefined && !channelKinds.includes(chKind)) {
      issues.push({ path: annotationPath(CHANNEL_KIND_ANNOTATION), message: `${JSON.stringify(chKind)} is not a channel kind; use one of ${channelKinds.join(', ')}` });
    }
    const config = r.spec.config;
    if (config && config.kind !== 'ConfigMap') {
      issues.push({
        path: 'spec.config.kind',
        message: `${JSON.stringify(config.kind)} is not supported: a channel-based Broker reads its channel template from a ConfigMap (key channel-template-spec)`,
      });
    }
    return issues;
  },
};

const triggerSpecSchema: z.ZodType<TriggerSpec, unknown> = z.strictObject({
  broker: z.string().min(1),
  subscriber: destinationSchema,
  delivery: deliverySpecSchema.optional(),
  // The filter compiler checks these (structure included) in `validate`, so every filter
  // problem of a Trigger is reported at once, each with its path.
  filter: z.custom<TriggerAttributesFilter>(() => true).optional(),
  filters: z.custom<SubscriptionsAPIFilter[]>(() => true).optional(),
});

export const triggerKind: KindDefinition<TriggerSpec> = {
  apiVersion: EVENTING_V1,
  kind: TRIGGER_KIND, shortNames: ['trig'],
  spec: triggerSpecSchema,
  defaults(r) {
    const ns = r.metadata.namespace;
    defaultDestinationNamespace(r.spec.subscriber, ns);
    defaultDestinationNamespace(r.spec.delivery?.deadLetterSink, ns);
  },
  // Filters are compiled here too, so a bad CESQL expression (with its position), an
  // unknown dialect or two dialects in one element fail when the file loads, not at the
  // first event.
  validate(r) {
    const issues: ResourceIssue[] = [];
    if (!DNS1123.test(r.spec.broker)) {
      issues.push({ path: 'spec.broker', message: `${JSON.stringify(r.spec.broker)} is not a valid Broker name` });
    }
    for (const issue of triggerFilterIssues({ filter: r.spec.filter, filters: r.spec.filters })) {
      const sub = formatFilterPath(issue.path);
      issues.push({ path: !sub ? 'spec' : sub.startsWith('[') ? `spec${sub}` : `spec.${sub}`, message: issue.message });
    }
    return issues;
  },
};
