import { createHmac, timingSafeEqual } from 'node:crypto';
import { InvalidEventError, WebhookSignatureError } from '../../errors.js';
import type { WebhookRequest } from '../source.js';

// Reading one GitHub webhook delivery: its headers, its signature and its payload.

export const SIGNATURE_HEADER = 'x-hub-signature-256';
export const EVENT_HEADER = 'x-github-event';
export const DELIVERY_HEADER = 'x-github-delivery';

/** A single header value (the first when repeated), trimmed; undefined when absent or empty. */
export function header(req: WebhookRequest, lowerName: string): string | undefined {
  const v = req.headers[lowerName];
  const s = Array.isArray(v) ? v[0] : v;
  const t = s?.trim();
  return t ? t : undefined;
}

// `sha256=` and 64 hex digits (the HMAC-SHA256 digest is 32 bytes).
const SIGNATURE = /^sha256=([0-9a-fA-F]{64})$/;

/**
 * Checks `X-Hub-Signature-256` (`sha256=` + HMAC-SHA256 hex of the raw body) in
 * constant time. Throws WebhookSignatureError when it is missing, malformed or does not match.
 *
 * The HMAC is computed over the body's bytes exactly as received, never over a decoded
 * string: decoding would turn invalid UTF-8 (e.g. a 0xFF byte) into U+FFFD, so two
 * different bodies would share one valid signature.
 */
export async function verifySignature(req: WebhookRequest, secret: string): Promise<void> {
  const signature = header(req, SIGNATURE_HEADER);
  if (!signature) {
    const legacy = header(req, 'x-hub-signature') ? ' (only the SHA-1 X-Hub-Signature was sent, which Sluice does not accept)' : '';
    throw new WebhookSignatureError(`the request has no X-Hub-Signature-256 header${legacy}`);
  }
  const m = SIGNATURE.exec(signature);
  if (!m) throw new WebhookSignatureError('X-Hub-Signature-256 is malformed: expected "sha256=" and 64 hex digits');
  const expected = createHmac('sha256', secret).update(req.body).digest();
  const given = Buffer.from(m[1]!, 'hex');
  // Both are 32 bytes (the pattern guarantees it), as timingSafeEqual requires.
  const ok = req.body.length > 0 && given.length === expected.length && timingSafeEqual(given, expected);
  if (!ok) throw new WebhookSignatureError('X-Hub-Signature-256 does not match the body and the GitHubSource secretToken');
}

/**
 * The JSON payload of a delivery: the body itself for `content_type: json` hooks, or the
 * `payload` field of a form-encoded body (hooks configured by hand with
 * `application/x-www-form-urlencoded`). Returns the payload bytes and their parse.
 */
export function readPayload(req: WebhookRequest): { data: Buffer; payload: unknown } {
  const contentType = (header(req, 'content-type') ?? '').split(';')[0]?.trim().toLowerCase();
  let data = req.body;
  if (contentType === 'application/x-www-form-urlencoded') {
    const value = new URLSearchParams(req.body.toString('utf8')).get('payload');
    if (value === null) throw new InvalidEventError('the form-encoded body has no "payload" field');
    data = Buffer.from(value, 'utf8');
  }
  if (data.length === 0) throw new InvalidEventError('the body is empty; a GitHub delivery carries a JSON payload');
  let payload: unknown;
  try {
    payload = JSON.parse(data.toString('utf8'));
  } catch (err) {
    throw new InvalidEventError(`the body is not JSON: ${(err as Error).message}`, { cause: err });
  }
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) {
    throw new InvalidEventError('the payload is not a JSON object');
  }
  return { data, payload };
}
