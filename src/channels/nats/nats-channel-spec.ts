import { z } from 'zod';
import { InvalidOptionError, type ResourceIssue } from '../../errors.js';
import { defaultDestinationNamespace, deliverySpecSchema, isoDurationSchema } from '../../resources/common-schemas.js';
import type { KindDefinition } from '../../resources/kind-registry.js';
import { translateZodIssues } from '../../resources/zod-issues.js';
import type { DeliverySpec } from '../../subscriptions/delivery-spec.js';
import { parseIsoDuration } from '../../subscriptions/duration.js';
import type { IgnoredField } from '../channel.js';
import { DEFAULT_ACK_WAIT_MS, DEFAULT_MAX_AGE_MS, type NatsStreamSettings } from './nats-stream-settings.js';
import { natssSettings } from './natss-settings.js';
import {
  natssConsumerConfigTemplateSchema,
  natssDeploymentSpecTemplateSchema,
  natssStreamSchema,
  type NatssConsumerConfigTemplate,
  type NatssStream,
} from './natss-spec-schema.js';

export { DEFAULT_ACK_WAIT_MS, DEFAULT_MAX_AGE_MS, type NatsDeliverStart, type NatsStreamSettings } from './nats-stream-settings.js';

export const SLUICE_MESSAGING_V1ALPHA1 = 'messaging.sluice.dev/v1alpha1';
/** The apiVersion Knative's own NATS channel uses; Sluice accepts its YAML unchanged. */
export const KNATIVE_MESSAGING_V1ALPHA1 = 'messaging.knative.dev/v1alpha1';
export const NATS_JETSTREAM_CHANNEL_KIND = 'NatsJetStreamChannel';

/**
 * `NatsJetStreamChannel.spec` as written in YAML: Sluice's flat fields, or eventing-natss's
 * own (`stream`, `consumerConfigTemplate`, `deploymentSpecTemplate`), so that natss's YAML
 * runs unchanged. Both may be used together as long as no setting is given twice.
 */
export interface NatsJetStreamChannelSpec {
  delivery?: DeliverySpec;
  /** How long the stream keeps an event nobody finished (ISO-8601, default P7D). */
  maxAge?: string;
  /** Stream size bound in bytes; publishes beyond it answer 429 (default: no bound). */
  maxBytes?: number;
  /** Stream bound in events; publishes beyond it answer 429 (default: no bound). */
  maxMessages?: number;
  /** Stream replicas in a NATS cluster (1..5, default 1). */
  replicas?: number;
  /** `file` (default: survives a NATS restart) or `memory`. */
  storage?: 'file' | 'memory';
  /** How long a delivery may go without an ack before NATS hands it to another replica (ISO-8601, default PT30S). */
  ackWait?: string;
  /** eventing-natss: the stream's name and JetStream config. */
  stream?: NatssStream;
  /** eventing-natss: how each subscription's consumer is made. */
  consumerConfigTemplate?: NatssConsumerConfigTemplate;
  /** eventing-natss: its per-channel dispatcher Deployment (ignored here). */
  deploymentSpecTemplate?: Record<string, unknown>;
}

const positiveOrUnbounded = z.number().int().refine((n) => n === -1 || n > 0, { message: 'must be a positive integer, or -1 for no bound' });

export const natsJetStreamChannelSpecSchema: z.ZodType<NatsJetStreamChannelSpec, unknown> = z
  .strictObject({
    delivery: deliverySpecSchema.optional(),
    maxAge: isoDurationSchema.optional(),
    maxBytes: positiveOrUnbounded.optional(),
    maxMessages: positiveOrUnbounded.optional(),
    replicas: z.number().int().min(1).max(5).optional(),
    storage: z.enum(['file', 'memory']).optional(),
    ackWait: isoDurationSchema.optional(),
    stream: natssStreamSchema.optional(),
    consumerConfigTemplate: natssConsumerConfigTemplateSchema.optional(),
    deploymentSpecTemplate: natssDeploymentSpecTemplateSchema.optional(),
    subscribers: z.array(z.unknown()).optional(),
  })
  .transform(({ subscribers: _ignored, ...spec }) => spec);

