import { readFileSync } from 'node:fs';
import { connect, credsAuthenticator, type ConnectionOptions, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { InvalidOptionError, UnavailableError } from '../../errors.js';
import type { Logger } from '../../observability/logger.js';
import { nextBackoffMs } from '../../subscriptions/retry-backoff.js';

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
  /** The server URL(s), for messages (`NATS at nats://... is unreachable`); never credentials. */
  readonly target: string;
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
  #lastError: string | undefined;
  #cancelRetryWait: (() => void) | undefined;

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
    this.target = servers.map(redactUrl).join(',');
    this.#logger = options.logger;
    const o: ConnectionOptions = {
      servers,
      name: options.name ?? 'sluice',
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1000,
      // A first connection that hangs (firewalled host) is retried rather than waited on.
      timeout: 5000,
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

  /**
   * Keeps trying until NATS answers (it may not be up yet at broker start; channels report
   * not ready meanwhile). Our own loop rather than the client's `waitOnFirstConnect`:
   * that one cannot be cancelled, so a broker stopped while NATS was down never exited.
   */
  async #connect(): Promise<void> {
    let failures = 0;
    let nc: NatsConnection | undefined;
    while (!nc) {
      if (this.#closed) throw new UnavailableError('NATS connection is closed');
      try {
        nc = await connect(this.#options);
      } catch (e) {
        if (this.#closed) throw new UnavailableError('NATS connection is closed', { cause: e });
        const message = e instanceof Error ? e.message : String(e);
        if (this.#lastError !== message) this.#logger?.warn({ err: e, servers: this.target }, 'cannot connect to NATS; retrying');
        this.#lastError = message;
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, nextBackoffMs(failures++, { initialMs: 250, maxMs: 2000 }));
          this.#cancelRetryWait = () => {
            clearTimeout(t);
            resolve();
          };
        });
        this.#cancelRetryWait = undefined;
      }
    }
    this.#lastError = undefined;
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
      if (s.type === 'error') {
        this.#lastError = s.error.message;
      } else if (s.type === 'disconnect') {
        this.#logger?.warn({ server: s.server }, 'NATS disconnected; reconnecting');
        this.#setConnected(false);
      } else if (s.type === 'reconnect') {
        this.#logger?.info({ server: s.server }, 'NATS reconnected');
        this.#lastError = undefined;
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

  /** Why NATS is not connected, for readiness messages; undefined while connected. */
  notConnectedReason(): string | undefined {
    if (this.#closed) return 'the NATS connection is closed';
    if (this.#connected) return undefined;
    return `NATS at ${this.target} is unreachable${this.#lastError ? ` (${this.#lastError})` : ''}`;
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
    this.#cancelRetryWait?.();
    for (const w of this.#waiters.splice(0)) w();
    const nc = this.#nc;
    if (nc && !nc.isClosed()) await nc.close().catch(() => undefined);
  }
}

/** `nats://user:secret@host` -> `nats://user:***@host`: URLs end up in logs and status. */
function redactUrl(server: string): string {
  return server.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}
