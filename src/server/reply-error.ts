import type { FastifyReply } from 'fastify';
import { SluiceError, httpStatusOf } from '../errors.js';

/** Every error response has the same JSON shape: `{"error": "<what is wrong>", "reason": "<CODE>"}`. */
export function sendError(reply: FastifyReply, err: unknown): FastifyReply {
  const status = httpStatusOf(err);
  const e = err as { message?: unknown; code?: unknown };
  const reason =
    err instanceof SluiceError ? err.reason : typeof e?.code === 'string' ? e.code : status >= 500 ? 'SLUICE_ERR_INTERNAL' : 'SLUICE_ERR_BAD_REQUEST';
  // A full buffer tells well-behaved clients (and Knative senders) when to come back.
  const retryAfter = (err as { retryAfterSeconds?: unknown } | undefined)?.retryAfterSeconds;
  if ((status === 429 || status === 503) && typeof retryAfter === 'number' && retryAfter > 0) reply.header('retry-after', String(Math.ceil(retryAfter)));
  const message = status >= 500 && !(err instanceof SluiceError) ? 'internal error' : String(e?.message ?? err);
  return reply.code(status).type('application/json').send({ error: message, reason });
}
