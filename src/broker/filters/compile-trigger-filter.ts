import { CesqlParseError, compileCesql, type CesqlCompileOptions } from '../cesql/index.js';
import { FilterError, type FilterIssue, type FilterPathSegment } from './filter-error.js';
import type { CompiledFilter, TriggerFilterSpec } from './filter-types.js';
import { allOf, anyOf, exactMatch, matchAll, negate, prefixMatch, suffixMatch } from './predicates.js';

// Compiles a Trigger's filters once, when the Trigger is applied, into one predicate over
// an event's attributes (Knative rules, see KNATIVE.md "Trigger"). The input comes from
// YAML, so it is checked as unknown data: every problem is collected with its path and
// reported together in one FilterError, and nothing invalid ever reaches the data plane.

export const DIALECTS = ['exact', 'prefix', 'suffix', 'all', 'any', 'not', 'cesql'] as const;
export type Dialect = (typeof DIALECTS)[number];

const EXACTLY_ONE = `exactly one of ${DIALECTS.join(', ')} must be set`;
/** CloudEvents attribute naming: lower-case ASCII letters and digits. */
const ATTRIBUTE_NAME = /^[a-z0-9]+$/;

export interface TriggerFilterOptions {
  /** Passed to every CESQL expression (typed attributes). */
  cesql?: CesqlCompileOptions;
}

