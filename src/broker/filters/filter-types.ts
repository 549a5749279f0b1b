// The shapes of a Knative Trigger's filters (eventing.knative.dev/v1 TriggerSpec).

/**
 * One element of `spec.filters` (the CloudEvents Subscriptions API filter dialects).
 * Exactly one field is set.
 */
export interface SubscriptionsAPIFilter {
  /** Every attribute equals its value (case-sensitive). */
  exact?: Record<string, string>;
  /** Every attribute starts with its value. */
  prefix?: Record<string, string>;
  /** Every attribute ends with its value. */
  suffix?: Record<string, string>;
  /** Every nested filter matches. */
  all?: SubscriptionsAPIFilter[];
  /** At least one nested filter matches. */
  any?: SubscriptionsAPIFilter[];
  /** The nested filter does not match. */
  not?: SubscriptionsAPIFilter;
  /** A CloudEvents SQL v1 expression that must evaluate to true without error. */
  cesql?: string;
}

/** The legacy `spec.filter`: exact attribute matches, `""` meaning "must exist". */
export interface TriggerAttributesFilter {
  attributes?: Record<string, string>;
}

/** The filtering part of a Trigger's spec. `filters`, when non-empty, overrides `filter`. */
export interface TriggerFilterSpec {
  filter?: TriggerAttributesFilter | null;
  filters?: SubscriptionsAPIFilter[] | null;
}

/** A compiled filter: does an event with these attributes pass? Never throws. */
export type CompiledFilter = (attributes: Readonly<Record<string, string>>) => boolean;
