import { readFileSync } from 'node:fs';
import { STATUS_CODES, createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { parseHttpEvents } from '../events/index.js';
import type { SluiceEvent } from '../events/types.js';
import { createAcceptEvents, type AcceptEvents } from './accept-events.js';
import { HeadersTooLargeError, InvalidOptionError, MalformedRequestError, MethodNotAllowedError, NotFoundError, NotReadyError, PayloadTooLargeError, RequestTimeoutError, UnauthorizedError, UnavailableError, UnsupportedMediaTypeError, httpStatusOf } from '../errors.js';
import { responseCodeClass, type Metrics, type Tally } from '../observability/metrics.js';
import { TRACING_OFF, type Tracing } from '../observability/tracing.js';
import { logUnexpectedAcceptError, sendError } from './reply-error.js';
import { createEventFastPath } from './event-fast-path.js';
import { eventTargetOf } from './event-target.js';
import { governConnections } from './connection-governor.js';
import { segments } from '../runtime/ingress-address.js';
import { nsKey } from '../resources/types.js';
import type { AddressOwner, IngressTargets, IngressTarget } from '../runtime/ingress-targets.js';

/**
 * How long the ingress waits on clients, and how many it serves at once. Without these a
 * client that sends headers and then trickles (or stalls) its body holds a socket and a
 * file descriptor forever, and a thousand of them starve everyone else. Timeouts are in
 * milliseconds; 0 turns one off.
 */
export interface IngressLimits {
  /** Time from a request's first byte (or the connection) until its headers are complete; 408 beyond. Default 10 s. */
  headersTimeoutMs?: number;
  /** Time to receive a whole request, headers and body; 408 beyond. Default 30 s. Not the time to answer it. */
  requestTimeoutMs?: number;
  /**
   * A connection with no bytes moving either way for this long is closed. Default 60 s.
   * Service routes (`/services/...`) are exempt: a scale-from-zero may hold them longer,
   * bounded by the Service's own queue and request timeouts.
   */
  idleTimeoutMs?: number;
  /** How long an idle keep-alive connection stays open between requests (more than 0). Default 65 s, above the 60 s idle time of common load balancers, so that they close first. */
  keepAliveTimeoutMs?: number;
  /**
   * Open connections at most, so that slow clients cannot use up the file descriptors
   * that deliveries and backends need. At the cap, the connection longest in its current
   * phase (a request still arriving, or idle keep-alive) makes room for the newcomer
   * (see governConnections); the newcomer is closed only when none is older than 1 s.
   * Default 10,000, or half the process's open-file limit when that is lower.
   */
  maxConnections?: number;
}

export const DEFAULT_HEADERS_TIMEOUT_MS = 10_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
export const DEFAULT_IDLE_TIMEOUT_MS = 60_000;
export const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = 65_000;
const MAX_CONNECTIONS_CEILING = 10_000;

/** The open-file soft limit (Linux `/proc/self/limits`), or undefined where it cannot be read. */
function openFileLimit(): number | undefined {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** 10,000, or half the open-file limit when that is lower (the other half for deliveries, backends and files). */
export function defaultMaxConnections(): number {
  const limit = openFileLimit();
  return limit === undefined ? MAX_CONNECTIONS_CEILING : Math.max(1, Math.min(MAX_CONNECTIONS_CEILING, Math.floor(limit / 2)));
}

function timeoutOption(value: number | undefined, fallback: number, name: string): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < 0) throw new InvalidOptionError(`${name} must be a whole number of milliseconds (0 for none), got ${value}`);
  return v;
}

