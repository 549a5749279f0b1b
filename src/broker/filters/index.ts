// Knative Trigger filters: validated and compiled once per Trigger into one predicate.
export { compileTriggerFilter, triggerFilterIssues, DIALECTS } from './compile-trigger-filter.js';
export type { Dialect, TriggerFilterOptions } from './compile-trigger-filter.js';
export { FilterError, formatFilterPath } from './filter-error.js';
export type { FilterIssue, FilterPathSegment } from './filter-error.js';
export type { CompiledFilter, SubscriptionsAPIFilter, TriggerAttributesFilter, TriggerFilterSpec } from './filter-types.js';
export { subscriptionsApiFilterSchema, triggerAttributesFilterSchema, triggerFiltersSchema, refineTriggerFilter } from './filter-schema.js';
