import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { parseHttpEvents } from '../events/index.js';
import type { IngressTarget, IngressTargets } from '../runtime/ingress-targets.js';
import type { AcceptEvents } from './accept-events.js';
import { AcceptedAnswers } from './accepted-answers.js';
import { eventTargetOf } from './event-target.js';
import { logUnexpectedAcceptError, writeError } from './reply-error.js';

export interface FastPathOptions {
  targets: IngressTargets;
  acceptEvents: AcceptEvents;
  logger: Logger;
  maxBodyBytes: number;
  /** True when the slow path must answer (shutdown began, or the app is closing). */
  isDraining: () => boolean;
}

/** Handles the request and returns true, or returns false without touching it. */
export type FastPath = (req: IncomingMessage, res: ServerResponse) => boolean;

// A media type fastify's parser takes as valid for sure (type/subtype, token or quoted
// parameters); anything else goes the slow way, where fastify decides (415).
const TOKEN = "[\\w!#$%&'*+.^`|~-]+";
const SIMPLE_MEDIA_TYPE = new RegExp(`^${TOKEN}/${TOKEN}(?:\\s*;\\s*${TOKEN}=(?:${TOKEN}|"[^"\\\\]*"))*\\s*$`);

/**
 * The common request, an event POSTed to a channel, broker or display that exists, is
 * ready and lets the sender in, with a Content-Length within the body limit and a plain
 * media type, is answered here on node's own request and response: fastify's request
 * and reply objects, routing, hooks and content-type pipeline cost more per event than
 * everything Sluice does with it (measured: `npm run bench -- channel`). The answer is
 * the same as on the slow path (202, or the same JSON error). Everything else (another
 * method or address, a 401/404/503 to explain, a chunked or oversized body, an unusual
 * Content-Type) returns false before the body is read, and fastify serves it as before.
 */
export function createEventFastPath(o: FastPathOptions): FastPath {
  const { targets, acceptEvents, logger, maxBodyBytes } = o;
  const accepted = new AcceptedAnswers();
  const decide = (req: IncomingMessage): IngressTarget | undefined => {
    if (req.method !== 'POST') return undefined;
    const headers = req.headers;
    const length = headers['content-length'];
    if (length === undefined || headers['transfer-encoding'] !== undefined || !(Number(length) <= maxBodyBytes)) return undefined;
    const type = headers['content-type'];
    if (type === undefined || !SIMPLE_MEDIA_TYPE.test(type)) return undefined;
    const target = eventTargetOf(targets, headers.host, req.url ?? '/')?.target;
    if (!target || o.isDraining() || target.notReadyReason() !== undefined) return undefined;
    if (targets.authorize?.(target.owner ?? target, headers) !== undefined) return undefined;
    return target;
  };
  return (req, res) => {
    let found: IngressTarget | undefined;
    try {
      found = decide(req);
    } catch {
      // Whatever failed here, fastify's path reports it properly (and a throw in a request listener would end the process).
      return false;
    }
    if (!found) return false;
    const target = found;
    const headers = req.headers;
    readBody(req, Number(headers['content-length']), (body) => {
      acceptEvents(target, () => parseHttpEvents(headers, body).events, headers).then(
        () => accepted.answer(res),
        (err: unknown) => answerError(res, err, target, logger),
      );
    });
    return true;
  };
}

/** The whole body as one Buffer of its own (an event held in a channel must not pin node's read buffer), then `done`; nothing on an aborted request. */
function readBody(req: IncomingMessage, bytes: number, done: (body: Buffer) => void): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => done(Buffer.concat(chunks, bytes)));
  // A client gone mid-body: node destroys the socket; there is nobody to answer.
  req.on('error', noop);
}

function noop(): void {}

function answerError(res: ServerResponse, err: unknown, target: IngressTarget, logger: Logger): void {
  logUnexpectedAcceptError(logger, err, target);
  writeError(res, err);
}
