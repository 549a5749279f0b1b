import type { ServerResponse } from 'node:http';

/** Which events a live-tail client asked for; an unset field matches everything. */
export interface StreamFilter {
  kind?: string | undefined;
  namespace?: string | undefined;
  name?: string | undefined;
}

/**
 * One server-sent-events connection. Writes never wait: Node buffers what the socket
 * cannot take yet, and once that buffer passes `maxBufferedBytes` the client is
 * dropped, so a reader that stalls costs bounded memory and never slows the ingress.
 */
export class SseClient {
  readonly filter: StreamFilter;
  #res: ServerResponse;
  #maxBufferedBytes: number;
  #onGone: (client: SseClient, reason: 'closed' | 'slow') => void;
  #open = true;

  constructor(res: ServerResponse, filter: StreamFilter, maxBufferedBytes: number, onGone: (client: SseClient, reason: 'closed' | 'slow') => void) {
    this.#res = res;
    this.filter = filter;
    this.#maxBufferedBytes = maxBufferedBytes;
    this.#onGone = onGone;
    res.on('close', () => this.#gone('closed'));
    // A reset connection emits 'error' on the response; 'close' follows and cleans up.
    res.on('error', () => {});
  }

  get open(): boolean {
    return this.#open;
  }

  matches(kind: string, namespace: string, name: string): boolean {
    const f = this.filter;
    return (f.kind === undefined || f.kind === kind) && (f.namespace === undefined || f.namespace === namespace) && (f.name === undefined || f.name === name);
  }

  /**
   * Writes one SSE frame, unless the client has not taken what was sent before: when
   * its unsent backlog is over the limit, it is dropped instead. Memory per client is
   * thus bounded by the limit plus one frame, whatever the size of one event.
   */
  write(frame: string): void {
    if (!this.#open) return;
    if (this.#res.writableLength > this.#maxBufferedBytes) {
      this.#gone('slow');
      this.#res.destroy();
      return;
    }
    this.#res.write(frame);
  }

  /** Ends the stream cleanly (server shutdown). */
  end(): void {
    if (!this.#open) return;
    this.#gone('closed');
    this.#res.end();
  }

  #gone(reason: 'closed' | 'slow'): void {
    if (!this.#open) return;
    this.#open = false;
    this.#onGone(this, reason);
  }
}
