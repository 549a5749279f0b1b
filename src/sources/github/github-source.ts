import type { Dispatcher } from 'undici';
import {
  GitHubApiError,
  InvalidEventError,
  InvalidOptionError,
  MethodNotAllowedError,
  NotReadyError,
  ResourceValidationError,
  SluiceError,
  UnavailableError,
  httpStatusOf,
} from '../../errors.js';
import { validateAttributes } from '../../events/attributes.js';
import { silentLogger, type Logger } from '../../observability/logger.js';
import type { Condition } from '../../resources/types.js';
import { parseWith } from '../../resources/zod-issues.js';
import { nextBackoffMs } from '../../subscriptions/retry-backoff.js';
import type { EmitFn, WebhookRequest, WebhookResponse, WebhookSource } from '../source.js';
import { DeliveryDedup } from './delivery-dedup.js';
import { ALL_GITHUB_EVENTS, KNOWN_GITHUB_EVENTS, gitHubEventSource, gitHubEventType } from './github-event-names.js';
import { makeGitHubEvent } from './github-events.js';
import { GITHUB_EVENT_NAME, gitHubSourceSpecSchema, parseOwnerAndRepository, type GitHubSourceSpec, type GitHubSourceSpecInput, type SecretValueFromSource } from './spec-schema.js';
import { DELIVERY_HEADER, EVENT_HEADER, header, readPayload, verifySignature } from './webhook-request.js';
import { GitHubWebhookClient, isRetryableGitHubError } from './webhook-client.js';

/** Looks a key of a Secret in the source's namespace up; undefined = no such secret or key. */
export type ResolveGitHubSecret = (name: string, key: string) => string | Buffer | undefined | Promise<string | Buffer | undefined>;

export interface GitHubSourceOptions {
  namespace: string;
  name: string;
  /** The spec as written; validated here. */
  spec: GitHubSourceSpecInput;
  resolveSecret: ResolveGitHubSecret;
  /** Sluice's public base URL as GitHub reaches it (`https://hooks.example.com`); needed to register the webhook. */
  publicUrl?: string | undefined;
  logger?: Logger;
  /** How long a delivery id is remembered to drop redeliveries (default 10 min); 0 turns dedup off. */
  dedupWindowMs?: number;
  /** Delivery ids remembered at most (default 10,000). */
  dedupMaxEntries?: number;
  /** Register the webhook on start when an accessToken is set (default true). */
  registerWebhook?: boolean;
  /** Backoff between registration attempts after a retryable failure: 1 s doubling to 5 min by default. */
  registrationRetryInitialMs?: number;
  registrationRetryMaxMs?: number;
  /** undici dispatcher for the GitHub API (tests, proxies). */
  dispatcher?: Dispatcher;
}

/** Counters of what the source did with deliveries. */
export interface GitHubSourceStats {
  accepted: number;
  duplicates: number;
  filtered: number;
  rejected: number;
  emitFailures: number;
}

/** Knative's GitHubSourceStatus, minus what the lead owns (sink, Ready). */
export interface GitHubSourceStatus {
  /** Id of the webhook registered with GitHub (Knative's `status.webhookIDKey`). */
  webhookIDKey?: string;
  /** `SecretsProvided` and `WebhookConfigured`, as Knative names them. */
  conditions: Condition[];
}

type WebhookState = { status: Condition['status']; reason: string; message?: string };

/**
 * Knative's GitHubSource: receives GitHub webhook deliveries on
 * `/sources/<ns>/<name>`, checks their signature, turns each into the CloudEvent
 * Knative's adapter would send, and answers 202 only once the sink took it, so that a
 * failed delivery shows as failed in GitHub and can be redelivered. With an accessToken
 * it also registers (and on `deregister()` removes) the webhook through GitHub's API.
 *
 * The signature (`X-Hub-Signature-256`) covers the body's raw bytes only: GitHub signs
 * no header, `X-GitHub-Delivery` included. Dropping redeliveries by delivery id is
 * therefore only deduplication of GitHub's own retries, not replay protection: anyone
 * holding one signed delivery can resend its body under a fresh delivery id, and it
 * verifies. Replay protection would need a nonce or timestamp inside the payload, which
 * GitHub does not provide.
 */
