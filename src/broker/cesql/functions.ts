import {
  codePoints, INT_MAX, INT_MIN, parseBoolean, parseInteger, toBoolean, toInteger, toText,
  type CesqlType, type CesqlValue, type EvalState,
} from './values.js';

// The built-in functions of CESQL v1 (section 3.5) plus the casting and type-test
// functions (INT, BOOL, STRING, IS_BOOL, IS_INT) that CESQL engines, the TCK and
// Knative's expressions use. Arguments arrive already cast to the parameter types;
// `any` parameters arrive as they are. Every function is total: on a bad argument it
// records a functionEvaluation or math error and still returns a value of its type.

export type ParamType = CesqlType | 'any';

export interface CesqlFunction {
  /** Upper-case name; calls are matched case-insensitively. */
  readonly name: string;
  /** Fixed parameters. */
  readonly params: readonly ParamType[];
  /** Type of any further arguments, for variadic functions. */
  readonly variadic?: ParamType;
  readonly returns: CesqlType;
  readonly impl: (args: CesqlValue[], st: EvalState) => CesqlValue;
}

const WHITESPACE_EDGES = /^\p{White_Space}+|\p{White_Space}+$/gu;

function length(s: string): number {
  return codePoints(s)?.length ?? s.length;
}

/** Slice by characters (code points), [start, end). */
function sliceChars(s: string, start: number, end?: number): string {
  const cps = codePoints(s);
  return cps ? cps.slice(start, end).join('') : s.slice(start, end);
}

function substring(args: CesqlValue[], st: EvalState): string {
  const s = args[0] as string;
  const pos = args[1] as number;
  const len = args.length > 2 ? (args[2] as number) : undefined;
  const n = length(s);
  if (pos > n || pos < -n) {
    st.fail('functionEvaluation', `SUBSTRING: position ${pos} is outside a string of length ${n}`);
    return '';
  }
  if (len !== undefined && len < 0) {
    st.fail('functionEvaluation', `SUBSTRING: length ${len} is negative`);
    return '';
  }
  if (pos === 0) return '';
  const start = pos > 0 ? pos - 1 : n + pos;
  return sliceChars(s, start, len === undefined ? undefined : start + len);
}

const BUILTINS: CesqlFunction[] = [
  {
    name: 'ABS',
    params: ['integer'],
    returns: 'integer',
    impl: ([x], st) => {
      if (x === INT_MIN) {
        st.fail('math', 'ABS: the absolute value of -2147483648 does not fit in 32 bits');
        return INT_MAX;
      }
      return Math.abs(x as number);
    },
  },
  { name: 'LENGTH', params: ['string'], returns: 'integer', impl: ([s]) => length(s as string) },
  { name: 'CONCAT', params: [], variadic: 'string', returns: 'string', impl: (args) => args.join('') },
  {
    name: 'CONCAT_WS',
    params: ['string'],
    variadic: 'string',
    returns: 'string',
    impl: (args) => args.slice(1).join(args[0] as string),
  },
  { name: 'LOWER', params: ['string'], returns: 'string', impl: ([s]) => (s as string).toLowerCase() },
  { name: 'UPPER', params: ['string'], returns: 'string', impl: ([s]) => (s as string).toUpperCase() },
  { name: 'TRIM', params: ['string'], returns: 'string', impl: ([s]) => (s as string).replace(WHITESPACE_EDGES, '') },
  {
    name: 'LEFT',
    params: ['string', 'integer'],
    returns: 'string',
    impl: ([s, y], st) => {
      if ((y as number) < 0) {
        st.fail('functionEvaluation', `LEFT: length ${y} is negative`);
        return s as string;
      }
      return sliceChars(s as string, 0, y as number);
    },
  },
  {
    name: 'RIGHT',
    params: ['string', 'integer'],
    returns: 'string',
    impl: ([s, y], st) => {
      const str = s as string;
      const count = y as number;
      if (count < 0) {
        st.fail('functionEvaluation', `RIGHT: length ${count} is negative`);
        return str;
      }
      const n = length(str);
      return count >= n ? str : sliceChars(str, n - count);
    },
  },
  { name: 'SUBSTRING', params: ['string', 'integer'], returns: 'string', impl: substring },
  { name: 'SUBSTRING', params: ['string', 'integer', 'integer'], returns: 'string', impl: substring },
  { name: 'INT', params: ['any'], returns: 'integer', impl: ([x], st) => toInteger(x as CesqlValue, st) ?? 0 },
  { name: 'BOOL', params: ['any'], returns: 'boolean', impl: ([x], st) => toBoolean(x as CesqlValue, st) ?? false },
  { name: 'STRING', params: ['any'], returns: 'string', impl: ([x]) => toText(x as CesqlValue) },
  // "Is this a boolean (or the text of one)?": integers are not booleans here, although
  // they can be cast to one, because the question a filter asks is about the value's form.
  {
    name: 'IS_BOOL',
    params: ['any'],
    returns: 'boolean',
    impl: ([x]) => typeof x === 'boolean' || (typeof x === 'string' && parseBoolean(x) !== undefined),
  },
  {
    name: 'IS_INT',
    params: ['any'],
    returns: 'boolean',
    impl: ([x]) => typeof x === 'number' || (typeof x === 'string' && parseInteger(x) !== undefined),
  },
];

const BY_NAME = new Map<string, CesqlFunction[]>();
for (const fn of BUILTINS) {
  const list = BY_NAME.get(fn.name) ?? [];
  list.push(fn);
  BY_NAME.set(fn.name, list);
}

export type FunctionLookup =
  | { ok: true; fn: CesqlFunction }
  | { ok: false; reason: string };

/** Dispatch by name and arity (spec 3.5): a fixed-arity overload first, then the variadic one. */
export function resolveFunction(name: string, arity: number): FunctionLookup {
  const overloads = BY_NAME.get(name.toUpperCase());
  if (!overloads) return { ok: false, reason: `unknown function ${name}` };
  const fixed = overloads.find((f) => !f.variadic && f.params.length === arity);
  if (fixed) return { ok: true, fn: fixed };
  const variadic = overloads.find((f) => f.variadic && arity >= f.params.length);
  if (variadic) return { ok: true, fn: variadic };
  const arities = overloads.map((f) => (f.variadic ? `${f.params.length} or more` : String(f.params.length)));
  return { ok: false, reason: `function ${name.toUpperCase()} takes ${arities.join(' or ')} arguments, not ${arity}` };
}

/** Names of the built-in functions, for documentation and error messages. */
export const builtinFunctionNames: readonly string[] = [...BY_NAME.keys()];
