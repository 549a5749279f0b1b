import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { InvalidEventError, MethodNotAllowedError, NotReadyError, SluiceError } from '../errors.js';
import { parseHttpEvents, parseHttpResponseEvent, toBinaryHttp, type SluiceEvent } from '../events/index.js';
import type { Dispatcher, EndpointLease, SendResult } from '../dispatcher/index.js';
import type { ResolvedDestination } from '../runtime/addressing.js';
import { sendError } from '../server/reply-error.js';
import type { JsonataTransform } from './jsonata-expression.js';

/** The sink did not take the transformed event: its status is mirrored so the caller retries what Knative retries. */
export class TransformSinkError extends SluiceError {
  readonly code = 'SLUICE_ERR_TRANSFORM_SINK';
  override readonly statusCode: number;
  constructor(message: string, statusCode: number, options?: { cause?: unknown }) {
    super(message, options);
    this.statusCode = statusCode;
  }
}

/** A sink's reply kept for the reply transform; a larger one fails the request (502). */
export const MAX_SINK_REPLY_BYTES = 4 * 1024 * 1024;
const SINK_TIMEOUT_MS = 30_000;

/** What an EventTransform does with the sink's answer. */
export type ReplyMode = { kind: 'pass' } | { kind: 'discard' } | { kind: 'transform'; transform: JsonataTransform };

export interface TransformConfig {
  readonly transform: JsonataTransform;
  /** Undefined without `spec.sink`: the transformed event is the response. */
  readonly sink?: ResolvedDestination | undefined;
  readonly reply: ReplyMode;
  /** Why the transform cannot run (its sink does not resolve): answered 503. */
  readonly notReady?: string | undefined;
}

/**
 * The public address of one EventTransform (`/transforms/<ns>/<name>`): reads one
 * CloudEvent (binary or structured), applies the expression, then answers the transformed
 * event itself (200, binary mode) or sends it to the sink and answers what came back.
 */
export class TransformEndpoint {
  #config: TransformConfig;

  constructor(
    readonly namespace: string,
    readonly name: string,
    config: TransformConfig,
    readonly dispatcher: Pick<Dispatcher, 'send'>,
    readonly logger: Logger,
  ) {
    this.#config = config;
  }

  get config(): TransformConfig {
    return this.#config;
  }

  /** Swaps in a new configuration; requests in flight finish with the one they started with. */
  configure(config: TransformConfig): void {
    this.#config = config;
  }

  readonly handle = async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const config = this.#config;
    try {
      if (req.method !== 'POST') {
        reply.header('allow', 'POST');
        throw new MethodNotAllowedError(`method ${req.method} is not allowed on EventTransform ${this.namespace}/${this.name}: POST a CloudEvent`);
      }
      if (config.notReady) throw new NotReadyError(`EventTransform ${this.namespace}/${this.name} is not ready: ${config.notReady}`);
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const parsed = parseHttpEvents(req.headers, body);
      if (parsed.mode === 'batch') throw new InvalidEventError('an EventTransform takes one event per request: batch mode is not supported');
      const out = await config.transform.apply(parsed.events[0]!);
      if (!config.sink) return sendEvent(reply, out);
      const answer = await this.#toSink(config, out);
      if (!answer) {
        reply.code(202).send();
        return;
      }
      return sendEvent(reply, answer);
    } catch (err) {
      if (!(err instanceof SluiceError)) this.logger.error({ err, transform: `${this.namespace}/${this.name}` }, 'transform failed');
      else if (err.statusCode >= 500 || err.code === 'SLUICE_ERR_TRANSFORM_FAILED') this.logger.warn({ err: err.message, transform: `${this.namespace}/${this.name}` }, 'transform failed');
      sendError(reply, err);
    }
  };

  /** Sends the event to the sink once (the caller owns retries); resolves with the event to answer, if any. */
  async #toSink(config: TransformConfig, event: SluiceEvent): Promise<SluiceEvent | undefined> {
    const sink = config.sink!;
    const keep = config.reply.kind === 'discard' ? 0 : MAX_SINK_REPLY_BYTES;
    const r = await this.#send(sink, event, keep);
    if (!r.ok) {
      const what = r.statusCode === undefined ? `could not be reached${r.error ? `: ${r.error.message}` : ''}` : `answered ${r.statusCode}${hint(r.body)}`;
      const status = r.statusCode !== undefined && r.statusCode >= 400 ? r.statusCode : 502;
      throw new TransformSinkError(`sink ${sink.url} ${what}`, status, { cause: r.error });
    }
    if (config.reply.kind === 'discard') return undefined;
    if (r.bodyTruncated) throw new TransformSinkError(`the reply of sink ${sink.url} is larger than ${MAX_SINK_REPLY_BYTES} bytes`, 502);
    let replyEvent: SluiceEvent | undefined;
    try {
      replyEvent = parseHttpResponseEvent(r.statusCode!, r.headers, r.body);
    } catch (err) {
      throw new TransformSinkError(`sink ${sink.url} replied with an invalid CloudEvent: ${(err as Error).message}`, 502, { cause: err });
    }
    if (!replyEvent || config.reply.kind === 'pass') return replyEvent;
    return config.reply.transform.apply(replyEvent);
  }

  async #send(sink: ResolvedDestination, event: SluiceEvent, maxBodyBytes: number): Promise<SendResult> {
    let lease: EndpointLease | undefined;
    let url = sink.url;
    if (sink.endpoint) {
      // A sink behind the activator (a scaled-to-zero Service) is woken first.
      try {
        lease = await sink.endpoint.acquire(AbortSignal.timeout(SINK_TIMEOUT_MS));
        url = lease.url;
      } catch (err) {
        return { ok: false, statusCode: 503, headers: {}, body: Buffer.alloc(0), bodyTruncated: false, error: err as Error, durationMs: 0 };
      }
    }
    try {
      return await this.dispatcher.send(url, event, { maxBodyBytes, timeoutMs: SINK_TIMEOUT_MS });
    } finally {
      lease?.release();
    }
  }
}

function sendEvent(reply: FastifyReply, event: SluiceEvent): FastifyReply {
  const http = toBinaryHttp(event);
  return reply.code(200).headers(http.headers).send(http.body ?? '');
}

function hint(body: Buffer): string {
  const text = body.toString('utf8').trim();
  return text ? `: ${text.slice(0, 200)}` : '';
}
