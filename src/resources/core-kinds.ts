import { z } from 'zod';
import type { ResourceIssue } from '../errors.js';
import { defaultDestinationNamespace, deliverySpecSchema, destinationSchema, kReferenceSchema } from './common-schemas.js';
import { parseWith } from './zod-issues.js';
import { ResourceKindRegistry, type KindDefinition } from './kind-registry.js';
import { secretKind } from './secret-kind.js';
import type { ChannelSpec, ChannelTemplate, InMemoryChannelSpec, SubscriptionSpec } from './types.js';

export const MESSAGING_V1 = 'messaging.knative.dev/v1';

/** Knative's cluster default channel; `--default-channel` overrides it through the loader option. */
export const DEFAULT_CHANNEL_TEMPLATE: ChannelTemplate = Object.freeze({ apiVersion: MESSAGING_V1, kind: 'InMemoryChannel' });

// Knative's controller copies each Subscription into the channel's `spec.subscribers`,
// so `kubectl get ... -o yaml` output carries it. It is accepted and dropped: Sluice
// takes subscriptions from Subscription resources only.
const controllerSubscribers = z.array(z.unknown()).optional();

const inMemoryChannelSpecSchema: z.ZodType<InMemoryChannelSpec, unknown> = z
  .strictObject({
    delivery: deliverySpecSchema.optional(),
    /** Sluice extension: events held per subscription before ingress answers 429. */
    capacity: z.number().int().positive().optional(),
    subscribers: controllerSubscribers,
  })
  .transform(({ subscribers: _ignored, ...spec }) => spec);

export const inMemoryChannelKind: KindDefinition<InMemoryChannelSpec> = {
  apiVersion: MESSAGING_V1,
  kind: 'InMemoryChannel',
  spec: inMemoryChannelSpecSchema,
  defaults(r) {
    defaultDestinationNamespace(r.spec.delivery?.deadLetterSink, r.metadata.namespace);
  },
};

const channelTemplateSchema: z.ZodType<ChannelTemplate, unknown> = z.strictObject({
  apiVersion: z.string().min(1),
  kind: z.string().min(1),
  spec: z.record(z.string(), z.unknown()).optional(),
});

const channelSpecSchema: z.ZodType<ChannelSpec, unknown> = z
  .strictObject({
    channelTemplate: channelTemplateSchema.optional(),
    delivery: deliverySpecSchema.optional(),
    subscribers: controllerSubscribers,
  })
  .transform(({ subscribers: _ignored, ...spec }) => spec);

export const channelKind: KindDefinition<ChannelSpec> = {
  apiVersion: MESSAGING_V1,
  kind: 'Channel',
  spec: channelSpecSchema,
  defaults(r, ctx) {
    if (!r.spec.channelTemplate) {
      const t = ctx.defaultChannelTemplate;
      r.spec.channelTemplate = { apiVersion: t.apiVersion, kind: t.kind, ...(t.spec ? { spec: structuredClone(t.spec) } : {}) };
    }
    defaultDestinationNamespace(r.spec.delivery?.deadLetterSink, r.metadata.namespace);
  },
  validate(r, ctx) {
    const t = r.spec.channelTemplate;
    if (!t) return [];
    if (t.kind === 'Channel') {
      return [{ path: 'spec.channelTemplate.kind', message: 'a Channel cannot be backed by another Channel; name a channel implementation such as InMemoryChannel' }];
    }
    // A template of a kind Sluice knows is checked like that kind's own spec, so a typo in
    // `capacity` is reported when the file loads, not when the channel is created.
    const backend = ctx.registry.get(t.apiVersion, t.kind);
    if (!backend || backend.topLevelFields) return [];
    const parsed = parseWith(backend.spec, t.spec ?? {}, ['spec', 'channelTemplate', 'spec']);
    return parsed.ok ? [] : parsed.issues;
  },
};

const subscriptionSpecSchema: z.ZodType<SubscriptionSpec, unknown> = z.strictObject({
  channel: kReferenceSchema,
  subscriber: destinationSchema,
  reply: destinationSchema.optional(),
  delivery: deliverySpecSchema.optional(),
});

export const subscriptionKind: KindDefinition<SubscriptionSpec> = {
  apiVersion: MESSAGING_V1,
  kind: 'Subscription',
  spec: subscriptionSpecSchema,
  // Knative's SetDefaults: refs without a namespace point into the Subscription's. The
  // channel ref is left as written: it may only ever be the Subscription's namespace.
  defaults(r) {
    const ns = r.metadata.namespace;
    defaultDestinationNamespace(r.spec.subscriber, ns);
    defaultDestinationNamespace(r.spec.reply, ns);
    defaultDestinationNamespace(r.spec.delivery?.deadLetterSink, ns);
  },
  validate(r) {
    const issues: ResourceIssue[] = [];
    const chNs = r.spec.channel.namespace;
    if (chNs !== undefined && chNs !== r.metadata.namespace) {
      issues.push({
        path: 'spec.channel.namespace',
        message: `${JSON.stringify(chNs)} must be the Subscription's own namespace ${JSON.stringify(r.metadata.namespace)}`,
      });
    }
    return issues;
  },
};

/** A registry with the kinds of the core: InMemoryChannel, Channel, Subscription and v1 Secret. */
export function createCoreKinds(): ResourceKindRegistry {
  return new ResourceKindRegistry().register(inMemoryChannelKind).register(channelKind).register(subscriptionKind).register(secretKind);
}
