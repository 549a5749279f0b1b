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

const QUANTITY = /^(\d+)\s*(Ki|Mi|Gi|KiB|MiB|GiB|k|M|G)?$/;
const QUANTITY_FACTOR: Record<string, number> = { Ki: 1024, KiB: 1024, Mi: 1024 ** 2, MiB: 1024 ** 2, Gi: 1024 ** 3, GiB: 1024 ** 3, k: 1e3, M: 1e6, G: 1e9 };

/** Bytes as a positive integer or a Kubernetes-style quantity (`64Mi`, `1Gi`, `500M`). */
const byteQuantitySchema = z.union([z.number().int().positive(), z.string()]).transform((v, ctx) => {
  if (typeof v === 'number') return v;
  const m = QUANTITY.exec(v.trim());
  const n = m ? Number(m[1]) * (m[2] ? QUANTITY_FACTOR[m[2]]! : 1) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) {
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(v)} is not a byte size (a positive number of bytes, or e.g. 64Mi, 1Gi)` });
    return z.NEVER;
  }
  return n;
});

const inMemoryChannelSpecSchema: z.ZodType<InMemoryChannelSpec, unknown> = z
  .strictObject({
    delivery: deliverySpecSchema.optional(),
    /** Sluice extension: events the channel holds before ingress answers 429. */
    capacity: z.number().int().positive().optional(),
    /** Sluice extension: bytes the channel holds before ingress answers 429 (a number, or a quantity such as `64Mi`). */
    capacityBytes: byteQuantitySchema.optional(),
    subscribers: controllerSubscribers,
  })
  .transform(({ subscribers: _ignored, ...spec }) => spec);

export const inMemoryChannelKind: KindDefinition<InMemoryChannelSpec> = {
  apiVersion: MESSAGING_V1,
  kind: 'InMemoryChannel', shortNames: ['imc'],
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
  kind: 'Channel', shortNames: ['ch'],
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
    if (!parsed.ok) return parsed.issues;
    // The kind's cross-field rules too (a NatsJetStreamChannel setting given twice), re-rooted under the template.
    const own = backend.validate?.({ apiVersion: t.apiVersion, kind: t.kind, metadata: r.metadata, spec: parsed.value }, ctx) ?? [];
    return own.map((i) => ({ ...i, path: i.path.replace(/^spec(?=\.|\[|$)/, 'spec.channelTemplate.spec') }));
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
  kind: 'Subscription', shortNames: ['sub', 'subs'],
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
