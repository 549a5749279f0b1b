import { readFileSync } from 'node:fs';
import { connect, credsAuthenticator, type ConnectionOptions, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { InvalidOptionError, UnavailableError } from '../../errors.js';
import type { Logger } from '../../observability/logger.js';

export interface NatsConnectionOptions {
  /** `nats://host:port`, or several for a cluster. */
  servers: string | string[];
  token?: string;
  user?: string;
  pass?: string;
  /** A NATS `.creds` file (JWT + nkey seed). */
  credsFile?: string;
  /** `true` for TLS with the system CAs, or files for a private CA / client certificate. */
  tls?: boolean | { caFile?: string; certFile?: string; keyFile?: string };
  /** Client name shown by the server (`nats server report connections`). */
  name?: string;
  /** How long a publish waits for JetStream's ack before answering 503 (ms, default 5000). */
  publishTimeoutMs?: number;
  logger?: Logger;
}

export type ConnectionListener = (connected: boolean) => void;

/**
 * One NATS connection shared by every JetStream channel of a broker. It reconnects
 * forever (a broker outlives a NATS restart) and tells channels when it is up, so they
 * refuse publishes at once while it is down instead of letting the client buffer them.
 */
export class NatsConnectionManager {
  readonly publishTimeoutMs: number;
  #options: ConnectionOptions;
  #logger: Logger | undefined;
  #nc: NatsConnection | undefined;
  #js: JetStreamClient | undefined;
  #jsm: JetStreamManager | undefined;
  #connected = false;
  #closed = false;
  #connecting: Promise<void> | undefined;
  #listeners = new Set<ConnectionListener>();
  #waiters: Array<() => void> = [];

  constructor(options: NatsConnectionOptions) {
    const servers = Array.isArray(options.servers) ? options.servers : [options.servers];
    if (servers.length === 0 || servers.some((s) => typeof s !== 'string' || s.trim() === '')) {
      throw new InvalidOptionError('NATS servers must be one or more non-empty URLs');
    }
    if (options.token && (options.user || options.credsFile)) {
      throw new InvalidOptionError('NATS token cannot be combined with user/pass or a creds file');
    }
    if (options.pass && !options.user) throw new InvalidOptionError('NATS pass given without user');
    const publishTimeoutMs = options.publishTimeoutMs ?? 5000;
    if (!Number.isFinite(publishTimeoutMs) || publishTimeoutMs <= 0) {
      throw new InvalidOptionError(`NATS publishTimeoutMs must be a positive number, got ${String(publishTimeoutMs)}`);
    }
    this.publishTimeoutMs = publishTimeoutMs;
    this.#logger = options.logger;
    const o: ConnectionOptions = {
      servers,
      name: options.name ?? 'sluice',
      maxReconnectAttempts: -1,
      // Keep trying when NATS is not up yet at broker start: channels report not ready meanwhile.
      waitOnFirstConnect: true,
      reconnectTimeWait: 1000,
    };
    if (options.token) o.token = options.token;
    if (options.user) {
      o.user = options.user;
      if (options.pass !== undefined) o.pass = options.pass;
    }
    if (options.credsFile) {
      let creds: Uint8Array;
      try {
        creds = readFileSync(options.credsFile);
      } catch (e) {
        throw new InvalidOptionError(`cannot read NATS creds file ${options.credsFile}: ${(e as Error).message}`, { cause: e });
      }
      o.authenticator = credsAuthenticator(creds);
    }
    if (options.tls) o.tls = options.tls === true ? {} : { ...options.tls };
    this.#options = o;
  }

  /** Starts connecting in the background (idempotent); resolves once first connected. */
  connect(): Promise<void> {
    if (this.#closed) return Promise.reject(new UnavailableError('NATS connection is closed'));
    this.#connecting ??= this.#connect();
    return this.#connecting;
  }

  async #connect(): Promise<void> {
    const nc = await connect(this.#options);
    if (this.#closed) {
      await nc.close();
      throw new UnavailableError('NATS connection is closed');
    }
    this.#nc = nc;
    this.#js = jetstream(nc);
    // checkAPI off: the account check is one more request that fails while JetStream
    // restarts; stream operations report a missing JetStream clearly anyway.
    this.#jsm = await jetstreamManager(nc, { checkAPI: false });
    void this.#watchStatus(nc);
    this.#setConnected(true);
    this.#logger?.info({ server: nc.getServer() }, 'connected to NATS');
  }

  async #watchStatus(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') {
        this.#logger?.warn({ server: s.server }, 'NATS disconnected; reconnecting');
        this.#setConnected(false);
      } else if (s.type === 'reconnect') {
        this.#logger?.info({ server: s.server }, 'NATS reconnected');
        this.#setConnected(true);
      } else if (s.type === 'close') {
        this.#setConnected(false);
      }
    }
    this.#setConnected(false);
  }

  #setConnected(v: boolean): void {
    if (this.#connected === v) return;
    this.#connected = v;
    if (v) for (const w of this.#waiters.splice(0)) w();
    for (const l of this.#listeners) {
      try {
        l(v);
      } catch {
        // a listener's failure is its own; the connection state must still reach the others
      }
    }
  }

  isConnected(): boolean {
    return this.#connected && !this.#closed;
  }

  /** Resolves when connected (at once if already); never rejects except after close(). */
  async whenConnected(): Promise<void> {
    if (this.isConnected()) return;
    if (this.#closed) throw new UnavailableError('NATS connection is closed');
    void this.connect().catch(() => undefined);
    await new Promise<void>((resolve) => this.#waiters.push(resolve));
    if (this.#closed) throw new UnavailableError('NATS connection is closed');
  }

  onChange(listener: ConnectionListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The live clients; throws UnavailableError before the first connection. */
  clients(): { nc: NatsConnection; js: JetStreamClient; jsm: JetStreamManager } {
    if (!this.#nc || !this.#js || !this.#jsm) throw new UnavailableError('not connected to NATS yet');
    return { nc: this.#nc, js: this.#js, jsm: this.#jsm };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#setConnected(false);
    for (const w of this.#waiters.splice(0)) w();
    const nc = this.#nc;
    if (nc && !nc.isClosed()) await nc.close().catch(() => undefined);
  }
}
