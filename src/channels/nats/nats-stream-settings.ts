// What a NatsJetStreamChannel runs with, whichever way its spec was written (Sluice's flat
// fields or eventing-natss's stream/consumerConfigTemplate): the one shape the channel,
// its stream and its consumers read.

/** Where a new subscription's consumer starts in the stream (JetStream's deliver policy). */
export type NatsDeliverStart =
  | { policy: 'all' | 'last' | 'new' }
  | { policy: 'by_start_sequence'; optStartSeq: number }
  | { policy: 'by_start_time'; optStartTime: string };

/** The stream and consumer settings a channel runs with, durations in ms. */
export interface NatsStreamSettings {
  maxAgeMs: number;
  maxBytes: number;
  maxMessages: number;
  replicas: number;
  storage: 'file' | 'memory';
  ackWaitMs: number;
  /** The stream's name instead of the one derived from namespace and name (natss's `stream.overrideName`). */
  streamName?: string;
  /** JetStream's dedup window; default: 2 minutes, or maxAge when shorter. */
  duplicateWindowMs?: number;
  /** Largest event the stream stores, in bytes (-1: the server's limit). */
  maxMsgSize?: number;
  /** At most this many events unacknowledged per subscription (caps its in-flight limit). */
  maxAckPending?: number;
  /** Where a new subscription starts; default: everything the stream still holds. */
  deliver?: NatsDeliverStart;
}

export const DEFAULT_MAX_AGE_MS = 7 * 24 * 3600 * 1000;
export const DEFAULT_ACK_WAIT_MS = 30_000;
/** JetStream's own default dedup window. */
export const DEFAULT_DUPLICATE_WINDOW_MS = 120_000;