/** `messaging.knative.dev/v1alpha1` NatsJetStreamChannel (also accepted under sluice's own group). */
export const natsJetStreamChannelKind: KindDefinition<NatsJetStreamChannelSpec> = {
  apiVersion: [KNATIVE_MESSAGING_V1ALPHA1, SLUICE_MESSAGING_V1ALPHA1],
  kind: NATS_JETSTREAM_CHANNEL_KIND, shortNames: ['natschannel', 'jsc', 'natsjsmc'],
  spec: natsJetStreamChannelSpecSchema,
  defaults(r) {
    defaultDestinationNamespace(r.spec.delivery?.deadLetterSink, r.metadata.namespace);
  },
  // Rules across fields (a setting given twice, durations JetStream refuses) are found
  // when the YAML is loaded, with the field named, not when the channel is built.
  validate(r) {
    return resolveSpec(r.spec).issues;
  },
};

/** The flat fields and the setting each one gives. */
const FLAT_PATHS: ReadonlyArray<[keyof NatsStreamSettings, string]> = [
  ['maxAgeMs', 'spec.maxAge'],
  ['maxBytes', 'spec.maxBytes'],
  ['maxMessages', 'spec.maxMessages'],
  ['replicas', 'spec.replicas'],
  ['storage', 'spec.storage'],
  ['ackWaitMs', 'spec.ackWait'],
];

/** What a channel runs with, and the fields it accepted without honouring. */
export interface NatsChannelConfig {
  settings: NatsStreamSettings;
  ignored: IgnoredField[];
}

/** Settings of a validated spec (flat fields, natss fields, then defaults), with cross-field issues. */
function resolveSpec(s: NatsJetStreamChannelSpec): NatsChannelConfig & { issues: ResourceIssue[] } {
  const natss = natssSettings(s);
  const issues = [...natss.issues];
  const flat: Partial<NatsStreamSettings> = {};
  if (s.maxAge) flat.maxAgeMs = parseIsoDuration(s.maxAge);
  if (s.ackWait) flat.ackWaitMs = parseIsoDuration(s.ackWait);
  if (s.maxBytes !== undefined) flat.maxBytes = s.maxBytes;
  if (s.maxMessages !== undefined) flat.maxMessages = s.maxMessages;
  if (s.replicas !== undefined) flat.replicas = s.replicas;
  if (s.storage) flat.storage = s.storage;
  const pathOf = (key: keyof NatsStreamSettings): string => natss.paths[key] ?? FLAT_PATHS.find(([k]) => k === key)?.[1] ?? `spec.${key}`;
  for (const [key, flatPath] of FLAT_PATHS) {
    if (flat[key] !== undefined && natss.settings[key] !== undefined) issues.push({ path: natss.paths[key]!, message: `${flatPath} sets this too; keep one of the two` });
  }
  const settings: NatsStreamSettings = {
    maxAgeMs: DEFAULT_MAX_AGE_MS,
    maxBytes: -1,
    maxMessages: -1,
    replicas: 1,
    storage: 'file',
    ackWaitMs: DEFAULT_ACK_WAIT_MS,
    ...flat,
    ...natss.settings,
  };
  // Shorter ones make JetStream churn (an age below a second expires events before most deliveries).
  if (settings.maxAgeMs < 1000) issues.push({ path: pathOf('maxAgeMs'), message: 'must be at least 1 second' });
  if (settings.ackWaitMs < 1000) issues.push({ path: pathOf('ackWaitMs'), message: 'must be at least 1 second' });
  // JetStream refuses a dedup window longer than the stream keeps events.
  if (settings.duplicateWindowMs !== undefined && settings.duplicateWindowMs > settings.maxAgeMs) {
    issues.push({ path: pathOf('duplicateWindowMs'), message: `must not be longer than the stream's maxAge (${settings.maxAgeMs / 1000}s): JetStream refuses it` });
  }
  return { settings, ignored: natss.ignored, issues };
}

/** Validates a spec (it may come from a factory caller that skipped the resource loader) into what the channel runs with. */
export function natsChannelConfig(spec: Readonly<Record<string, unknown>>, where: string): NatsChannelConfig {
  const r = natsJetStreamChannelSpecSchema.safeParse(spec);
  const resolved = r.success ? resolveSpec(r.data) : undefined;
  const issues = resolved ? resolved.issues : translateZodIssues(r.error!.issues, ['spec']);
  if (!resolved || issues.length > 0) throw new InvalidOptionError(`${where}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
  return { settings: resolved.settings, ignored: resolved.ignored };
}

/** The settings of a spec (natsChannelConfig without the ignored fields). */
export function natsStreamSettings(spec: Readonly<Record<string, unknown>>, where: string): NatsStreamSettings {
  return natsChannelConfig(spec, where).settings;
}
