import type { BinaryOperator, CesqlNode } from './ast.js';
import { CesqlParseError, type CesqlEvaluationError } from './cesql-errors.js';
import { resolveFunction, type ParamType } from './functions.js';
import { compileLikePattern } from './like-pattern.js';
import {
  castTo, equalsByLeftType, equalsByRightType, MISSING, parseBoolean, parseInteger, toBoolean, toInteger, toText, zeroOf,
  type CesqlAttributes, type CesqlType, type CesqlValue, type EvalState, type Evaluator,
} from './values.js';

// Turns the syntax tree into a tree of closures, once, when a Trigger is applied: the
// per-event work is then a few function calls with no dispatch on node types. Common
// shapes (`attr = 'x'`, `attr LIKE 'x%'`, `attr IN ('a', 'b')`) get closures of their own.
//
// Errors propagate as zero values: an operator or function whose operand raised an error
// (a missing attribute, a failed cast, a division by zero) returns the zero value of its
// own return type, which is what the TCK expects of `true AND (1 != 1 / 0)` (false) and of
// `missing / 0` (0, with only the missing-attribute error). Each closure notices an error
// below it by the length of the error list growing, one integer comparison.

/** Deeper trees are refused: they would only come from generated or hostile expressions. */
export const MAX_DEPTH = 500;

export interface CompileContext {
  readonly source: string;
  readonly attributeTypes: Readonly<Record<string, CesqlType>>;
}

type Reader = (a: CesqlAttributes) => string | number | boolean | undefined;

/** Reads an attribute without ever finding Object.prototype's members (`constructor`). */
export function attributeReader(name: string): Reader {
  return name in Object.prototype
    ? (a) => (Object.prototype.hasOwnProperty.call(a, name) ? a[name] : undefined)
    : (a) => a[name];
}

export function compileNode(node: CesqlNode, ctx: CompileContext, depth = 0): Evaluator {
  if (depth > MAX_DEPTH) {
    throw new CesqlParseError(`expression is nested more than ${MAX_DEPTH} levels deep`, { position: node.pos, expression: ctx.source });
  }
  const sub = (n: CesqlNode): Evaluator => compileNode(n, ctx, depth + 1);
  switch (node.type) {
    case 'literal': {
      const v = node.value;
      return () => v;
    }
    case 'attribute':
      return attribute(node.name, ctx);
    case 'exists': {
      const read = attributeReader(node.name);
      return (a) => read(a) !== undefined;
    }
    case 'not': {
      const operand = sub(node.operand);
      return (a, st) => {
        const e = st.errors.length;
        const v = operand(a, st);
        if (st.errors.length !== e) return false;
        const b = toBoolean(v as CesqlValue, st);
        return b === undefined ? false : !b;
      };
    }
    case 'negate': {
      const operand = sub(node.operand);
      return (a, st) => {
        const e = st.errors.length;
        const v = operand(a, st);
        if (st.errors.length !== e) return 0;
        const n = toInteger(v as CesqlValue, st);
        return n === undefined ? 0 : -n | 0; // two's complement: -(-2^31) wraps
      };
    }
    case 'binary':
      return binary(node, ctx, depth, sub);
    case 'like':
      return like(node.operand, node.pattern, node.negated, ctx, sub);
    case 'in':
      return inSet(node.operand, node.set, node.negated, ctx, sub);
    case 'call':
      return call(node.name, node.args, node.pos, ctx, sub);
  }
}

function attribute(name: string, ctx: CompileContext): Evaluator {
  const read = attributeReader(name);
  const missing: CesqlEvaluationError = Object.freeze({ kind: 'missingAttribute', message: `missing attribute "${name}"` });
  const declared = ctx.attributeTypes[name];
  if (declared === 'integer' || declared === 'boolean') {
    // A known typed attribute arrives as its canonical string; give it its type back.
    const parse = declared === 'integer' ? parseInteger : parseBoolean;
    return (a, st) => {
      const v = read(a);
      if (v === undefined) {
        st.push(missing);
        return MISSING;
      }
      return typeof v === 'string' ? (parse(v) ?? v) : v;
    };
  }
  return (a, st) => {
    const v = read(a);
    if (v === undefined) {
      st.push(missing);
      return MISSING;
    }
    return v;
  };
}

/**
 * For the common shapes on a plain (string) attribute: the reader and the prebuilt
 * missing-attribute error, so the shape's closure reads the attribute itself instead of
 * calling through an attribute closure. Undefined for typed attributes.
 */
