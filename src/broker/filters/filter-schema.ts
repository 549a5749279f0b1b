import { z } from 'zod';
import { triggerFilterIssues, type TriggerFilterOptions } from './compile-trigger-filter.js';
import type { SubscriptionsAPIFilter, TriggerAttributesFilter, TriggerFilterSpec } from './filter-types.js';

// zod pieces for the Trigger resource schema. They give the structure (field names and
// types, so unknown fields are reported by name); the rules a structure cannot express
// (exactly one dialect, non-empty values, attribute naming, CESQL syntax) come from the
// compiler through `refineTriggerFilter`, so the two can never disagree.

const attributeMap = z.record(z.string(), z.string());

export const subscriptionsApiFilterSchema: z.ZodType<SubscriptionsAPIFilter> = z.lazy(() =>
  z.strictObject({
    exact: attributeMap.optional(),
    prefix: attributeMap.optional(),
    suffix: attributeMap.optional(),
    all: z.array(subscriptionsApiFilterSchema).optional(),
    any: z.array(subscriptionsApiFilterSchema).optional(),
    not: subscriptionsApiFilterSchema.optional(),
    cesql: z.string().optional(),
  }),
);

export const triggerAttributesFilterSchema: z.ZodType<TriggerAttributesFilter> = z.strictObject({
  attributes: attributeMap.optional(),
});

export const triggerFiltersSchema = z.array(subscriptionsApiFilterSchema);

/**
 * For `.superRefine` on a Trigger spec schema: adds one zod issue per filter problem, at
 * its path below the spec (`['filters', 1, 'any', 0]`).
 */
export function refineTriggerFilter(
  spec: TriggerFilterSpec,
  ctx: { addIssue(issue: { code: 'custom'; message: string; path: PropertyKey[] }): void },
  options?: TriggerFilterOptions,
): void {
  for (const issue of triggerFilterIssues({ filter: spec.filter, filters: spec.filters }, options)) {
    ctx.addIssue({ code: 'custom', message: issue.message, path: [...issue.path] });
  }
}
