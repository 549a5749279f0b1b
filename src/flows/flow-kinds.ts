import { z } from 'zod';
import type { ResourceIssue } from '../errors.js';
import { defaultDestinationNamespace, deliverySpecSchema, destinationSchema, kReferenceSchema } from '../resources/common-schemas.js';
import type { KindContext, KindDefinition } from '../resources/kind-registry.js';
import type { ChannelTemplate, Destination, Resource } from '../resources/types.js';
import { parseWith } from '../resources/zod-issues.js';
import type { DeliverySpec } from '../subscriptions/delivery-spec.js';

export const FLOWS_V1 = 'flows.knative.dev/v1';
export const SEQUENCE_KIND = 'Sequence';
export const PARALLEL_KIND = 'Parallel';

/** A Sequence step: a destination with its own delivery (Knative's SequenceStep). */
export interface SequenceStep extends Destination {
  delivery?: DeliverySpec;
}

/** `Sequence.spec` (flows.knative.dev/v1). */
export interface SequenceSpec {
  steps: SequenceStep[];
  /** The channel kind behind each step; the runtime's default channel when unset. */
  channelTemplate?: ChannelTemplate;
  /** Where the last step's reply goes; dropped when unset. */
  reply?: Destination;
}

/** One branch of a Parallel (Knative's ParallelBranch). */
export interface ParallelBranch {
  /** Answers with the event to pass it on, 2xx without an event to drop it; every event passes when unset. */
  filter?: Destination;
  subscriber: Destination;
  /** Where this branch's subscriber replies go; the Parallel's `spec.reply` when unset. */
  reply?: Destination;
  delivery?: DeliverySpec;
}

/** `Parallel.spec` (flows.knative.dev/v1). */
export interface ParallelSpec {
  branches: ParallelBranch[];
  channelTemplate?: ChannelTemplate;
  reply?: Destination;
}

const channelTemplateSchema: z.ZodType<ChannelTemplate, unknown> = z.strictObject({
  apiVersion: z.string().min(1),
  kind: z.string().min(1),
  spec: z.record(z.string(), z.unknown()).optional(),
});

/**
 * A step is a Destination with a `delivery` beside it: the fields are checked as the
 * shared destination schema's, then its cross-field rules (ref or uri, relative uri with a
 * ref) are applied by that schema itself, so the messages are the same as everywhere.
 */
const sequenceStepSchema: z.ZodType<SequenceStep, unknown> = z
  .strictObject({
    ref: kReferenceSchema.optional(),
    uri: z.string().min(1).optional(),
    delivery: deliverySpecSchema.optional(),
  })
  .superRefine((step, ctx) => {
    const { delivery: _delivery, ...dest } = step;
    const r = destinationSchema.safeParse(dest);
    if (r.success) return;
    for (const issue of r.error.issues) ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
  });

const sequenceSpecSchema: z.ZodType<SequenceSpec, unknown> = z.strictObject({
  steps: z.array(sequenceStepSchema).min(1),
  channelTemplate: channelTemplateSchema.optional(),
  reply: destinationSchema.optional(),
});

const parallelBranchSchema: z.ZodType<ParallelBranch, unknown> = z.strictObject({
  filter: destinationSchema.optional(),
  subscriber: destinationSchema,
  reply: destinationSchema.optional(),
  delivery: deliverySpecSchema.optional(),
});

const parallelSpecSchema: z.ZodType<ParallelSpec, unknown> = z.strictObject({
  branches: z.array(parallelBranchSchema).min(1),
  channelTemplate: channelTemplateSchema.optional(),
  reply: destinationSchema.optional(),
});

/**
 * A flow's `spec.channelTemplate` names a channel implementation, whose spec is checked
 * as that kind's own (as a Channel's template is), so a typo fails when the file loads.
 */
export function channelTemplateIssues(t: ChannelTemplate | undefined, r: Resource<unknown>, ctx: KindContext): ResourceIssue[] {
  if (!t) return [];
  if (t.kind === 'Channel') {
    return [{ path: 'spec.channelTemplate.kind', message: 'a flow cannot be backed by the abstract Channel; name a channel implementation such as InMemoryChannel' }];
  }
  const backend = ctx.registry.get(t.apiVersion, t.kind);
  if (!backend || !backend.kind.endsWith('Channel')) {
    const known = ctx.registry
      .definitions()
      .filter((d) => d.kind.endsWith('Channel') && d.kind !== 'Channel')
      .map((d) => `${d.kind} (${typeof d.apiVersion === 'string' ? d.apiVersion : d.apiVersion.join(' or ')})`);
    return [{ path: 'spec.channelTemplate', message: `${t.kind} (${t.apiVersion}) is not a channel kind; use one of ${known.join(', ')}` }];
  }
  if (backend.topLevelFields) return [];
  const parsed = parseWith(backend.spec, t.spec ?? {}, ['spec', 'channelTemplate', 'spec']);
  if (!parsed.ok) return parsed.issues;
  const own = backend.validate?.({ apiVersion: t.apiVersion, kind: t.kind, metadata: r.metadata, spec: parsed.value }, ctx) ?? [];
  return own.map((i) => ({ ...i, path: i.path.replace(/^spec(?=\.|\[|$)/, 'spec.channelTemplate.spec') }));
}

export const sequenceDefinition: KindDefinition<SequenceSpec> = {
  apiVersion: FLOWS_V1,
  kind: SEQUENCE_KIND,
  shortNames: ['seq'],
  spec: sequenceSpecSchema,
  defaults(r) {
    const ns = r.metadata.namespace;
    for (const step of r.spec.steps) {
      defaultDestinationNamespace(step, ns);
      defaultDestinationNamespace(step.delivery?.deadLetterSink, ns);
    }
    defaultDestinationNamespace(r.spec.reply, ns);
  },
  validate(r, ctx) {
    return channelTemplateIssues(r.spec.channelTemplate, r, ctx);
  },
};

export const parallelDefinition: KindDefinition<ParallelSpec> = {
  apiVersion: FLOWS_V1,
  kind: PARALLEL_KIND,
  shortNames: ['par'],
  spec: parallelSpecSchema,
  defaults(r) {
    const ns = r.metadata.namespace;
    for (const b of r.spec.branches) {
      defaultDestinationNamespace(b.filter, ns);
      defaultDestinationNamespace(b.subscriber, ns);
      defaultDestinationNamespace(b.reply, ns);
      defaultDestinationNamespace(b.delivery?.deadLetterSink, ns);
    }
    defaultDestinationNamespace(r.spec.reply, ns);
  },
  validate(r, ctx) {
    return channelTemplateIssues(r.spec.channelTemplate, r, ctx);
  },
};
