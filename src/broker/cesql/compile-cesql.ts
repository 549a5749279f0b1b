import type { CesqlEvaluationError } from './cesql-errors.js';
import { compileNode } from './compile-node.js';
import { parseCesql } from './parser.js';
import { EvalState, MISSING, type CesqlAttributes, type CesqlType, type CesqlValue } from './values.js';

/**
 * Attributes whose canonical string form stands for another CESQL type. Everything else
 * is a String (spec 3.2): CloudEvents core attributes are strings, URIs or timestamps.
 * Knative's broker TTL travels as an integer extension.
 */
export const DEFAULT_ATTRIBUTE_TYPES: Readonly<Record<string, CesqlType>> = Object.freeze({ knativebrokerttl: 'integer' });

export interface CesqlCompileOptions {
  /** Types of known non-string attributes; defaults to DEFAULT_ATTRIBUTE_TYPES. */
  attributeTypes?: Readonly<Record<string, CesqlType>>;
}

export interface CesqlResult {
  /** The primary output; `false` when the top expression is a missing attribute. */
  readonly value: CesqlValue;
  /** Errors met on the way (complete evaluation mode); empty when none. */
  readonly errors: readonly CesqlEvaluationError[];
}

export interface CesqlExpression {
  /** The expression as written. */
  readonly source: string;
  /** Complete evaluation: the value and every error met (spec 4.1). */
  evaluate(attributes: CesqlAttributes): CesqlResult;
  /**
   * Filter semantics (spec 1.2): true only when the value is the Boolean `true` and no
   * error occurred. Allocation-free unless an error occurs.
   */
  matches(attributes: CesqlAttributes): boolean;
}

/**
 * Parses and compiles a CloudEvents SQL v1 expression once. Throws CesqlParseError
 * (kind `parse` or `missingFunction`) with the position when it cannot be compiled.
 */
export function compileCesql(expression: string, options: CesqlCompileOptions = {}): CesqlExpression {
  const ast = parseCesql(expression);
  const root = compileNode(ast, { source: expression, attributeTypes: options.attributeTypes ?? DEFAULT_ATTRIBUTE_TYPES });
  const shared = new EvalState();
  return {
    source: expression,
    evaluate(attributes) {
      const st = new EvalState();
      const v = root(attributes, st);
      // A bare missing attribute has no type to take a zero value from: Boolean (spec 3.2).
      return { value: v === MISSING ? false : v, errors: st.errors };
    },
    matches(attributes) {
      shared.reset();
      const v = root(attributes, shared);
      return v === true && shared.errors.length === 0;
    },
  };
}
