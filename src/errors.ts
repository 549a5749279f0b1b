// One errors module: every error Sluice raises on purpose is a named class with a
// stable code (SLUICE_ERR_*) and the HTTP status it maps to, so that the server maps
// errors to responses in one place and callers can branch on `code`, never on text.

export abstract class SluiceError extends Error {
  abstract readonly code: string;
  /** HTTP status used when this error reaches an HTTP client. */
  readonly statusCode: number = 500;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
  /** Short machine-readable reason for JSON bodies: `{"error": message, "reason": reason}`. */
  get reason(): string {
    return this.code;
  }
}

/** The request is not a valid CloudEvent (or batch of them). */
export class InvalidEventError extends SluiceError {
  readonly code = 'SLUICE_ERR_INVALID_EVENT';
  override readonly statusCode = 400;
}

/** A dead-letter redrive request that names no subscription, a bad filter or bad ids. */
export class InvalidRedriveRequestError extends SluiceError {
  readonly code = 'SLUICE_ERR_INVALID_REDRIVE';
  override readonly statusCode = 400;
}

/** No channel, broker or source at the address. */
export class NotFoundError extends SluiceError {
  readonly code = 'SLUICE_ERR_NOT_FOUND';
  override readonly statusCode = 404;
}

export class MethodNotAllowedError extends SluiceError {
  readonly code = 'SLUICE_ERR_METHOD_NOT_ALLOWED';
  override readonly statusCode = 405;
}

export class PayloadTooLargeError extends SluiceError {
  readonly code = 'SLUICE_ERR_PAYLOAD_TOO_LARGE';
  override readonly statusCode = 413;
}

/** A bounded buffer is full: the client should retry later (429, with `Retry-After`). */
export class ChannelFullError extends SluiceError {
  readonly code = 'SLUICE_ERR_CHANNEL_FULL';
  override readonly statusCode = 429;
  /** Seconds a client should wait before trying again (the `Retry-After` header). */
  readonly retryAfterSeconds: number;
  constructor(message: string, options?: { cause?: unknown; retryAfterSeconds?: number }) {
    super(message, options);
    this.retryAfterSeconds = options?.retryAfterSeconds ?? 1;
  }
}

/** Sluice cannot take the event right now (shutting down, backend unreachable): 503. */
export class UnavailableError extends SluiceError {
  readonly code = 'SLUICE_ERR_UNAVAILABLE';
  override readonly statusCode = 503;
}

/** The target exists but is not ready (invalid resource, backend not connected): 503. */
export class NotReadyError extends SluiceError {
  readonly code = 'SLUICE_ERR_NOT_READY';
  override readonly statusCode = 503;
}

/** A broker refused an event whose loop guard `knativebrokerttl` ran out (Knative answers 400). */
export class EventTtlExpiredError extends SluiceError {
  readonly code = 'SLUICE_ERR_TTL_EXPIRED';
  override readonly statusCode = 400;
}

/** An ISO-8601 duration (or other scalar option) could not be parsed. */
export class InvalidDurationError extends SluiceError {
  readonly code = 'SLUICE_ERR_INVALID_DURATION';
  override readonly statusCode = 400;
}

/** Bad options given to a constructor or a CLI flag. */
export class InvalidOptionError extends SluiceError {
  readonly code = 'SLUICE_ERR_INVALID_OPTION';
  override readonly statusCode = 400;
}

/** Where a resource came from, for messages like `config/subs.yaml#2 Subscription default/x: ...`. */
export interface ResourceOrigin {
  file: string;
  /** 1-based index of the YAML document within the file. */
  document: number;
}

export interface ResourceIssue {
  /** Dotted field path, e.g. `spec.delivery.backoffDelay`; empty for the document itself. */
  path: string;
  message: string;
}

/** A resource document failed validation; `message` is the full human line(s). */
export class ResourceValidationError extends SluiceError {
  readonly code = 'SLUICE_ERR_INVALID_RESOURCE';
  override readonly statusCode = 400;
  readonly origin: ResourceOrigin | undefined;
  readonly kind: string | undefined;
  readonly resourceName: string | undefined;
  readonly issues: readonly ResourceIssue[];
  constructor(
    args: { origin?: ResourceOrigin; kind?: string; name?: string; issues: ResourceIssue[] },
    options?: { cause?: unknown },
  ) {
    super(formatResourceIssues(args), options);
    this.origin = args.origin;
    this.kind = args.kind;
    this.resourceName = args.name;
    this.issues = args.issues;
  }
}

export function formatResourceIssues(args: {
  origin?: ResourceOrigin;
  kind?: string;
  name?: string;
  issues: readonly ResourceIssue[];
}): string {
  const where = args.origin ? `${args.origin.file}#${args.origin.document}` : '';
  const what = [args.kind, args.name].filter(Boolean).join(' ');
  const prefix = [where, what].filter(Boolean).join(' ');
  return args.issues
    .map((i) => `${prefix ? prefix + ': ' : ''}${i.path ? i.path + ': ' : ''}${i.message}`)
    .join('\n');
}

