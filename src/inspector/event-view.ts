import { isUtf8 } from 'node:buffer';
import type { SluiceEvent } from '../events/types.js';

/** The kinds of ingress target whose accepted events the inspector streams. */
export type TappedKind = 'channel' | 'broker';

/** Event data as JSON can carry it: text when it is valid UTF-8, else base64. */
export interface EncodedData {
  data: string;
  dataEncoding: 'utf8' | 'base64';
}

/** One event accepted into a channel or broker, as the live stream sends it (one SSE `data:` line). */
export interface StreamedEvent extends Partial<EncodedData> {
  /** When the ingress accepted it (RFC 3339). */
  time: string;
  kind: TappedKind;
  namespace: string;
  name: string;
  attributes: Record<string, string>;
}

/** Event data for JSON: binary payloads (protobuf, images) must survive the trip unchanged. */
export function encodeData(data: Buffer | undefined, maxBytes = Infinity): (EncodedData & { dataTruncated?: true }) | undefined {
  if (!data || data.length === 0) return undefined;
  const truncated = data.length > maxBytes;
  const bytes = truncated ? data.subarray(0, maxBytes) : data;
  const out: EncodedData & { dataTruncated?: true } = isUtf8(bytes)
    ? { data: bytes.toString('utf8'), dataEncoding: 'utf8' }
    : { data: bytes.toString('base64'), dataEncoding: 'base64' };
  if (truncated) out.dataTruncated = true;
  return out;
}

export function streamedEvent(kind: TappedKind, namespace: string, name: string, event: SluiceEvent, time: string): StreamedEvent {
  return { time, kind, namespace, name, attributes: { ...event.attributes }, ...encodeData(event.data) };
}
