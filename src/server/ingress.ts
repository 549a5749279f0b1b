import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { parseHttpEvents } from '../events/index.js';
import type { SluiceEvent } from '../events/types.js';
import { isInternalHop } from './ingress-auth.js';
import { MethodNotAllowedError, NotFoundError, NotReadyError, PayloadTooLargeError, UnauthorizedError, UnavailableError, httpStatusOf } from '../errors.js';
import { responseCodeClass, type Metrics } from '../observability/metrics.js';
import { TRACING_OFF, type Tracing } from '../observability/tracing.js';
import { sendError } from './reply-error.js';
import { IngressTargets, type IngressTarget } from './targets.js';

export interface IngressOptions {
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
}

// Knative addresses a channel by Host: `<name>-kn-channel.<namespace>.svc.cluster.local`.
const CHANNEL_HOST = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)-kn-channel\.([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.svc(?:\.cluster\.local)?\.?(?::\d+)?$/;
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
  const app = Fastify({
    // Typed as fastify's base logger so the app has the default FastifyInstance type.
    loggerInstance: options.logger.child({ component: 'ingress' }) as FastifyBaseLogger,
    // Per-request logs would cost more than the event path itself.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.maxBodyBytes,
    // Keep-alive clients (load generators, SDK emitters) reuse connections.
    keepAliveTimeout: 65_000,
    return503OnClosing: true,
  });

  // The built-in JSON parser would re-serialise bodies; events are kept as the bytes received.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.setErrorHandler((err, _req, reply) => {
    const code = (err as { code?: string }).code;
    if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return sendError(reply, new PayloadTooLargeError(`request body is larger than the limit of ${options.maxBodyBytes} bytes`));
    }
    if (httpStatusOf(err) >= 500) options.logger.error({ err }, 'ingress request failed');
    return sendError(reply, err);
  });

  async function handleTarget(target: IngressTarget | undefined, what: string, req: FastifyRequest, reply: FastifyReply) {
    if (req.method === 'OPTIONS') return handshake(req, reply);
    if (req.method !== 'POST') {
      reply.header('Allow', ALLOW);
      return sendError(reply, new MethodNotAllowedError(`method ${req.method} is not allowed; send events with POST`));
    }
    if (!target) return sendError(reply, new NotFoundError(`${what} not found`));
    // Per-address bearer token (annotation sluice.dev/ingress-token-secret), before anything else is said about the target.
    const denied = targets.authorize && !isInternalHop(req.headers, targets.internalToken) ? targets.authorize(target, req.headers) : undefined;
    if (denied) {
      reply.header('WWW-Authenticate', 'Bearer');
      return sendError(reply, new UnauthorizedError(`${what}: ${denied}`));
    }
    if (options.isDraining()) return sendError(reply, new UnavailableError('sluice is shutting down'));
    const notReady = target.notReadyReason();
    if (notReady) return sendError(reply, new NotReadyError(`${what} is not ready: ${notReady}`));
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const span = tracing.startReceive(target, req.headers);
    try {
      // Events without the distributed-tracing extension get one here: the trace they start.
      const events = span.stamp(parseHttpEvents(req.headers, body).events);
      await span.publish(() => target.accept(events));
      if (events.length) metrics.eventsReceived.inc({ namespace_name: target.namespace, resource: target.name, kind: target.kind }, events.length);
      options.onAccepted?.(target, events);
      span.end(202);
      return reply.code(202).send();
    } catch (err) {
      const status = httpStatusOf(err);
      span.end(status, err);
      metrics.eventsRejected.inc({ namespace_name: target.namespace, resource: target.name, response_code: String(status), response_code_class: responseCodeClass(status) });
      return sendError(reply, err);
    }
  }

  app.route({
    method: ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'],
    url: '/*',
    handler: async (req, reply) => {
      const host = req.headers.host;
      const hm = host ? CHANNEL_HOST.exec(host.toLowerCase()) : null;
      if (hm) {
        const ns = hm[3]!;
        const name = hm[1]!;
        return handleTarget(targets.channels.get(IngressTargets.key(ns, name)), `channel ${ns}/${name}`, req, reply);
      }
      const q = req.url.indexOf('?');
      const path = q === -1 ? req.url : req.url.slice(0, q);
      const parts = path.split('/').filter((p) => p.length > 0).map(safeDecode);
      if (parts[0] === 'channels' && parts.length === 3) {
        const key = IngressTargets.key(parts[1]!, parts[2]!);
        return handleTarget(targets.channels.get(key), `channel ${key}`, req, reply);
      }
      if (parts[0] === 'display' && parts.length === 3) {
        const key = IngressTargets.key(parts[1]!, parts[2]!);
        return handleTarget(targets.displays.get(key), `event display ${key}`, req, reply);
      }
      if (parts[0] === 'sources' && parts.length === 3) {
        return handleWebhook(IngressTargets.key(parts[1]!, parts[2]!), req, reply);
      }
      if (parts[0] === 'services' && parts.length >= 3) {
        const key = IngressTargets.key(parts[1]!, parts[2]!);
        const route = targets.services.get(key);
        if (!route) return sendError(reply, new NotFoundError(`service ${key} not found`));
        return route(req, reply, '/' + parts.slice(3).join('/') + (q === -1 ? '' : req.url.slice(q)));
      }
      if (parts.length === 2) {
        const key = IngressTargets.key(parts[0]!, parts[1]!);
        return handleTarget(targets.brokers.get(key), `broker ${key}`, req, reply);
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

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