/** Limits with defaults filled in, validated when the app is built. */
export function resolveIngressLimits(limits: IngressLimits): Required<IngressLimits> {
  const headersTimeoutMs = timeoutOption(limits.headersTimeoutMs, DEFAULT_HEADERS_TIMEOUT_MS, 'headersTimeoutMs');
  const requestTimeoutMs = timeoutOption(limits.requestTimeoutMs, DEFAULT_REQUEST_TIMEOUT_MS, 'requestTimeoutMs');
  const idleTimeoutMs = timeoutOption(limits.idleTimeoutMs, DEFAULT_IDLE_TIMEOUT_MS, 'idleTimeoutMs');
  const keepAliveTimeoutMs = timeoutOption(limits.keepAliveTimeoutMs, DEFAULT_KEEP_ALIVE_TIMEOUT_MS, 'keepAliveTimeoutMs');
  // 0 would keep idle keep-alive connections open for ever (and fastify reads 0 as "its default").
  if (keepAliveTimeoutMs === 0) throw new InvalidOptionError('keepAliveTimeoutMs must be more than 0');
  // node refuses a header timeout longer than the whole-request one.
  if (headersTimeoutMs > 0 && requestTimeoutMs > 0 && headersTimeoutMs > requestTimeoutMs) {
    throw new InvalidOptionError(`the header timeout (${headersTimeoutMs} ms) must not be longer than the request timeout (${requestTimeoutMs} ms)`);
  }
  const maxConnections = limits.maxConnections ?? defaultMaxConnections();
  if (!Number.isInteger(maxConnections) || maxConnections < 1) throw new InvalidOptionError(`maxConnections must be a positive integer, got ${limits.maxConnections}`);
  return { headersTimeoutMs, requestTimeoutMs, idleTimeoutMs, keepAliveTimeoutMs, maxConnections };
}

export interface IngressOptions extends IngressLimits {
  targets: IngressTargets;
  logger: Logger;
  metrics: Metrics;
  /** Largest request body accepted (413 beyond). */
  maxBodyBytes: number;
  /** True once shutdown began: new events get 503. */
  isDraining: () => boolean;
  /** Sees every batch a target accepted (the event inspector's tap); must be cheap and must not throw. */
  onAccepted?: (target: IngressTarget, events: readonly SluiceEvent[]) => void;
  /** Receive/publish spans, and the trace context stamped on events that come without one. */
  tracing?: Tracing;
  /** How parsed events enter a target; default: built from metrics, tracing and onAccepted (the server shares one with its in-process hops). */
  acceptEvents?: AcceptEvents;
}

const ALLOW = 'POST, OPTIONS';

/**
 * The public ingress: channels (`/channels/<ns>/<name>` or by Host), brokers
 * (`/<ns>/<broker>`), webhook sources (`/sources/<ns>/<name>`) and service routes.
 * One catch-all route with its own routing, so that Host-based channel addresses,
 * 405s for every method and 404s share one path and one error format.
 */
