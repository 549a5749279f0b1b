import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request as a sink received it. */
export interface ReceivedRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
  receivedAt: number;
}

export type SinkResponder = (req: ReceivedRequest, res: ServerResponse) => void | Promise<void>;

/**
 * A real HTTP server on loopback that records every request and answers with the
 * responder (202 by default). Tests await `waitFor(n)` instead of sleeping.
 */
export class RecordingSink {
  readonly requests: ReceivedRequest[] = [];
  #server: Server;
  #responder: SinkResponder;
  #waiters: Array<{ n: number; resolve: () => void }> = [];
  url = '';

  constructor(responder?: SinkResponder) {
    this.#responder = responder ?? ((_req, res) => { res.statusCode = 202; res.end(); });
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const r: ReceivedRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks), receivedAt: Date.now() };
        this.requests.push(r);
        this.#waiters = this.#waiters.filter((w) => (this.requests.length >= w.n ? (w.resolve(), false) : true));
        Promise.resolve(this.#responder(r, res)).catch(() => { res.statusCode = 500; res.end(); });
      });
    });
  }

  setResponder(responder: SinkResponder): void {
    this.#responder = responder;
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/`;
    return this;
  }

  /** Resolves once at least `n` requests arrived; rejects after `timeoutMs`. */
  waitFor(n: number, timeoutMs = 5000): Promise<void> {
    if (this.requests.length >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`sink got ${this.requests.length} of ${n} requests within ${timeoutMs} ms`)), timeoutMs);
      this.#waiters.push({ n, resolve: () => { clearTimeout(t); resolve(); } });
    });
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

export async function startSink(responder?: SinkResponder): Promise<RecordingSink> {
  return new RecordingSink(responder).start();
}