/** A file could not be read or parsed as YAML at all. */
export class ConfigFileError extends SluiceError {
  readonly code = 'SLUICE_ERR_CONFIG_FILE';
  override readonly statusCode = 400;
}

/** HTTP status for any thrown value: SluiceErrors carry theirs; fastify errors carry `statusCode`. */
export function httpStatusOf(err: unknown): number {
  if (err instanceof SluiceError) return err.statusCode;
  const s = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof s === 'number' && s >= 400 && s < 600 ? s : 500;
}

/** The Kubernetes API server refused a request or could not be reached (ApiServerSource). */
export class KubeApiError extends SluiceError {
  readonly code = 'SLUICE_ERR_KUBE_API';
  override readonly statusCode = 502;
  /** HTTP status the API server answered with; undefined when it could not be reached. */
  readonly status: number | undefined;
  constructor(message: string, options?: { cause?: unknown; status?: number }) {
    super(message, options);
    this.status = options?.status;
  }
}

/** The activator holds too many deliveries for a service that is waking up (retryable 503). */
export class ActivatorQueueFullError extends SluiceError {
  readonly code = 'SLUICE_ERR_ACTIVATOR_QUEUE_FULL';
  override readonly statusCode = 503;
}

/** A held delivery waited longer than the activator's timeout for a ready replica (retryable 503). */
export class ActivatorTimeoutError extends SluiceError {
  readonly code = 'SLUICE_ERR_ACTIVATOR_TIMEOUT';
  override readonly statusCode = 503;
}

/** A scaled service cannot take requests (removed, shutting down, replica lost mid-request): retryable 503. */
export class ServiceUnavailableError extends SluiceError {
  readonly code = 'SLUICE_ERR_SERVICE_UNAVAILABLE';
  override readonly statusCode = 503;
}

/** One delivery attempt to a subscriber (or reply/dead-letter sink) took longer than its timeout. */
export class DeliveryTimeoutError extends SluiceError {
  readonly code = 'SLUICE_ERR_DELIVERY_TIMEOUT';
  override readonly statusCode = 504;
}

/** A webhook request's signature (GitHub's X-Hub-Signature-256) is missing or wrong: 401, nothing emitted. */
export class WebhookSignatureError extends SluiceError {
  readonly code = 'SLUICE_ERR_WEBHOOK_SIGNATURE';
  override readonly statusCode = 401;
}

/** The GitHub API refused a request (webhook registration) or could not be reached. */
export class GitHubApiError extends SluiceError {
  readonly code = 'SLUICE_ERR_GITHUB_API';
  override readonly statusCode = 502;
  /** HTTP status GitHub answered with; undefined when it could not be reached. */
  readonly status: number | undefined;
  /** GitHub's own `message` from the error body, when there was one. */
  readonly githubMessage: string | undefined;
  constructor(message: string, options?: { cause?: unknown; status?: number; githubMessage?: string }) {
    super(message, options);
    this.status = options?.status;
    this.githubMessage = options?.githubMessage;
  }
}

/** A source's sink did not take an event (non-2xx after the retries, or no answer): 502 to the webhook sender. */
export class SinkRefusedError extends SluiceError {
  readonly code = 'SLUICE_ERR_SINK_REFUSED';
  override readonly statusCode = 502;
  /** The sink's last HTTP status; undefined when it could not be reached. */
  readonly sinkStatus: number | undefined;
  constructor(message: string, options?: { cause?: unknown; sinkStatus?: number | undefined }) {
    super(message, options);
    this.sinkStatus = options?.sinkStatus;
  }
}

/** A query parameter of an admin API request is invalid (the event inspector's `limit`, `kind`, ...). */
export class InvalidQueryError extends SluiceError {
  readonly code = 'SLUICE_ERR_INVALID_QUERY';
  override readonly statusCode = 400;
}

/** The inspector already serves its maximum of live-tail streams (retry later). */
export class TooManyStreamsError extends SluiceError {
  readonly code = 'SLUICE_ERR_TOO_MANY_STREAMS';
  override readonly statusCode = 429;
}

/** A request lacks the bearer token the admin API or a channel/broker's ingress requires (401). */
export class UnauthorizedError extends SluiceError {
  readonly code = 'SLUICE_ERR_UNAUTHORIZED';
  override readonly statusCode = 401;
}

/**
 * An admin request from somewhere the admin API does not serve: a foreign `Origin` or
 * `Sec-Fetch-Site` (another web page), or a `Host` that is not this admin port's own
 * name (DNS rebinding). Nothing was read or changed (403).
 */
