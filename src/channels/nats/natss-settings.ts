import type { ResourceIssue } from '../../errors.js';
import { parseGoDuration } from '../../subscriptions/duration.js';
import type { IgnoredField } from '../channel.js';
import type { NatsStreamSettings } from './nats-stream-settings.js';
import type { NatssConsumerConfigTemplate, NatssStream, NatssStreamConfig } from './natss-spec-schema.js';

// eventing-natss's fields mapped onto what Sluice's JetStream channel does. A field is
// either honoured (it becomes a setting), or accepted and listed as ignored with why
// (natss's YAML must run unchanged, and nothing may be dropped silently), or, when its
// value cannot work, an issue naming it. Zero values mean "not set", as in Go.
//
// Sluice keeps its stream on limits retention with discard New and deletes what every
// subscription acknowledged itself (see nats-jetstream-channel.ts for why), and the
// dispatcher, not JetStream, decides when an event has been retried enough: the natss
// settings that would change either are the ones reported as ignored.

/** natss's part of a NatsJetStreamChannel spec. */
export interface NatssSpecParts {
  stream?: NatssStream | undefined;
  consumerConfigTemplate?: NatssConsumerConfigTemplate | undefined;
  deploymentSpecTemplate?: Record<string, unknown> | undefined;
}

export interface NatssSettings {
  /** Settings the natss fields ask for (only those set). */
  settings: Partial<NatsStreamSettings>;
  /** The field each setting came from, for messages. */
  paths: Partial<Record<keyof NatsStreamSettings, string>>;
  ignored: IgnoredField[];
  issues: ResourceIssue[];
}

const STREAM = 'spec.stream.config';
const CONSUMER = 'spec.consumerConfigTemplate';

/** Why each field with no effect here is not honoured, and what Sluice does instead. */
export const IGNORED_REASONS = {
  interest:
    'Sluice keeps the stream on limits retention and deletes each event once every subscription has acknowledged it, which is what Interest does; a JetStream interest stream can drop events it accepted while NATS shuts down',
  work: 'every subscription gets every event, as on any Knative channel; Sluice deletes an event once all subscriptions have acknowledged it (limits retention)',
  discardOld: 'Sluice keeps discard New: a full stream refuses new events (HTTP 429) rather than dropping events it already accepted',
  maxConsumers: 'Sluice creates one consumer per subscription and does not cap their number',
  noAck: "Sluice needs JetStream's acknowledgement of each publish to answer 202 only once the event is stored",
  placement: 'the stream is placed wherever the NATS server Sluice connects to puts it',
  additionalSubjects: "the stream holds only the channel's own subject: events come in through the channel's address",
  mirror: "a channel's stream holds its own events; it never mirrors another stream",
  sources: "a channel's stream holds its own events; it never sources other streams",
  maxDeliver:
    "the subscription's delivery (retry, backoffPolicy, backoffDelay) decides how often an event is retried before it goes to the dead-letter sink; JetStream never drops an event on its own",
  filterSubject: "each subscription reads the channel's whole subject; use a Trigger's filter to select events",
  replayOriginal: 'events are delivered as fast as the subscriber takes them (replay Instant)',
  rateLimitBPS: 'Sluice uses pull consumers, to which JetStream applies no rate limit; bound a subscriber with its in-flight limit',
  sampleFrequency: "Sluice does not turn on JetStream's acknowledgement sampling advisories",
  consumerTypePush: 'Sluice always uses pull consumers, so that broker replicas share the work of a subscription',
  fetch: 'Sluice pulls as many events as the subscription may have in flight',
  optStartSeq: 'applies only with deliverPolicy ByStartSequence',
  optStartTime: 'applies only with deliverPolicy ByStartTime',
  deploymentSpecTemplate: 'Sluice runs no dispatcher Deployment per channel: its own process delivers the events',
} as const;

/** A Go duration in whole ms; undefined when not set ("0" too). An invalid one was reported by the schema. */
function durationMs(text: string | undefined): number | undefined {
  const ms = text === undefined ? undefined : parseGoDuration(text);
  return ms ? Math.max(1, Math.round(ms)) : undefined;
}

/** A JetStream limit: undefined when not set (0). */
function limitOf(n: number | undefined): number | undefined {
  return n ? n : undefined;
}

/** Maps the natss fields of a validated spec onto Sluice's settings. */
export function natssSettings(parts: NatssSpecParts): NatssSettings {
  const out: NatssSettings = { settings: {}, paths: {}, ignored: [], issues: [] };
  const set = <K extends keyof NatsStreamSettings>(key: K, value: NatsStreamSettings[K] | undefined, path: string): void => {
    if (value === undefined) return;
    out.settings[key] = value;
    out.paths[key] = path;
  };
  const ignore = (path: string, reason: string): void => {
    out.ignored.push({ path, reason });
  };
  if (parts.stream?.overrideName) set('streamName', parts.stream.overrideName, 'spec.stream.overrideName');
  if (parts.stream?.config) streamConfig(parts.stream.config, set, ignore);
  if (parts.consumerConfigTemplate) consumerTemplate(parts.consumerConfigTemplate, set, ignore, out.issues);
  if (parts.deploymentSpecTemplate && Object.keys(parts.deploymentSpecTemplate).length > 0) ignore('spec.deploymentSpecTemplate', IGNORED_REASONS.deploymentSpecTemplate);
  return out;
}