export class GitHubSource implements WebhookSource {
  readonly namespace: string;
  readonly name: string;
  readonly spec: GitHubSourceSpec;
  /** CloudEvents `source` of every event: `https://github.com/<ownerAndRepository>`. */
  readonly eventSource: string;
  readonly #o: GitHubSourceOptions;
  readonly #log: Logger;
  readonly #dedup: DeliveryDedup;
  readonly #events: ReadonlySet<string>;
  readonly #stats: GitHubSourceStats = { accepted: 0, duplicates: 0, filtered: 0, rejected: 0, emitFailures: 0 };
  #emit: EmitFn | undefined;
  #stopped = false;
  #hookId: number | undefined;
  #webhook: WebhookState;
  #secretsProblem: string | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #registrationFailures = 0;
  #registering: Promise<void> | undefined;

  constructor(options: GitHubSourceOptions) {
    this.namespace = options.namespace;
    this.name = options.name;
    const parsed = parseWith(gitHubSourceSpecSchema, options.spec, ['spec']);
    if (!parsed.ok) throw new ResourceValidationError({ kind: 'GitHubSource', name: `${options.namespace}/${options.name}`, issues: parsed.issues });
    this.spec = parsed.value;
    if (options.publicUrl !== undefined) {
      let u: URL | undefined;
      try {
        u = new URL(options.publicUrl);
      } catch {
        u = undefined;
      }
      if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:')) {
        throw new InvalidOptionError(`GitHubSource ${this.namespace}/${this.name}: publicUrl ${JSON.stringify(options.publicUrl)} is not an absolute http(s) URL`);
      }
    }
    this.#o = options;
    this.#log = (options.logger ?? silentLogger()).child({ source: `GitHubSource ${this.namespace}/${this.name}` });
    this.eventSource = gitHubEventSource(this.spec.ownerAndRepository);
    this.#events = new Set(this.spec.eventTypes);
    this.#dedup = new DeliveryDedup({
      ...(options.dedupWindowMs !== undefined ? { windowMs: options.dedupWindowMs } : {}),
      ...(options.dedupMaxEntries !== undefined ? { maxEntries: options.dedupMaxEntries } : {}),
    });
    const unknown = this.spec.eventTypes.filter((e) => e !== ALL_GITHUB_EVENTS && !KNOWN_GITHUB_EVENTS.has(e));
    if (unknown.length > 0) this.#log.warn({ eventTypes: unknown }, 'spec.eventTypes names events GitHub does not document (a typo?); they are passed to GitHub as written');
    this.#webhook = this.#initialWebhookState();
  }

  /** The path GitHub posts to, below the public URL. */
  get path(): string {
    return `/sources/${this.namespace}/${this.name}`;
  }

  /** The URL registered with GitHub; undefined without a publicUrl. */
  get webhookUrl(): string | undefined {
    return this.#o.publicUrl === undefined ? undefined : `${this.#o.publicUrl.replace(/\/+$/, '')}${this.path}`;
  }

  get webhookId(): number | undefined {
    return this.#hookId;
  }

  get stats(): Readonly<GitHubSourceStats> {
    return { ...this.#stats };
  }

  status(): GitHubSourceStatus {
    const now = new Date().toISOString();
    const secrets: Condition = this.#secretsProblem
      ? { type: 'SecretsProvided', status: 'False', reason: 'SecretNotFound', message: this.#secretsProblem, lastTransitionTime: now }
      : {
          type: 'SecretsProvided',
          status: 'True',
          reason: this.spec.secretToken ? 'SecretsResolved' : 'Unsigned',
          ...(this.spec.secretToken ? {} : { message: 'no secretToken: deliveries are accepted without a signature check' }),
          lastTransitionTime: now,
        };
    const webhook: Condition = { type: 'WebhookConfigured', ...this.#webhook, lastTransitionTime: now };
    return { ...(this.#hookId !== undefined ? { webhookIDKey: String(this.#hookId) } : {}), conditions: [secrets, webhook] };
  }

  /** Starts accepting deliveries; with an accessToken, registers the webhook first (a failure is reported in status, and retried when it may pass later). */
  async start(emit: EmitFn): Promise<void> {
    if (this.#emit || this.#stopped) return;
    this.#emit = emit;
    if (!this.spec.secretToken) {
      this.#log.warn('no spec.secretToken: webhook deliveries are accepted WITHOUT a signature check; anyone who can reach the URL can send events');
    }
    if (this.#shouldRegister()) await this.#register();
  }

  /** Stops accepting deliveries (503) and cancels registration retries. The webhook stays registered: see deregister(). */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    await this.#registering?.catch(() => undefined);
  }

  /**
   * Removes the webhook from GitHub: call it when the GitHubSource resource is deleted,
   * not on plain shutdown. Resolves with the ids removed (none when nothing was
   * registered); rejects with GitHubApiError when GitHub refuses.
   */
  async deregister(): Promise<number[]> {
    await this.stop();
    const url = this.webhookUrl;
    if (!this.spec.accessToken || url === undefined || this.#o.registerWebhook === false) return [];
    const client = await this.#client();
    const removed = await client.removeHook(url, this.#hookId);
    this.#log.info({ hookIds: removed, url }, removed.length ? 'webhook removed from GitHub' : 'no webhook to remove on GitHub');
    this.#hookId = undefined;
    this.#webhook = { status: 'False', reason: 'Deregistered', message: 'the webhook was removed from GitHub' };
    return removed;
  }

  async handleRequest(req: WebhookRequest): Promise<WebhookResponse> {
    try {
      return await this.#handle(req);
    } catch (err) {
      this.#stats.rejected++;
      const statusCode = httpStatusOf(err);
      const reason = err instanceof SluiceError ? err.code : 'SLUICE_ERR_INTERNAL';
      const message = err instanceof Error ? err.message : String(err);
      const delivery = header(req, DELIVERY_HEADER);
      if (statusCode >= 500) this.#log.error({ err, delivery }, 'webhook delivery failed');
      else this.#log.warn({ statusCode, reason, delivery, error: message }, 'webhook delivery refused');
      return { statusCode, body: { error: message, reason } };
    }
  }

  async #handle(req: WebhookRequest): Promise<WebhookResponse> {
    if (req.method.toUpperCase() !== 'POST') throw new MethodNotAllowedError(`${req.method} is not allowed: GitHub posts webhook deliveries`);
    const emit = this.#emit;
    if (this.#stopped) throw new UnavailableError(`GitHubSource ${this.namespace}/${this.name} is stopped`);
    if (!emit) throw new NotReadyError(`GitHubSource ${this.namespace}/${this.name} is not started`);

    if (this.spec.secretToken) await verifySignature(req, await this.#secret(this.spec.secretToken, 'secretToken'));
    const eventName = header(req, EVENT_HEADER);
    if (!eventName) throw new InvalidEventError('the request has no X-GitHub-Event header');
    if (!GITHUB_EVENT_NAME.test(eventName)) throw new InvalidEventError(`X-GitHub-Event ${JSON.stringify(eventName)} is not a GitHub event name`);
    const deliveryId = header(req, DELIVERY_HEADER);
    if (!deliveryId) throw new InvalidEventError('the request has no X-GitHub-Delivery header');
    const { data, payload } = readPayload(req);

    // GitHub sends `ping` when a hook is created whatever its events; Knative emits it.
    if (eventName !== 'ping' && !this.#events.has(ALL_GITHUB_EVENTS) && !this.#events.has(eventName)) {
      this.#stats.filtered++;
      this.#log.debug({ event: eventName, delivery: deliveryId }, 'event type not in spec.eventTypes; ignored');
      return { statusCode: 200, body: { status: 'filtered', event: eventName, reason: `${JSON.stringify(eventName)} is not in spec.eventTypes` } };
    }

    const event = makeGitHubEvent({ eventName, deliveryId, source: this.eventSource, data, payload, overrides: this.spec.ceOverrides?.extensions });
    validateAttributes(event.attributes);
    let outcome: 'emitted' | 'duplicate';
    try {
      outcome = await this.#dedup.once(deliveryId, () => emit(event));
    } catch (err) {
      this.#stats.emitFailures++;
      // The sink refused or could not be reached: a non-2xx makes GitHub show the delivery
      // as failed so it can be redelivered. Errors without a status are "try later".
      const status = err instanceof SluiceError || typeof (err as { statusCode?: unknown })?.statusCode === 'number' ? httpStatusOf(err) : 503;
      const wrapped = new UnavailableError(`the sink did not take event ${deliveryId}: ${(err as Error)?.message ?? String(err)}`, { cause: err });
      this.#log.error({ err, delivery: deliveryId, event: eventName }, 'emit failed');
      this.#stats.rejected++;
      return { statusCode: status, body: { error: wrapped.message, reason: err instanceof SluiceError ? err.code : wrapped.code } };
    }
    const type = gitHubEventType(eventName);
    if (outcome === 'duplicate') {
      this.#stats.duplicates++;
      this.#log.debug({ delivery: deliveryId }, 'redelivery of an event already emitted; not emitted again');
      return { statusCode: 202, body: { status: 'duplicate', id: deliveryId, type } };
    }
    this.#stats.accepted++;
    return { statusCode: 202, body: { status: 'accepted', id: deliveryId, type } };
  }

  async #secret(ref: SecretValueFromSource, field: string): Promise<string> {
    const { name, key } = ref.secretKeyRef;
    let value: string | Buffer | undefined;
    try {
      value = await this.#o.resolveSecret(name, key);
    } catch (err) {
      throw new NotReadyError(`spec.${field}: secret ${this.namespace}/${name} could not be read: ${(err as Error).message}`, { cause: err });
    }
    const s = typeof value === 'string' ? value : value?.toString('utf8');
    // Never fall back to "unsigned" when the secret is missing: that would open the door.
    if (!s) {
      this.#secretsProblem = `spec.${field}: secret ${this.namespace}/${name} has no key ${JSON.stringify(key)} (or does not exist)`;
      throw new NotReadyError(this.#secretsProblem);
    }
    if (this.#secretsProblem?.startsWith(`spec.${field}:`)) this.#secretsProblem = undefined;
    return s;
  }

  #initialWebhookState(): WebhookState {
    if (!this.spec.accessToken || this.#o.registerWebhook === false) {
      return { status: 'True', reason: 'NotManaged', message: 'no accessToken: Sluice does not register the webhook; configure it on GitHub yourself' };
    }
    if (this.webhookUrl === undefined) {
      return { status: 'False', reason: 'NoPublicUrl', message: 'an accessToken is set but Sluice has no public URL to give GitHub (set the public URL option)' };
    }
    return { status: 'Unknown', reason: 'Registering', message: `registering ${this.webhookUrl} with GitHub` };
  }

  #shouldRegister(): boolean {
    return this.spec.accessToken !== undefined && this.#o.registerWebhook !== false && this.webhookUrl !== undefined;
  }

  async #client(): Promise<GitHubWebhookClient> {
    const repo = parseOwnerAndRepository(this.spec.ownerAndRepository);
    if (!repo || !this.spec.accessToken) throw new InvalidOptionError('GitHubSource: no repository or access token');
    const token = await this.#secret(this.spec.accessToken, 'accessToken');
    return new GitHubWebhookClient({
      apiUrl: this.spec.githubAPIURL,
      token,
      owner: repo.owner,
      repo: repo.repo,
      ...(this.#o.dispatcher ? { dispatcher: this.#o.dispatcher } : {}),
    });
  }

  #register(): Promise<void> {
    const run = async (): Promise<void> => {
      const url = this.webhookUrl as string;
      try {
        const client = await this.#client();
        const secret = this.spec.secretToken ? await this.#secret(this.spec.secretToken, 'secretToken') : undefined;
        const { hook, outcome } = await client.ensureHook({ url, events: this.spec.eventTypes, secret, insecureSsl: this.spec.secure === false });
        if (this.#stopped) return;
        this.#hookId = hook.id;
        this.#webhook = { status: 'True', reason: outcome === 'created' ? 'Created' : 'Updated', message: `webhook ${hook.id} posts to ${url}` };
        this.#registrationFailures = 0;
        this.#log.info({ hookId: hook.id, url, outcome, events: this.spec.eventTypes }, 'webhook registered with GitHub');
      } catch (err) {
        if (this.#stopped) return;
        const retry = isRetryableGitHubError(err) || err instanceof NotReadyError;
        const message = (err as Error).message;
        if (!retry) {
          this.#webhook = { status: 'False', reason: err instanceof GitHubApiError ? 'RegistrationFailed' : 'InvalidConfiguration', message };
          this.#log.error({ err }, 'webhook registration failed; not retried (fix the token, repository or URL)');
          return;
        }
        const delay = nextBackoffMs(this.#registrationFailures++, { initialMs: this.#o.registrationRetryInitialMs ?? 1000, maxMs: this.#o.registrationRetryMaxMs ?? 300_000 });
        this.#webhook = { status: 'Unknown', reason: 'RegistrationRetrying', message: `${message}; retrying in ${Math.round(delay / 1000)} s` };
        this.#log.warn({ err, retryInMs: delay }, 'webhook registration failed; will retry');
        this.#retryTimer = setTimeout(() => {
          this.#retryTimer = undefined;
          if (!this.#stopped) void this.#register();
        }, delay);
        this.#retryTimer.unref();
      }
    };
    const p = run().finally(() => {
      if (this.#registering === p) this.#registering = undefined;
    });
    this.#registering = p;
    return p;
  }
}
