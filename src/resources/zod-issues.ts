import type { z } from 'zod';
import type { ResourceIssue } from '../errors.js';

// zod's default messages ("Invalid input: expected int, received number") are written
// for programmers; a user fixing a YAML file needs the field, what was expected and what
// was found. Every zod issue is translated here into Sluice's own wording.

export type PathSegment = string | number;

const PLAIN = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

/** `spec.filters[0].exact`, `metadata.annotations["autoscaling.knative.dev/min-scale"]`. */
export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (PLAIN.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/** The JSON type name of a value as a YAML author sees it, with the value when it is short. */
export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'array';
  switch (typeof v) {
    case 'string':
      return `string ${JSON.stringify(v.length > 60 ? v.slice(0, 57) + '...' : v)}`;
    case 'number':
      return `number ${v}`;
    case 'boolean':
      return `boolean ${v}`;
    case 'object':
      return 'object';
    default:
      return typeof v;
  }
}

const TYPE_NAMES: Record<string, string> = { int: 'integer', record: 'object', map: 'object', nan: 'number' };

function typeName(expected: string): string {
  return TYPE_NAMES[expected] ?? expected;
}

function quoteValue(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

type ZodIssue = z.core.$ZodIssue;

function sizeMessage(issue: Extract<ZodIssue, { code: 'too_small' | 'too_big' }>): string {
  const small = issue.code === 'too_small';
  const bound = small ? (issue as { minimum: number | bigint }).minimum : (issue as { maximum: number | bigint }).maximum;
  const input = (issue as { input?: unknown }).input;
  switch (issue.origin) {
    case 'string':
      if (small && Number(bound) === 1) return 'must not be empty';
      return `must be ${small ? 'at least' : 'at most'} ${bound} characters long`;
    case 'array':
    case 'set':
      if (small && Number(bound) === 1) return 'must have at least one item';
      return `must have ${small ? 'at least' : 'at most'} ${bound} items`;
    default: {
      const op = small ? (issue.inclusive ? '>=' : '>') : issue.inclusive ? '<=' : '<';
      return `must be ${op} ${bound}${input !== undefined ? `, got ${quoteValue(input)}` : ''}`;
    }
  }
}

/** One zod issue as Sluice issues (unknown keys give one issue per key, so each is named). */
export function translateZodIssue(issue: ZodIssue, base: readonly PathSegment[] = []): ResourceIssue[] {
  const at = [...base, ...(issue.path as PathSegment[])];
  const path = formatPath(at);
  const input = (issue as { input?: unknown }).input;
  switch (issue.code) {
    case 'invalid_type': {
      if (input === undefined && !('received' in issue)) return [{ path, message: 'required' }];
      const received = (issue as { received?: unknown }).received;
      // zod reports non-finite numbers (YAML `.inf`, `.nan`) as `received` with no input.
      const got = typeof received === 'string' ? `number ${received}` : describeValue(input);
      return [{ path, message: `expected ${typeName(issue.expected)}, got ${got}` }];
    }
    case 'unrecognized_keys':
      return issue.keys.map((k) => ({ path: formatPath([...at, k]), message: `unknown field ${JSON.stringify(k)}` }));
    case 'invalid_value':
      return [{ path, message: `${quoteValue(input)} is not one of ${issue.values.map((v) => String(v)).join(', ')}` }];
    case 'too_small':
    case 'too_big':
      return [{ path, message: sizeMessage(issue) }];
    case 'invalid_format':
      // Our schemas always give a message for patterns; zod's default starts with "Invalid".
      return [{ path, message: issue.message && !issue.message.startsWith('Invalid') ? issue.message : `${quoteValue(input)} is not a valid ${issue.format}` }];
    case 'not_multiple_of':
      return [{ path, message: `must be a multiple of ${issue.divisor}` }];
    case 'invalid_key':
      return issue.issues.flatMap((i) => translateZodIssue(i, at)).map((i) => ({ ...i, message: `key: ${i.message}` }));
    case 'invalid_element':
      return issue.issues.flatMap((i) => translateZodIssue(i, [...at, issue.key as PathSegment]));
    case 'invalid_union': {
      // Report the alternative that got furthest (fewest issues), rather than all of them.
      const best = [...issue.errors].sort((a, b) => a.length - b.length)[0];
      if (best && best.length > 0) return best.flatMap((i) => translateZodIssue(i, at));
      return [{ path, message: `${describeValue(input)} does not match any accepted form` }];
    }
    case 'custom':
    default:
      return [{ path, message: issue.message }];
  }
}

export function translateZodIssues(issues: readonly ZodIssue[], base: readonly PathSegment[] = []): ResourceIssue[] {
  return issues.flatMap((i) => translateZodIssue(i, base));
}

/** Parses with zod and returns either the output or Sluice issues (with input values for messages). */
export function parseWith<T>(
  schema: z.ZodType<T>,
  value: unknown,
  base: readonly PathSegment[],
): { ok: true; value: T } | { ok: false; issues: ResourceIssue[] } {
  const r = schema.safeParse(value, { reportInput: true });
  if (r.success) return { ok: true, value: r.data };
  return { ok: false, issues: translateZodIssues(r.error.issues, base) };
}