function plainAttribute(node: CesqlNode, ctx: CompileContext): { read: Reader; missing: CesqlEvaluationError } | undefined {
  if (node.type !== 'attribute' || ctx.attributeTypes[node.name] !== undefined) return undefined;
  return {
    read: attributeReader(node.name),
    missing: Object.freeze({ kind: 'missingAttribute', message: `missing attribute "${node.name}"` }),
  };
}

/** Flattens `a AND b AND c` (left-deep in the tree) into one list, so long chains do not recurse. */
function chain(node: CesqlNode, op: BinaryOperator): CesqlNode[] {
  const out: CesqlNode[] = [];
  let cur = node;
  while (cur.type === 'binary' && cur.op === op) {
    out.push(cur.right);
    cur = cur.left;
  }
  out.push(cur);
  return out.reverse();
}

/** An AND/OR operand as a boolean; an error in it (or in its cast) counts as `undefined`. */
function operandBool(f: Evaluator, a: CesqlAttributes, st: EvalState): boolean | undefined {
  const e = st.errors.length;
  const v = f(a, st);
  if (st.errors.length !== e) return undefined;
  return v === true ? true : v === false ? false : toBoolean(v as CesqlValue, st);
}

function binary(node: Extract<CesqlNode, { type: 'binary' }>, ctx: CompileContext, depth: number, sub: (n: CesqlNode) => Evaluator): Evaluator {
  const op = node.op;
  if (op === 'AND' || op === 'OR') {
    // Short-circuit (spec 3.4.2): AND stops at the first false, OR at the first true.
    const parts = chain(node, op).map((n) => compileNode(n, ctx, depth + 1));
    // An operand in error ends the chain with the zero value, false. Two operands (the
    // usual case) get a closure of their own, about three times faster than the loop in V8.
    const stopAt = op === 'OR';
    if (parts.length === 2) {
      const [l, r] = parts as [Evaluator, Evaluator];
      return (a, st) => {
        const e = st.errors.length;
        const x = l(a, st);
        if (st.errors.length !== e) return false;
        const bx = x === true ? true : x === false ? false : toBoolean(x as CesqlValue, st);
        if (bx === undefined) return false;
        if (bx === stopAt) return stopAt;
        const y = r(a, st);
        if (st.errors.length !== e) return false;
        const by = y === true ? true : y === false ? false : toBoolean(y as CesqlValue, st);
        return by === undefined ? false : by;
      };
    }
    return (a, st) => {
      for (let i = 0; i < parts.length; i++) {
        const b = operandBool(parts[i] as Evaluator, a, st);
        if (b === undefined) return false;
        if (b === stopAt) return stopAt;
      }
      return !stopAt;
    };
  }
  if ((op === '=' || op === '!=' || op === '<>') && node.left.type === 'attribute' && node.right.type === 'literal' && typeof node.right.value === 'string') {
    return attributeEqualsText(node.left, node.right.value, op === '=', ctx);
  }
  const l = sub(node.left);
  const r = sub(node.right);
  switch (op) {
    case 'XOR':
      return (a, st) => {
        const e = st.errors.length;
        const x = l(a, st);
        const y = r(a, st);
        if (st.errors.length !== e) return false;
        const bx = toBoolean(x as CesqlValue, st);
        const by = toBoolean(y as CesqlValue, st);
        return bx === undefined || by === undefined ? false : bx !== by;
      };
    case '=':
    case '!=':
    case '<>': {
      const equal = op === '=';
      return (a, st) => {
        const e = st.errors.length;
        const x = l(a, st);
        const y = r(a, st);
        if (st.errors.length !== e) return false;
        const eq = equalsByRightType(x as CesqlValue, y as CesqlValue, st);
        return eq === undefined ? false : eq === equal;
      };
    }
    default:
      return arithmeticOrOrder(op, l, r);
  }
}

function attributeEqualsText(left: CesqlNode, text: string, equal: boolean, ctx: CompileContext): Evaluator {
  const plain = plainAttribute(left, ctx);
  if (plain) {
    const { read, missing } = plain;
    return (a, st) => {
      const v = read(a);
      if (v === undefined) {
        st.push(missing);
        return false;
      }
      return (typeof v === 'string' ? v === text : toText(v) === text) === equal;
    };
  }
  const value = compileNode(left, ctx);
  return (a, st) => {
    const v = value(a, st);
    if (v === MISSING) return false;
    return (typeof v === 'string' ? v === text : toText(v as CesqlValue) === text) === equal;
  };
}

type IntOp = (x: number, y: number, st: EvalState) => CesqlValue;

