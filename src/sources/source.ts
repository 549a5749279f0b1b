import type { SluiceEvent } from '../events/types.js';

/**
 * The Source contract: an adapter turns the world into CloudEvents and emits them to
 * its resolved sink. `emit` resolves once the sink took the event (a channel stored it,
 * or a URL answered 2xx) and rejects when it refused, so adapters can retry or report.
 */
export type EmitFn = (event: SluiceEvent) => Promise<void>;

export interface Source {
  start(emit: EmitFn): Promise<void>;
  /** Stops producing; releases timers, processes and watches. Idempotent. */
  stop(): Promise<void>;
}

/** A source that receives HTTP requests on the public port (GitHub webhooks). */
export interface WebhookSource extends Source {
  handleRequest(request: WebhookRequest): Promise<WebhookResponse>;
}

export interface WebhookRequest {
  readonly method: string;
  /** Lower-case header names. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The body exactly as received (signatures are computed over these bytes). */
  readonly body: Buffer;
}

export interface WebhookResponse {
  readonly statusCode: number;
  readonly body: Readonly<Record<string, unknown>>;
}
