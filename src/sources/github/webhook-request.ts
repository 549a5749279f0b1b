import { verify } from '@octokit/webhooks-methods';
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

/**
 * Checks `X-Hub-Signature-256` (`sha256=` + HMAC-SHA256 hex of the raw body) in
 * constant time. Throws WebhookSignatureError when it is missing or does not match.
 */
export async function verifySignature(req: WebhookRequest, secret: string): Promise<void> {
  const signature = header(req, SIGNATURE_HEADER);
  if (!signature) {
    const legacy = header(req, 'x-hub-signature') ? ' (only the SHA-1 X-Hub-Signature was sent, which Sluice does not accept)' : '';
    throw new WebhookSignatureError(`the request has no X-Hub-Signature-256 header${legacy}`);
  }
  // GitHub computes the HMAC over the bytes it sent; webhooks-methods takes them as a
  // string. A body that is not UTF-8 cannot be a GitHub payload and fails the check.
  const ok = req.body.length > 0 && (await verify(secret, req.body.toString('utf8'), signature));
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
