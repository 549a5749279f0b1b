import { isUtf8 } from 'node:buffer';
import type { DeadLetterEntry, RedriveMark } from './dead-letter-store.js';
import { formatRef } from './subscription-ref.js';

/** Data bytes a listing shows per dead letter (the entry keeps more, for the redrive). */
const VIEW_DATA_BYTES = 4096;

/**
 * One dead letter as `GET /api/v1/deadletters` shows it: the fields the inspector has
 * always shown (time, namespace, resource, subscription, event*, attempts, statusCode,
 * attributes, data) plus what a redrive needs (entryId, kind, ref, redrivable, redriven).
 */
export interface DeadLetterEntryView {
  entryId: string;
  time: string;
  kind: 'subscription' | 'trigger';
  /** `subscription/<ns>/<name>` or `trigger/<ns>/<name>`: what the redrive API takes. */
  ref: string;
  namespace: string;
  resource: string;
  subscription: string;
  eventId: string;
  eventType: string;
  eventSource: string;
  outcome: 'dead-lettered';
  attempts: number;
  statusCode: number | null;
  durationMs: null;
  attributes: Record<string, string>;
  data?: string;
  dataEncoding?: 'utf8' | 'base64';
  dataTruncated?: true;
  deadLetterUri?: string;
  redrivable: boolean;
  redriven?: RedriveMark;
}

export function entryView(e: DeadLetterEntry): DeadLetterEntryView {
  const a = e.event.attributes;
  const out: DeadLetterEntryView = {
    entryId: e.entryId,
    time: new Date(e.at).toISOString(),
    kind: e.owner.kind === 'Trigger' ? 'trigger' : 'subscription',
    ref: formatRef(e.owner),
    namespace: e.owner.namespace,
    resource: e.owner.resource,
    subscription: e.owner.name,
    eventId: a.id ?? '',
    eventType: a.type ?? '',
    eventSource: a.source ?? '',
    outcome: 'dead-lettered',
    attempts: e.attempts,
    statusCode: e.statusCode ?? null,
    durationMs: null,
    attributes: { ...a },
    redrivable: e.redrivable,
  };
  const data = e.event.data;
  if (data && data.length > 0) {
    const bytes = data.subarray(0, VIEW_DATA_BYTES);
    if (isUtf8(bytes)) {
      out.data = bytes.toString('utf8');
      out.dataEncoding = 'utf8';
    } else {
      out.data = bytes.toString('base64');
      out.dataEncoding = 'base64';
    }
    if (data.length > VIEW_DATA_BYTES || !e.redrivable) out.dataTruncated = true;
  }
  if (e.deadLetterUri) out.deadLetterUri = e.deadLetterUri;
  if (e.redriven) out.redriven = e.redriven;
  return out;
}
