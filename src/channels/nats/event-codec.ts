import { createHash } from 'node:crypto';
import { headers, type MsgHdrs } from '@nats-io/transport-node';
import type { SluiceEvent } from '../../events/types.js';

// A SluiceEvent travels as one NATS message in the CloudEvents NATS binding's binary
// mode: every attribute is a `ce-<name>` header and the payload is the data, byte for
// byte. Header values cannot carry CR/LF (and NATS trims surrounding blanks), so values
// are percent-encoded the way the CloudEvents HTTP binding does it: space, `"`, `%`,
// and everything outside printable ASCII.

const CE_PREFIX = 'ce-';
/** Set when the event has no data at all, so "no data" and "empty data" stay distinct. */
const NO_DATA_HEADER = 'Sluice-No-Data';
const NEEDS_ENCODING = /[^\x21-\x7E]|["%]/gu;

function encodeValue(v: string): string {
  return v.replace(NEEDS_ENCODING, (c) => {
    try {
      return encodeURIComponent(c);
    } catch {
      return '%EF%BF%BD'; // a lone surrogate cannot be UTF-8 encoded: U+FFFD, as TextEncoder does
    }
  });
}

function decodeValue(v: string): string {
  if (!v.includes('%')) return v;
  try {
    return decodeURIComponent(v);
  } catch {
    return v;
  }
}

export function encodeEventHeaders(event: SluiceEvent): MsgHdrs {
  const h = headers();
  for (const [k, v] of Object.entries(event.attributes)) h.set(CE_PREFIX + k, encodeValue(v));
  if (event.data === undefined) h.set(NO_DATA_HEADER, '1');
  return h;
}

/** Thrown for a message on a channel subject that is not a Sluice event (nothing can deliver it). */
export class UndecodableMessageError extends Error {}

export function decodeEvent(hdrs: MsgHdrs | undefined, payload: Uint8Array): SluiceEvent {
  if (!hdrs) throw new UndecodableMessageError('message has no headers');
  const attributes: Record<string, string> = {};
  for (const key of hdrs.keys()) {
    const lower = key.toLowerCase();
    if (lower.startsWith(CE_PREFIX)) attributes[lower.slice(CE_PREFIX.length)] = decodeValue(hdrs.get(key));
  }
  for (const required of ['specversion', 'id', 'source', 'type']) {
    if (!attributes[required]) throw new UndecodableMessageError(`message lacks the ${required} attribute`);
  }
  const noData = hdrs.has(NO_DATA_HEADER);
  // Copy: the client may reuse the buffer the payload view points into.
  return { attributes, data: noData ? undefined : Buffer.from(payload) };
}

/**
 * JetStream's `Nats-Msg-Id`: Knative recipients dedupe on source + id, so a client that
 * retries a publish after a timeout is stored once within the duplicate window. Hashed
 * because source and id are arbitrary strings and a header value must stay one line.
 */
export function messageId(event: SluiceEvent): string {
  return createHash('sha256').update(`${event.attributes.source ?? ''}\n${event.attributes.id ?? ''}`).digest('base64url');
}
