import type { ServerResponse } from 'node:http';
import type { FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import { SluiceError, httpStatusOf } from '../errors.js';

/** What an error is answered with: the status, the JSON body and, for 429/503, when to come back. */
export interface ErrorAnswer {
  readonly status: number;
  readonly body: { error: string; reason: string };
  /** Seconds for `Retry-After`, or undefined. */
  readonly retryAfter: number | undefined;
}

/** Every error response has the same JSON shape: `{"error": "<what is wrong>", "reason": "<CODE>"}`. */
export function errorAnswer(err: unknown): ErrorAnswer {
  const status = httpStatusOf(err);
  const e = err as { message?: unknown; code?: unknown };
  const reason =
    err instanceof SluiceError ? err.reason : typeof e?.code === 'string' ? e.code : status >= 500 ? 'SLUICE_ERR_INTERNAL' : 'SLUICE_ERR_BAD_REQUEST';
  // A full buffer tells well-behaved clients (and Knative senders) when to come back.
  const after = (err as { retryAfterSeconds?: unknown } | undefined)?.retryAfterSeconds;
  const retryAfter = (status === 429 || status === 503) && typeof after === 'number' && after > 0 ? Math.ceil(after) : undefined;
  const message = status >= 500 && !(err instanceof SluiceError) ? 'internal error' : String(e?.message ?? err);
  return { status, body: { error: message, reason }, retryAfter };
}

export function sendError(reply: FastifyReply, err: unknown): FastifyReply {
  const a = errorAnswer(err);
  if (a.retryAfter !== undefined) reply.header('retry-after', String(a.retryAfter));
  return reply.code(a.status).type('application/json').send(a.body);
}

/** The same answer on a plain node response (the ingress's fast path for events, which bypasses fastify). */
export function writeError(res: ServerResponse, err: unknown): void {
  const a = errorAnswer(err);
  const text = JSON.stringify(a.body);
  const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(text)) };
  if (a.retryAfter !== undefined) headers['retry-after'] = String(a.retryAfter);
  res.writeHead(a.status, headers);
  res.end(text);
}

/**
 * Logs an error a target's accept raised, unless it is an expected outcome: Sluice's own
 * errors (400, 413, 429, 503) are answers, anything else is a bug to see. Both of the
 * ingress's paths (fastify's and the fast path) call it.
 */
export function logUnexpectedAcceptError(logger: Logger, err: unknown, target: { kind: string; namespace: string; name: string }): void {
  const status = httpStatusOf(err);
  if (!(err instanceof SluiceError) || (status >= 500 && status !== 503)) logger.error({ err, target: `${target.kind} ${target.namespace}/${target.name}` }, 'ingress request failed');
}
