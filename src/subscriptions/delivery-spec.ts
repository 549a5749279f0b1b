/**
 * Knative's `delivery` block (DeliverySpec), as written in YAML, and its parsed form.
 * The YAML form is validated by the resource schemas; `parse*` here turns it into
 * numbers the dispatcher uses.
 */
import type { BackoffPolicy } from '../resources/types.js';

// The YAML form is part of the resource model; re-exported here for the delivery code.
export type { BackoffPolicy, DeliverySpec } from '../resources/types.js';

/** The parsed delivery policy one subscription delivers with. */
export interface DeliveryPolicy {
  /** Retries after the first attempt (total attempts = retry + 1). */
  readonly retry: number;
  readonly backoffPolicy: BackoffPolicy;
  /** Base delay in ms; undefined = no wait between attempts (Knative: no delay given, no wait). */
  readonly backoffDelayMs: number | undefined;
  /** Per-attempt timeout in ms; undefined = the dispatcher's default. */
  readonly timeoutMs: number | undefined;
  /** Cap for honouring Retry-After on 429/503; undefined = Retry-After is ignored. */
  readonly retryAfterMaxMs: number | undefined;
}