export function createIngressApp(options: IngressOptions): FastifyInstance {
  const { targets, metrics } = options;
  const tracing = options.tracing ?? TRACING_OFF;
  const acceptEvents = options.acceptEvents ?? createAcceptEvents({ metrics, tracing, onAccepted: options.onAccepted });
  const limits = resolveIngressLimits(options);
  // node checks header and request deadlines on a timer (30 s by default): tie it to the
  // shortest deadline so that a 10 s header timeout means 10 s, not up to 40.
  const deadlines = [limits.headersTimeoutMs, limits.requestTimeoutMs].filter((t) => t > 0);
  const checkEveryMs = deadlines.length ? Math.min(1000, Math.max(25, Math.floor(Math.min(...deadlines) / 4))) : 30_000;
  // Closing: every request takes the slow path, where fastify answers 503.
  let closing = false;
  const fastPath = createEventFastPath({
    targets,
    acceptEvents,
    logger: options.logger,
    maxBodyBytes: options.maxBodyBytes,
    isDraining: () => closing || options.isDraining(),
  });
  const app = Fastify({
    // Typed as fastify's base logger so the app has the default FastifyInstance type.
    loggerInstance: options.logger.child({ component: 'ingress' }) as FastifyBaseLogger,
    // Per-request logs would cost more than the event path itself.
    logController: new LogController({ disableRequestLogging: true }),
    // No child logger per request either: nothing logs per request, and errors are logged with their target.
    childLoggerFactory: (logger) => logger,
    bodyLimit: options.maxBodyBytes,
    return503OnClosing: true,
    // A path that does not percent-decode (`/%`) is refused by the router before any
    // route runs: answer it in the same JSON shape as every other error.
    frameworkErrors: (err, _req, reply) => sendError(reply, err),
    clientErrorHandler: (err, socket) => answerClientError(err, socket, limits, options.logger),
    // node's server with the events' fast path in front of fastify's handler (see createEventFastPath).
    serverFactory: (handler) => {
      const server = createServer({ headersTimeout: limits.headersTimeoutMs, requestTimeout: limits.requestTimeoutMs, connectionsCheckingInterval: checkEveryMs });
      // Beyond the cap node closes new connections as they are accepted.
      // At the cap the slowest connection makes room, so slow clients cannot lock normal ones out.
      const governed = governConnections(server, limits.maxConnections);
      // The only 'request' listener: the governor first, then the fast path or fastify.
      server.on('request', (req: IncomingMessage, res: ServerResponse) => {
        governed(req, res);
        if (!fastPath(req, res)) handler(req, res);
      });
      // What fastify would set on a server it made itself. Keep-alive clients (load generators, SDK emitters) reuse connections.
      server.keepAliveTimeout = limits.keepAliveTimeoutMs;
      server.requestTimeout = limits.requestTimeoutMs;
      server.setTimeout(limits.idleTimeoutMs);
      return server;
    },
  });
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });

  // The built-in JSON parser would re-serialise bodies; events are kept as the bytes received.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.setErrorHandler((err, req, reply) => {
    const code = (err as { code?: string }).code;
    if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return sendError(reply, new PayloadTooLargeError(`request body is larger than the limit of ${options.maxBodyBytes} bytes`));
    }
    if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      const ct = JSON.stringify(req.headers['content-type'] ?? '');
      return sendError(reply, new UnsupportedMediaTypeError(`Content-Type ${ct} is not a media type (type/subtype, e.g. application/json)`));
    }
    if (httpStatusOf(err) >= 500) options.logger.error({ err }, 'ingress request failed');
    return sendError(reply, err);
  });

  /**
   * The per-address bearer token (annotation sluice.dev/ingress-token-secret on the
   * address's resource), checked before anything else is said about the target: the 401
   * answer when refused, else undefined.
   */
  function refused(owner: AddressOwner, what: string, req: FastifyRequest, reply: FastifyReply) {
    const denied = targets.authorize?.(owner, req.headers);
    if (!denied) return undefined;
    reply.header('WWW-Authenticate', 'Bearer');
    return sendError(reply, new UnauthorizedError(`${what}: ${denied}`));
  }

  // An address served by its own handler (an EventTransform) takes one event per request:
  // a 2xx answer counts it received, anything else rejected, as for every other address.
  const handledTallies = new WeakMap<object, Tally>();
  function countHandled(handler: object, owner: AddressOwner, status: number): void {
    if (status >= 200 && status < 300) {
      let t = handledTallies.get(handler);
      if (!t) handledTallies.set(handler, (t = metrics.tally(metrics.eventsReceived, { namespace_name: owner.namespace, resource: owner.name, kind: owner.kind })));
      t.inc(1);
      return;
    }
    metrics.eventsRejected.inc({ namespace_name: owner.namespace, resource: owner.name, response_code: String(status), response_code_class: responseCodeClass(status) });
  }

  async function handleTarget(target: IngressTarget | undefined, what: string, req: FastifyRequest, reply: FastifyReply) {
    if (req.method === 'OPTIONS') return handshake(req, reply);
    if (req.method !== 'POST') {
      reply.header('Allow', ALLOW);
      return sendError(reply, new MethodNotAllowedError(`method ${req.method} is not allowed; send events with POST`));
    }
    if (!target) return sendError(reply, new NotFoundError(`${what} not found`));
    const denied = refused(target.owner ?? target, what, req, reply);
    if (denied) return denied;
    if (options.isDraining()) return sendError(reply, new UnavailableError('sluice is shutting down'));
    const notReady = target.notReadyReason();
    if (notReady) return sendError(reply, new NotReadyError(`${what} is not ready: ${notReady}`));
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    try {
      // Parsed inside the receive span, so an unparsable request is traced and counted too.
      await acceptEvents(target, () => parseHttpEvents(req.headers, body).events, req.headers);
      return reply.code(202).send();
    } catch (err) {
      logUnexpectedAcceptError(options.logger, err, target);
      return sendError(reply, err);
    }
  }

  app.route({
    method: ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'],
    url: '/*',
    handler: async (req, reply) => {
      const found = eventTargetOf(targets, req.headers.host, req.url);
      if (found) return handleTarget(found.target, found.what, req, reply);
      const q = req.url.indexOf('?');
      const path = q === -1 ? req.url : req.url.slice(0, q);
      const parts = segments(path);
      if (parts[0] === 'sources' && parts.length === 3) {
        return handleWebhook(nsKey(parts[1]!, parts[2]!), req, reply);
      }
      if (parts[0] === 'services' && parts.length >= 3) {
        const key = nsKey(parts[1]!, parts[2]!);
        const route = targets.services.get(key);
        if (!route) return sendError(reply, new NotFoundError(`service ${key} not found`));
        // A scale-from-zero may hold this request longer than the idle timeout; the Service's queue and request timeouts bound it.
        req.raw.socket.setTimeout(0);
        return route(req, reply, '/' + parts.slice(3).join('/') + (q === -1 ? '' : req.url.slice(q)));
      }
      if (targets.paths.size) {
        const extra = targets.paths.get(parts.join('/'));
        if (typeof extra === 'function') {
          // Such handlers answer the request themselves; the address's token and a draining broker still apply.
          const owner = extra.owner;
          const denied = owner && refused(owner, `${owner.kind} ${nsKey(owner.namespace, owner.name)}`, req, reply);
          if (denied) return denied;
          if (options.isDraining()) return sendError(reply, new UnavailableError('sluice is shutting down'));
          await extra(req, reply, q === -1 ? '' : req.url.slice(q));
          if (owner) countHandled(extra, owner, reply.statusCode);
          return reply;
        }
        if (extra) return handleTarget(extra, `${extra.kind} ${nsKey(extra.namespace, extra.name)}`, req, reply);
      }
      return sendError(reply, new NotFoundError(`no channel, broker or source at ${path}`));
    },
  });

  async function handleWebhook(key: string, req: FastifyRequest, reply: FastifyReply) {
    const source = targets.webhooks.get(key);
    if (!source) return sendError(reply, new NotFoundError(`source ${key} not found`));
    if (req.method !== 'POST') {
      reply.header('Allow', 'POST');
      return sendError(reply, new MethodNotAllowedError(`method ${req.method} is not allowed on a webhook source`));
    }
    if (options.isDraining()) return sendError(reply, new UnavailableError('sluice is shutting down'));
    const res = await source.handleRequest({
      method: req.method,
      headers: req.headers,
      body: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0),
    });
    return reply.code(res.statusCode).send(res.body);
  }

  return app;
}