const INT_OPS: Partial<Record<BinaryOperator, IntOp>> = {
  '+': (x, y) => (x + y) | 0,
  '-': (x, y) => (x - y) | 0,
  '*': (x, y) => Math.imul(x, y),
  '/': (x, y, st) => {
    if (y === 0) {
      st.fail('math', 'division by zero');
      return 0;
    }
    return (x / y) | 0; // truncated toward zero
  },
  '%': (x, y, st) => {
    if (y === 0) {
      st.fail('math', 'modulo by zero');
      return 0;
    }
    return (x % y) | 0; // sign of the dividend
  },
  '<': (x, y) => x < y,
  '<=': (x, y) => x <= y,
  '>': (x, y) => x > y,
  '>=': (x, y) => x >= y,
};

function arithmeticOrOrder(op: BinaryOperator, l: Evaluator, r: Evaluator): Evaluator {
  const fn = INT_OPS[op] as IntOp;
  const zero = op === '<' || op === '<=' || op === '>' || op === '>=' ? false : 0;
  return (a, st) => {
    const e = st.errors.length;
    const x = l(a, st);
    const y = r(a, st);
    if (st.errors.length !== e) return zero;
    const ix = toInteger(x as CesqlValue, st);
    const iy = toInteger(y as CesqlValue, st);
    if (ix === undefined || iy === undefined) return zero;
    return fn(ix, iy, st);
  };
}

function like(operand: CesqlNode, pattern: string, negated: boolean, ctx: CompileContext, sub: (n: CesqlNode) => Evaluator): Evaluator {
  const match = compileLikePattern(pattern);
  const plain = plainAttribute(operand, ctx);
  if (plain) {
    const { read, missing } = plain;
    return (a, st) => {
      const v = read(a);
      if (v === undefined) {
        st.push(missing);
        return false;
      }
      return match(typeof v === 'string' ? v : toText(v)) !== negated;
    };
  }
  const value = sub(operand);
  return (a, st) => {
    const e = st.errors.length;
    const v = value(a, st);
    if (st.errors.length !== e) return false;
    return match(typeof v === 'string' ? v : toText(v as CesqlValue)) !== negated;
  };
}

function inSet(operand: CesqlNode, set: CesqlNode[], negated: boolean, ctx: CompileContext, sub: (n: CesqlNode) => Evaluator): Evaluator {
  const literals = set.every((n) => n.type === 'literal') ? set.map((n) => (n as { value: CesqlValue }).value) : undefined;
  // Attributes are strings, and every literal casts to a string without error: one Set lookup.
  const texts = literals ? new Set(literals.map(toText)) : undefined;
  const value = sub(operand);
  const elements = set.map(sub);
  const plain = plainAttribute(operand, ctx);
  if (plain && texts) {
    const { read, missing } = plain;
    return (a, st) => {
      const v = read(a);
      if (v === undefined) {
        st.push(missing);
        return false;
      }
      // A typed (non-string) value casts the elements to its type: the general path.
      return typeof v === 'string' ? texts.has(v) !== negated : general(a, st);
    };
  }
  return general;

  function general(a: CesqlAttributes, st: EvalState): boolean {
    const e = st.errors.length;
    const v = value(a, st);
    if (st.errors.length !== e) return false;
    if (texts && typeof v === 'string') return texts.has(v) !== negated;
    for (let i = 0; i < elements.length; i++) {
      const y = (elements[i] as Evaluator)(a, st);
      if (st.errors.length !== e) return false; // an element in error: zero value
      const eq = equalsByLeftType(v as CesqlValue, y as CesqlValue, st);
      if (eq === undefined) return false;
      if (eq) return !negated;
    }
    return negated;
  }
}

function call(name: string, argNodes: CesqlNode[], pos: number, ctx: CompileContext, sub: (n: CesqlNode) => Evaluator): Evaluator {
  const found = resolveFunction(name, argNodes.length);
  if (!found.ok) {
    throw new CesqlParseError(`${found.reason} at position ${pos}`, { kind: 'missingFunction', position: pos, expression: ctx.source });
  }
  const fn = found.fn;
  const args = argNodes.map(sub);
  const types: ParamType[] = args.map((_, i) => fn.params[i] ?? fn.variadic ?? 'any');
  const zero = zeroOf(fn.returns);
  const n = args.length;
  return (a, st) => {
    const e = st.errors.length;
    const values: CesqlValue[] = new Array<CesqlValue>(n);
    for (let i = 0; i < n; i++) {
      const v = (args[i] as Evaluator)(a, st) as CesqlValue;
      const type = types[i] as ParamType;
      values[i] = type === 'any' ? v : (castTo(v, type, st) as CesqlValue);
    }
    // An argument in error, or one that did not cast: the zero value of the return type.
    return st.errors.length !== e ? zero : fn.impl(values, st);
  };
}
