import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { TooManyStreamsError } from '../errors.js';
import type { SluiceEvent } from '../events/types.js';
import { streamedEvent, type TappedKind } from './event-view.js';
import { SseClient, type StreamFilter } from './sse-client.js';

export interface LiveStreamOptions {
  logger: Logger;
  /** Comment frames keep proxies and idle timeouts from closing quiet streams (default 15 s). */
  heartbeatMs?: number;
  /** Unsent bytes a client may fall behind by before it is dropped (default 1 MiB). */
  maxBufferedBytes?: number;
  /** Concurrent streams; one more gets 429 (default 100). */
  maxClients?: number;
}

const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  connection: 'keep-alive',
  // Reverse proxies (nginx) would otherwise buffer the stream.
  'x-accel-buffering': 'no',
};

/**
 * Fans accepted events out to live-tail clients over server-sent events. With no client
 * connected, `publish` is one size check: the ingress pays nothing for the feature.
 */
export class LiveStream {
  readonly #clients = new Set<SseClient>();
  readonly #log: Logger;
  readonly #heartbeatMs: number;
  readonly #maxBufferedBytes: number;
  readonly #maxClients: number;
  #heartbeat: NodeJS.Timeout | undefined;
  /** Clients dropped for falling behind, for the admin page and tests. */
  dropped = 0;

  constructor(options: LiveStreamOptions) {
    this.#log = options.logger;
    this.#heartbeatMs = options.heartbeatMs ?? 15_000;
    this.#maxBufferedBytes = options.maxBufferedBytes ?? 1024 * 1024;
    this.#maxClients = options.maxClients ?? 100;
  }

  get clientCount(): number {
    return this.#clients.size;
  }

  get maxClients(): number {
    return this.#maxClients;
  }

  /** True when one more client would be refused. */
  get full(): boolean {
    return this.#clients.size >= this.#maxClients;
  }

  /** Takes over `res` as an event stream; throws TooManyStreamsError (before writing anything) when full. */
  attach(res: ServerResponse, filter: StreamFilter): SseClient {
    if (this.#clients.size >= this.#maxClients) throw new TooManyStreamsError(`the inspector already serves ${this.#maxClients} live streams; close one and retry`);
    res.writeHead(200, SSE_HEADERS);
    // The client reconnects after 2 s if the stream breaks; the opening comment flushes the headers.
    res.write('retry: 2000\n: connected\n\n');
    const client = new SseClient(res, filter, this.#maxBufferedBytes, (c, reason) => this.#remove(c, reason));
    this.#clients.add(client);
    this.#heartbeat ??= setInterval(() => this.#beat(), this.#heartbeatMs).unref();
    return client;
  }

  /** Sends every event to the clients whose filter matches; each frame is serialised once. */
  publish(kind: TappedKind, namespace: string, name: string, events: readonly SluiceEvent[], time: string): void {
    if (this.#clients.size === 0) return;
    let matching: SseClient[] | undefined;
    for (const c of this.#clients) if (c.matches(kind, namespace, name)) (matching ??= []).push(c);
    if (!matching) return;
    for (const e of events) {
      const frame = `data: ${JSON.stringify(streamedEvent(kind, namespace, name, e, time))}\n\n`;
      for (const c of matching) c.write(frame);
    }
  }

  /** Ends every stream (admin server shutdown: open streams would hold its close forever). */
  closeAll(): void {
    for (const c of [...this.#clients]) c.end();
  }

  #beat(): void {
    const frame = `: heartbeat ${new Date().toISOString()}\n\n`;
    for (const c of [...this.#clients]) c.write(frame);
  }

  #remove(client: SseClient, reason: 'closed' | 'slow'): void {
    this.#clients.delete(client);
    if (reason === 'slow') {
      this.dropped++;
      this.#log.warn({ filter: client.filter, maxBufferedBytes: this.#maxBufferedBytes }, 'live-tail client dropped: it fell behind');
    }
    if (this.#clients.size === 0 && this.#heartbeat) {
      clearInterval(this.#heartbeat);
      this.#heartbeat = undefined;
    }
  }
}