/**
 * Errors node raises before a request reaches fastify: a deadline missed (408), headers
 * too large (431), bytes that are not HTTP (400). Answered in Sluice's error shape, then
 * the connection is closed, as node and fastify do.
 */
function answerClientError(err: Error & { code?: string }, socket: Duplex, limits: Required<IngressLimits>, logger: Logger): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const answer =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? new RequestTimeoutError(`the request was not received in time (headers within ${limits.headersTimeoutMs} ms, the whole request within ${limits.requestTimeoutMs} ms)`)
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? new HeadersTooLargeError('the request headers are larger than the server accepts')
        : new MalformedRequestError(`malformed HTTP request${err.code ? ` (${err.code})` : ''}`);
  logger.debug({ err, status: answer.statusCode }, 'ingress client error');
  const text = JSON.stringify({ error: answer.message, reason: answer.reason });
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${answer.statusCode} ${STATUS_CODES[answer.statusCode]}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`);
  }
  socket.destroy(err);
}

/** CloudEvents webhook spec abuse-protection handshake, plus Knative's `Allow`. */
function handshake(req: FastifyRequest, reply: FastifyReply) {
  reply.header('Allow', ALLOW);
  const origin = req.headers['webhook-request-origin'];
  if (typeof origin === 'string' && origin) {
    reply.header('WebHook-Allowed-Origin', origin);
    reply.header('WebHook-Allowed-Rate', '*');
  }
  return reply.code(200).send();
}