export class ForbiddenOriginError extends SluiceError {
  readonly code = 'SLUICE_ERR_FORBIDDEN_ORIGIN';
  override readonly statusCode = 403;
}

/** An admin write whose body is not YAML or JSON (`Content-Type`); nothing was applied (415). */
export class UnsupportedMediaTypeError extends SluiceError {
  readonly code = 'SLUICE_ERR_UNSUPPORTED_MEDIA_TYPE';
  override readonly statusCode = 415;
}

/** Resource documents sent to the admin API failed validation; nothing was applied (400). */
export class ApplyRejectedError extends SluiceError {
  readonly code = 'SLUICE_ERR_INVALID_RESOURCE';
  override readonly statusCode = 400;
  readonly errors: readonly ResourceValidationError[];
  constructor(message: string, errors: readonly ResourceValidationError[], options?: { cause?: unknown }) {
    super(message, options);
    this.errors = errors;
  }
}

/** The data dir (`--data-dir`) could not be read or written: admin changes cannot be kept (500). */
export class DataDirError extends SluiceError {
  readonly code = 'SLUICE_ERR_DATA_DIR';
  override readonly statusCode = 500;
}

/** A client did not send its request's headers, or the whole request, within the ingress timeouts (408). */
export class RequestTimeoutError extends SluiceError {
  readonly code = 'SLUICE_ERR_REQUEST_TIMEOUT';
  override readonly statusCode = 408;
}

/** The request headers are larger than node's limit (`--max-http-header-size`, 16 KiB by default) (431). */
export class HeadersTooLargeError extends SluiceError {
  readonly code = 'SLUICE_ERR_HEADERS_TOO_LARGE';
  override readonly statusCode = 431;
}

/** Bytes that do not parse as an HTTP request (400). */
export class MalformedRequestError extends SluiceError {
  readonly code = 'SLUICE_ERR_BAD_REQUEST';
  override readonly statusCode = 400;
}

/** The CLI could not reach the admin API, or the admin API refused a request. */
export class AdminApiError extends SluiceError {
  readonly code = 'SLUICE_ERR_ADMIN_API';
  /** HTTP status the admin API answered with; undefined when it could not be reached. */
  readonly status: number | undefined;
  /** The admin API's `reason` (`SLUICE_ERR_*`), when it answered with one. */
  readonly apiReason: string | undefined;
  constructor(message: string, options?: { cause?: unknown; status?: number; apiReason?: string }) {
    super(message, options);
    this.status = options?.status;
    this.apiReason = options?.apiReason;
  }
}

/** The container runtime (Docker or Podman CLI) is missing, not working, or refused a command. */
export class ContainerRuntimeError extends SluiceError {
  readonly code = 'SLUICE_ERR_CONTAINER_RUNTIME';
  override readonly statusCode = 503;
}

/** An image is not present and could not (or, by `imagePullPolicy: Never`, may not) be pulled. */
export class ImagePullError extends SluiceError {
  readonly code = 'SLUICE_ERR_IMAGE_PULL';
  override readonly statusCode = 503;
  readonly image: string;
  constructor(image: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.image = image;
  }
}

/** A `labelSelector` or `fieldSelector` of a Kubernetes-style list or watch that does not parse, or names an unsupported field (400). */
export class InvalidSelectorError extends SluiceError {
  readonly code = 'SLUICE_ERR_INVALID_SELECTOR';
  override readonly statusCode = 400;
}

/** A PATCH body that is not a valid patch of its content type, or a JSON Patch whose `test` or path fails (422, as Kubernetes answers). */
export class InvalidPatchError extends SluiceError {
  readonly code = 'SLUICE_ERR_INVALID_PATCH';
  override readonly statusCode = 422;
}

/** A write that names a `metadata.resourceVersion` that is no longer current, or a create of a name that exists (409). */
export class ConflictError extends SluiceError {
  readonly code = 'SLUICE_ERR_CONFLICT';
  override readonly statusCode = 409;
  /** Kubernetes' Status reason: `Conflict` or `AlreadyExists`. */
  readonly kubeReason: 'Conflict' | 'AlreadyExists';
  /** Server-side apply: each field another manager owns with another value. */
  readonly fieldConflicts: ReadonlyArray<{ field: string; manager: string }>;
  constructor(message: string, options?: { cause?: unknown; kubeReason?: 'Conflict' | 'AlreadyExists'; fieldConflicts?: ReadonlyArray<{ field: string; manager: string }> }) {
    super(message, options);
    this.kubeReason = options?.kubeReason ?? 'Conflict';
    this.fieldConflicts = options?.fieldConflicts ?? [];
  }
}

/** A watch from a resourceVersion older than the history Sluice keeps: relist (410, Kubernetes' `Expired`). */
export class ResourceVersionGoneError extends SluiceError {
  readonly code = 'SLUICE_ERR_GONE';
  override readonly statusCode = 410;
}
