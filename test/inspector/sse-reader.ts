import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import type { StreamedEvent } from '../../src/inspector/index.js';
import { waitUntil } from '../helpers/sluice.js';

/** A real HTTP client reading a server-sent-events stream frame by frame. */
export class SseReader {
  readonly events: StreamedEvent[] = [];
  readonly comments: string[] = [];
  statusCode = 0;
  headers: IncomingMessage['headers'] = {};
  ended = false;
  #req: ClientRequest | undefined;
  #buffer = '';

  static async open(url: string, headers: Record<string, string> = {}): Promise<SseReader> {
    const r = new SseReader();
    await r.#open(url, headers);
    return r;
  }

  #open(url: string, headers: Record<string, string>): Promise<void> {
    return new Promise((resolve, reject) => {
      const req = request(url, { headers: { accept: 'text/event-stream', ...headers }, agent: false }, (res) => {
        this.statusCode = res.statusCode ?? 0;
        this.headers = res.headers;
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => this.#feed(chunk));
        res.on('end', () => (this.ended = true));
        res.on('close', () => (this.ended = true));
        res.on('error', () => (this.ended = true));
        resolve();
      });
      req.on('error', (err) => (this.statusCode ? (this.ended = true) : reject(err)));
      req.end();
      this.#req = req;
    });
  }

  #feed(chunk: string): void {
    this.#buffer += chunk;
    let i: number;
    while ((i = this.#buffer.indexOf('\n\n')) !== -1) {
      const frame = this.#buffer.slice(0, i);
      this.#buffer = this.#buffer.slice(i + 2);
      for (const line of frame.split('\n')) {
        if (line.startsWith('data: ')) this.events.push(JSON.parse(line.slice(6)) as StreamedEvent);
        else if (line.startsWith(':')) this.comments.push(line.slice(1).trim());
      }
    }
  }

  /** The raw body when the server answered with an error instead of a stream. */
  get rawText(): string {
    return this.#buffer;
  }

  async waitForEvents(n: number, timeoutMs = 5000): Promise<void> {
    await waitUntil(() => this.events.length >= n, timeoutMs, `${n} streamed events (got ${this.events.length})`);
  }

  close(): void {
    this.#req?.destroy();
  }
}
