import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Agent, request } from 'undici';
import { SluiceError, httpStatusOf } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { EndpointResolver } from './service-activator.js';

// Headers that belong to one connection, not to the request (RFC 9110 §7.6.1), plus
// those undici or fastify set again themselves.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host', 'content-length']);

export interface ServiceProxyOptions {
  logger: Logger;
  /** Per-request timeout once a replica is granted (the Service's `timeoutSeconds`, default 300 s). */
  requestTimeoutMs?: number;
  /** Shared connection pool; one is created (and closed by `close()`) when omitted. */
  agent?: Agent;
}

export interface ServiceProxy {
  /** Fastify handler for `/services/<ns>/<name>/<rest>`; `rest` is the path below the service. */
  handle(request: FastifyRequest, reply: FastifyReply, rest: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * Forwards plain HTTP requests (method, path, query, headers, body) to a replica chosen
 * through `resolver.acquire`, which holds the request while the service wakes. The
 * replica's slot is released when its response body has been passed on (or fails).
 * Answers: the replica's response; 503 from the activator (queue full, timeout); 502
 * when the replica breaks the connection (e.g. it crashed mid-request).
 */
export function createServiceProxy(resolver: EndpointResolver, options: ServiceProxyOptions): ServiceProxy {
  const ownAgent = options.agent === undefined;
  const agent = options.agent ?? new Agent({ keepAliveTimeout: 4_000, connections: 256 });
  const timeout = options.requestTimeoutMs ?? 300_000;
  const log = options.logger;

  async function handle(req: FastifyRequest, reply: FastifyReply, rest: string): Promise<void> {
    const aborted = new AbortController();
    // The response's 'close' before it finished means the client went away (the
    // request's own 'close' fires as soon as its body has been read, so it cannot tell).
    const onClose = () => {
      if (!reply.raw.writableFinished) aborted.abort(new Error('client went away'));
    };
    reply.raw.once('close', onClose);
    let lease;
    try {
      lease = await resolver.acquire(aborted.signal);
    } catch (err) {
      reply.raw.off('close', onClose);
      if (aborted.signal.aborted) return;
      return sendError(reply, err);
    }
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      reply.raw.off('close', onClose);
      lease.release();
    };
    try {
      const query = rest.includes('?') ? '' : queryOf(req.raw.url);
      const target = new URL(rest.replace(/^\/+/, '') + query, lease.url);
      const body = hasBody(req.method) ? toBody(req.body) : undefined;
      const res = await request(target, {
        method: req.method as 'GET',
        headers: forwardHeaders(req.headers, req),
        ...(body !== undefined ? { body } : {}),
        dispatcher: agent,
        headersTimeout: timeout,
        bodyTimeout: timeout,
        signal: aborted.signal,
      });
      res.body.once('close', release);
      res.body.once('error', release);
      reply.code(res.statusCode);
      for (const [k, v] of Object.entries(res.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) reply.header(k, v);
      await reply.send(res.body);
    } catch (err) {
      release();
      if (aborted.signal.aborted) return;
      log.warn({ err: (err as Error).message, url: lease.url }, 'service replica failed the request');
      return sendError(reply, err instanceof SluiceError ? err : Object.assign(new Error(`replica failed: ${(err as Error).message}`), { statusCode: 502 }));
    }
  }

  return {
    handle,
    async close() {
      if (ownAgent) await agent.close();
    },
  };
}

function sendError(reply: FastifyReply, err: unknown): void {
  const status = httpStatusOf(err);
  const reason = err instanceof SluiceError ? err.reason : 'SLUICE_ERR_BAD_GATEWAY';
  if (status === 503) reply.header('retry-after', '1');
  void reply.code(status).type('application/json').send({ error: (err as Error).message, reason });
}

function hasBody(method: string): boolean {
  return method !== 'GET' && method !== 'HEAD';
}

function toBody(body: unknown): Buffer | string | undefined {
  if (body === undefined || body === null) return undefined;
  if (Buffer.isBuffer(body) || typeof body === 'string') return body;
  // A JSON body parsed by a fastify parser the route did not replace.
  return JSON.stringify(body);
}

function queryOf(url: string | undefined): string {
  const i = url?.indexOf('?') ?? -1;
  return i >= 0 ? url!.slice(i) : '';
}

function forwardHeaders(headers: IncomingHttpHeaders, req: FastifyRequest): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
  const prior = headers['x-forwarded-for'];
  out['x-forwarded-for'] = prior ? `${String(prior)}, ${req.ip}` : req.ip;
  if (headers.host) out['x-forwarded-host'] = headers.host;
  out['x-forwarded-proto'] = req.protocol;
  return out;
}