type Set = <K extends keyof NatsStreamSettings>(key: K, value: NatsStreamSettings[K] | undefined, path: string) => void;
type Ignore = (path: string, reason: string) => void;

function streamConfig(c: NatssStreamConfig, set: Set, ignore: Ignore): void {
  set('maxAgeMs', durationMs(c.maxAge), `${STREAM}.maxAge`);
  set('duplicateWindowMs', durationMs(c.duplicateWindow), `${STREAM}.duplicateWindow`);
  set('maxMessages', limitOf(c.maxMsgs), `${STREAM}.maxMsgs`);
  set('maxBytes', limitOf(c.maxBytes), `${STREAM}.maxBytes`);
  set('maxMsgSize', limitOf(c.maxMsgSize), `${STREAM}.maxMsgSize`);
  set('replicas', limitOf(c.replicas), `${STREAM}.replicas`);
  set('storage', c.storage === 'Memory' ? 'memory' : c.storage === 'File' ? 'file' : undefined, `${STREAM}.storage`);
  if (c.retention === 'Interest') ignore(`${STREAM}.retention`, IGNORED_REASONS.interest);
  if (c.retention === 'Work' || c.retention === 'WorkQueue') ignore(`${STREAM}.retention`, IGNORED_REASONS.work);
  if (c.discard === 'Old') ignore(`${STREAM}.discard`, IGNORED_REASONS.discardOld);
  if (c.maxConsumers !== undefined && c.maxConsumers > 0) ignore(`${STREAM}.maxConsumers`, IGNORED_REASONS.maxConsumers);
  if (c.noAck) ignore(`${STREAM}.noAck`, IGNORED_REASONS.noAck);
  if (c.placement?.cluster || c.placement?.tags?.length) ignore(`${STREAM}.placement`, IGNORED_REASONS.placement);
  if (c.additionalSubjects?.length) ignore(`${STREAM}.additionalSubjects`, IGNORED_REASONS.additionalSubjects);
  if (c.mirror) ignore(`${STREAM}.mirror`, IGNORED_REASONS.mirror);
  if (c.sources?.length) ignore(`${STREAM}.sources`, IGNORED_REASONS.sources);
}

function consumerTemplate(t: NatssConsumerConfigTemplate, set: Set, ignore: Ignore, issues: ResourceIssue[]): void {
  set('ackWaitMs', durationMs(t.ackWait), `${CONSUMER}.ackWait`);
  // -1 (no JetStream limit) leaves the subscription's own in-flight limit, which is finite.
  if (t.maxAckPending !== undefined && t.maxAckPending > 0) set('maxAckPending', t.maxAckPending, `${CONSUMER}.maxAckPending`);
  switch (t.deliverPolicy) {
    case 'All':
    case 'Last':
    case 'New':
      set('deliver', { policy: t.deliverPolicy === 'All' ? 'all' : t.deliverPolicy === 'Last' ? 'last' : 'new' }, `${CONSUMER}.deliverPolicy`);
      break;
    case 'ByStartSequence':
      if (!t.optStartSeq) issues.push({ path: `${CONSUMER}.optStartSeq`, message: 'required with deliverPolicy ByStartSequence: the stream sequence to start at (1 or more)' });
      else set('deliver', { policy: 'by_start_sequence', optStartSeq: t.optStartSeq }, `${CONSUMER}.deliverPolicy`);
      break;
    case 'ByStartTime':
      if (!t.optStartTime) issues.push({ path: `${CONSUMER}.optStartTime`, message: 'required with deliverPolicy ByStartTime: the time to start at (RFC 3339)' });
      else set('deliver', { policy: 'by_start_time', optStartTime: new Date(t.optStartTime).toISOString() }, `${CONSUMER}.deliverPolicy`);
      break;
  }
  if (t.optStartSeq && t.deliverPolicy !== 'ByStartSequence') ignore(`${CONSUMER}.optStartSeq`, IGNORED_REASONS.optStartSeq);
  if (t.optStartTime && t.deliverPolicy !== 'ByStartTime') ignore(`${CONSUMER}.optStartTime`, IGNORED_REASONS.optStartTime);
  // -1 is what Sluice does already (JetStream never gives up on an event).
  if (t.maxDeliver !== undefined && t.maxDeliver > 0) ignore(`${CONSUMER}.maxDeliver`, IGNORED_REASONS.maxDeliver);
  if (t.filterSubject) ignore(`${CONSUMER}.filterSubject`, IGNORED_REASONS.filterSubject);
  if (t.replayPolicy === 'Original') ignore(`${CONSUMER}.replayPolicy`, IGNORED_REASONS.replayOriginal);
  if (t.rateLimitBPS) ignore(`${CONSUMER}.rateLimitBPS`, IGNORED_REASONS.rateLimitBPS);
  if (t.sampleFrequency !== undefined && !/^0?%?$/.test(String(t.sampleFrequency).trim())) ignore(`${CONSUMER}.sampleFrequency`, IGNORED_REASONS.sampleFrequency);
  if (t.consumerType === 'Push') ignore(`${CONSUMER}.consumerType`, IGNORED_REASONS.consumerTypePush);
  if (t.fetchMaxWait) ignore(`${CONSUMER}.fetchMaxWait`, IGNORED_REASONS.fetch);
  if (t.fetchBatchSize) ignore(`${CONSUMER}.fetchBatchSize`, IGNORED_REASONS.fetch);
}
