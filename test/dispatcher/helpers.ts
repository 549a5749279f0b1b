import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { pino, type Logger } from 'pino';
import type { Counter } from 'prom-client';
import type { DeliveryHandler, DeliveryResult } from '../../src/channels/channel.js';
import type { SluiceEvent } from '../../src/events/types.js';
import { Metrics } from '../../src/observability/metrics.js';
import type { AttemptInfo, DeliveryObserver, OutcomeInfo } from '../../src/dispatcher/index.js';

/** A pino logger that keeps every line as an object. */
export function recordingLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { logger, lines };
}

export const LEVEL = { debug: 20, info: 30, warn: 40, error: 50 } as const;

export function recordingObserver(): DeliveryObserver & { attempts: AttemptInfo[]; outcomes: OutcomeInfo[] } {
  const attempts: AttemptInfo[] = [];
  const outcomes: OutcomeInfo[] = [];
  return { attempts, outcomes, onAttempt: (i) => void attempts.push(i), onOutcome: (i) => void outcomes.push(i) };
}

/** Sum of a counter's values whose labels include `labels`. */
export async function count(counter: Counter<string>, labels: Record<string, string> = {}): Promise<number> {
  const { values } = await counter.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))
    .reduce((n, v) => n + v.value, 0);
}

export function newMetrics(): Metrics {
  return new Metrics();
}

let seq = 0;
export function event(extra: Partial<Record<string, string>> = {}, data?: Buffer): SluiceEvent {
  const attributes: Record<string, string> = {
    specversion: '1.0',
    id: `evt-${++seq}`,
    source: '/test/dispatcher',
    type: 'dev.sluice.test',
    ...(data ? { datacontenttype: 'application/json' } : {}),
  };
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) attributes[k] = v;
  return { attributes, data };
}

/**
 * What a channel does, in miniature: call the handler, wait what it asks, call again
 * with the next attempt number, until it says done (or `maxCalls`, so a bug cannot hang the test).
 */
export async function runLikeChannel(
  handler: DeliveryHandler,
  ev: SluiceEvent,
  maxCalls = 50,
): Promise<{ results: DeliveryResult[]; calls: number }> {
  const results: DeliveryResult[] = [];
  for (let attempt = 1; attempt <= maxCalls; attempt++) {
    const r = await handler(ev, { attempt });
    results.push(r);
    if (r.outcome === 'done') return { results, calls: attempt };
    await new Promise((res) => setTimeout(res, r.delayMs));
  }
  throw new Error(`handler still asked for a retry after ${maxCalls} calls`);
}

/** A raw TCP server for misbehaving subscribers; `onSocket` decides what (not) to answer. */
export class RawServer {
  readonly sockets = new Set<Socket>();
  #server: Server;
  url = '';
  constructor(onSocket: (socket: Socket) => void) {
    this.#server = createServer((socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => {});
      onSocket(socket);
    });
  }
  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/`;
    return this;
  }
  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/** A port nothing listens on (bound, then released). */
export async function closedPortUrl(): Promise<string> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return `http://127.0.0.1:${port}/`;
}
