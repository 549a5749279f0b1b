import type { CesqlEvaluationError, CesqlEvaluationErrorKind } from './cesql-errors.js';

// CESQL's three primitive types map onto JavaScript's: String -> string, Integer ->
// number (always a 32-bit integer), Boolean -> boolean. A missing attribute is not a
// value of any type: attribute access yields MISSING, and each operator or function that
// meets it returns the zero value of its own return type (spec section 3.2), which is
// why `missing / 0` is 0 with a missing-attribute error and not a division error.

export type CesqlValue = string | number | boolean;
export type CesqlType = 'string' | 'integer' | 'boolean';

export const MISSING: unique symbol = Symbol('cesql.missing');
export type Evaluated = CesqlValue | typeof MISSING;

/**
 * The attributes an expression reads. Sluice events carry strings only; typed values are
 * accepted too (an SDK event's integer extension, the TCK's typed fixtures).
 */
export type CesqlAttributes = Readonly<Record<string, string | number | boolean | undefined>>;

export const INT_MIN = -2147483648;
export const INT_MAX = 2147483647;

/**
 * Per-evaluation error list. Evaluation is synchronous and never calls user code, so a
 * compiled expression reuses one state object instead of allocating one per event.
 */
export class EvalState {
  readonly errors: CesqlEvaluationError[] = [];
  fail(kind: CesqlEvaluationErrorKind, message: string): void {
    this.errors.push({ kind, message });
  }
  /** Records a prebuilt error (no allocation on the hot path). */
  push(err: CesqlEvaluationError): void {
    this.errors.push(err);
  }
  reset(): void {
    if (this.errors.length !== 0) this.errors.length = 0;
  }
}

/** A compiled (sub)expression. */
export type Evaluator = (attributes: CesqlAttributes, st: EvalState) => Evaluated;

export function zeroOf(type: CesqlType): CesqlValue {
  return type === 'string' ? '' : type === 'integer' ? 0 : false;
}

export function typeOf(v: CesqlValue): CesqlType {
  return typeof v === 'string' ? 'string' : typeof v === 'number' ? 'integer' : 'boolean';
}

const INTEGER_TEXT = /^[+-]?[0-9]+$/;

/** String -> Integer as spec section 3.7 defines it; undefined when it is not a 32-bit integer. */
export function parseInteger(s: string): number | undefined {
  if (!INTEGER_TEXT.test(s)) return undefined;
  const n = Number(s);
  if (n < INT_MIN || n > INT_MAX) return undefined;
  return n === 0 ? 0 : n; // never -0
}

/** String -> Boolean: "true"/"false" in any case; undefined otherwise. */
export function parseBoolean(s: string): boolean | undefined {
  if (s === 'true') return true;
  if (s === 'false') return false;
  const lower = s.toLowerCase();
  return lower === 'true' ? true : lower === 'false' ? false : undefined;
}

/** Implicit or explicit cast to Integer; records a cast error and yields undefined on failure. */
export function toInteger(v: CesqlValue, st: EvalState): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  const n = parseInteger(v);
  if (n === undefined) st.fail('cast', `cannot cast ${JSON.stringify(v)} to Integer`);
  return n;
}

/** Cast to Boolean; records a cast error and yields undefined on failure. */
export function toBoolean(v: CesqlValue, st: EvalState): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  const b = parseBoolean(v);
  if (b === undefined) st.fail('cast', `cannot cast ${JSON.stringify(v)} to Boolean`);
  return b;
}

/** Cast to String never fails. */
export function toText(v: CesqlValue): string {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : v ? 'true' : 'false';
}

export function castTo(v: CesqlValue, type: CesqlType, st: EvalState): CesqlValue | undefined {
  return type === 'string' ? toText(v) : type === 'integer' ? toInteger(v, st) : toBoolean(v, st);
}

/**
 * `x = y`: the operator is ambiguous (defined for all three types), so x is cast to
 * y's type (spec 3.7, rule 2.2). Undefined when the cast failed (the error is recorded).
 */
export function equalsByRightType(x: CesqlValue, y: CesqlValue, st: EvalState): boolean | undefined {
  if (typeof y === 'string') return toText(x) === y;
  if (typeof y === 'number') {
    const n = toInteger(x, st);
    return n === undefined ? undefined : n === y;
  }
  const b = toBoolean(x, st);
  return b === undefined ? undefined : b === y;
}

/** `x IN (...)`: each element is cast to x's type (spec 3.7, the IN rule). */
export function equalsByLeftType(x: CesqlValue, y: CesqlValue, st: EvalState): boolean | undefined {
  if (typeof x === 'string') return toText(y) === x;
  if (typeof x === 'number') {
    const n = toInteger(y, st);
    return n === undefined ? undefined : n === x;
  }
  const b = toBoolean(y, st);
  return b === undefined ? undefined : b === x;
}

const SURROGATE = /[\uD800-\uDFFF]/;

/**
 * CESQL counts Unicode characters, JavaScript UTF-16 units: split into code points only
 * when the string has a surrogate pair, which keeps the common case free.
 */
export function codePoints(s: string): string[] | undefined {
  return SURROGATE.test(s) ? Array.from(s) : undefined;
}