type Path = readonly FilterPathSegment[];

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 40 ? v.slice(0, 37) + '...' : v)}`;
  if (typeof v === 'object') return 'a map';
  return `${typeof v} ${String(v)}`;
}

// Filters are pure, so an AND or OR may test them in any order: cheap attribute tests
// first, CESQL last. The cost rank travels on the function itself.
const COST = new WeakMap<CompiledFilter, number>();
function ranked(f: CompiledFilter, cost: number): CompiledFilter {
  COST.set(f, cost);
  return f;
}
function ordered(filters: CompiledFilter[]): CompiledFilter[] {
  return filters
    .map((f, i) => ({ f, i, c: COST.get(f) ?? 1 }))
    .sort((x, y) => x.c - y.c || x.i - y.i)
    .map((x) => x.f);
}

class FilterCompiler {
  readonly issues: FilterIssue[] = [];
  readonly #options: TriggerFilterOptions;
  constructor(options: TriggerFilterOptions) {
    this.#options = options;
  }

  issue(path: Path, message: string): CompiledFilter {
    this.issues.push({ path, message });
    return matchAll; // never used: any issue fails the whole compilation
  }

  /** `attribute -> value` map of exact/prefix/suffix (non-empty values) or filter.attributes (`""` allowed). */
  attributeMap(value: unknown, path: Path, allowEmptyValues: boolean): Array<[string, string]> | undefined {
    if (!isObject(value)) {
      this.issue(path, `must be a map of attribute names to values, got ${describe(value)}`);
      return undefined;
    }
    const pairs: Array<[string, string]> = [];
    let ok = true;
    for (const [name, v] of Object.entries(value)) {
      if (!ATTRIBUTE_NAME.test(name)) {
        this.issue([...path, name], 'attribute names are lower-case letters a-z and digits 0-9 (CloudEvents naming)');
        ok = false;
      } else if (typeof v !== 'string') {
        this.issue([...path, name], `value must be a string, got ${describe(v)}`);
        ok = false;
      } else if (v === '' && !allowEmptyValues) {
        this.issue([...path, name], 'value must not be empty');
        ok = false;
      } else {
        pairs.push([name, v]);
      }
    }
    return ok ? pairs : undefined;
  }

  /** The legacy `filter: {attributes: {...}}`. */
  legacy(filter: unknown, path: Path): CompiledFilter {
    if (filter === undefined || filter === null) return matchAll;
    if (!isObject(filter)) return this.issue(path, `must be a map with "attributes", got ${describe(filter)}`);
    for (const key of Object.keys(filter)) {
      if (key !== 'attributes') this.issue([...path, key], 'unknown field; a Trigger filter has only "attributes"');
    }
    const attributes = filter.attributes;
    if (attributes === undefined || attributes === null) return matchAll;
    const pairs = this.attributeMap(attributes, [...path, 'attributes'], true);
    if (!pairs || pairs.length === 0) return matchAll;
    // `""` means "the attribute must exist, with any value".
    return exactMatch(pairs.map(([name, v]) => [name, v === '' ? undefined : v] as const));
  }

  /** A list of Subscriptions API filters, ANDed (spec.filters, or the body of `all`). */
  list(value: unknown, path: Path): CompiledFilter[] {
    if (!Array.isArray(value)) {
      this.issue(path, `must be a list of filters, got ${describe(value)}`);
      return [];
    }
    return value.map((f, i) => this.element(f, [...path, i]));
  }

  element(value: unknown, path: Path): CompiledFilter {
    if (!isObject(value)) return this.issue(path, `must be a filter (a map with one of ${DIALECTS.join(', ')}), got ${describe(value)}`);
    const unknown = Object.keys(value).filter((k) => !(DIALECTS as readonly string[]).includes(k));
    for (const key of unknown) this.issue([...path, key], `unknown field; a filter has exactly one of ${DIALECTS.join(', ')}`);
    // Knative counts a dialect as set only when it is non-empty (`exact: {}` is not set).
    const set = DIALECTS.filter((d) => isSet(value[d]));
    if (set.length !== 1) {
      return this.issue(path, set.length === 0 ? EXACTLY_ONE : `${EXACTLY_ONE} (found ${set.join(', ')})`);
    }
    const dialect = set[0] as Dialect;
    const body = value[dialect];
    const at = [...path, dialect];
    switch (dialect) {
      case 'exact':
      case 'prefix':
      case 'suffix': {
        const pairs = this.attributeMap(body, at, false);
        if (!pairs) return matchAll;
        return dialect === 'exact' ? exactMatch(pairs) : dialect === 'prefix' ? prefixMatch(pairs) : suffixMatch(pairs);
      }
      case 'all':
        return allOf(ordered(this.list(body, at)));
      case 'any':
        return anyOf(ordered(this.list(body, at)));
      case 'not':
        return isObject(body) ? negate(this.element(body, at)) : this.issue(at, `must be a filter, got ${describe(body)}`);
      case 'cesql':
        return this.cesql(body, at);
    }
  }

  cesql(body: unknown, path: Path): CompiledFilter {
    if (typeof body !== 'string') return this.issue(path, `must be a CloudEvents SQL expression (a string), got ${describe(body)}`);
    try {
      const expr = compileCesql(body, this.#options.cesql);
      return ranked((a) => expr.matches(a), 2);
    } catch (err) {
      if (err instanceof CesqlParseError) return this.issue(path, err.message.replace(/^cesql: /, ''));
      throw err;
    }
  }
}

/** A dialect is "set" when present and non-empty, as Knative's validation counts it. */
function isSet(v: unknown): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v === 'string') return v.length > 0;
  if (Array.isArray(v)) return v.length > 0;
  if (isObject(v)) return Object.keys(v).length > 0;
  return true; // a number or boolean: set, and reported as the wrong type
}

/**
 * Compiles a Trigger's `filter` / `filters` into one predicate over event attributes.
 * `filters`, when non-empty, overrides `filter`; no filter at all matches every event.
 * Throws FilterError listing every problem with its path (`filters[1].any[0]: ...`).
 */
export function compileTriggerFilter(spec: TriggerFilterSpec | null | undefined, options: TriggerFilterOptions = {}): CompiledFilter {
  const c = new FilterCompiler(options);
  let result: CompiledFilter = matchAll;
  if (spec !== undefined && spec !== null) {
    if (!isObject(spec)) {
      c.issue([], `Trigger filters must be a map with "filter" and/or "filters", got ${describe(spec)}`);
    } else {
      const legacy = c.legacy(spec.filter, ['filter']);
      const filters = spec.filters;
      if (filters !== undefined && filters !== null && !(Array.isArray(filters) && filters.length === 0)) {
        result = allOf(ordered(c.list(filters, ['filters'])));
      } else {
        result = legacy;
      }
    }
  }
  if (c.issues.length) throw new FilterError(c.issues);
  return result;
}

/** Every problem in a Trigger's filters, without throwing (for resource validation). */
export function triggerFilterIssues(spec: TriggerFilterSpec | null | undefined, options: TriggerFilterOptions = {}): FilterIssue[] {
  try {
    compileTriggerFilter(spec, options);
    return [];
  } catch (err) {
    if (err instanceof FilterError) return [...err.issues];
    throw err;
  }
}
