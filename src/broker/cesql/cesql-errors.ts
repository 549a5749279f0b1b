import { SluiceError } from '../../errors.js';

// CESQL has two kinds of failure. An expression that cannot be compiled (bad syntax,
// a LIKE pattern that is not a string literal, an unknown function) is rejected once, when
// the Trigger is applied: that is a thrown CesqlParseError. Evaluation itself is total: it
// always yields a value, and the things that went wrong on the way (a missing attribute,
// a failed cast, a division by zero) are collected as CesqlEvaluationErrors next to it, as
// the spec's "complete evaluation mode" describes. Those are plain records, never thrown,
// because building Error objects (with stacks) per event would cost more than the filter.

/** Why an expression could not be compiled: `parse` (syntax) or `missingFunction` (unknown name or arity). */
export type CesqlCompileErrorKind = 'parse' | 'missingFunction';

/** A CESQL expression failed to compile; `position` is the 0-based character offset. */
export class CesqlParseError extends SluiceError {
  readonly code = 'SLUICE_ERR_INVALID_CESQL';
  override readonly statusCode = 400;
  readonly kind: CesqlCompileErrorKind;
  /** 0-based offset in the expression; -1 at the end of the input. */
  readonly position: number;
  readonly expression: string;
  constructor(
    message: string,
    args: { kind?: CesqlCompileErrorKind; position: number; expression: string },
    options?: { cause?: unknown },
  ) {
    super(`cesql: ${message}`, options);
    this.kind = args.kind ?? 'parse';
    this.position = args.position;
    this.expression = args.expression;
  }
}

/** The error kinds of CESQL v1 section 3.3 that can happen while evaluating. */
export type CesqlEvaluationErrorKind =
  | 'math'
  | 'cast'
  | 'missingAttribute'
  | 'missingFunction'
  | 'functionEvaluation';

/** One error collected while evaluating an expression (never thrown). */
export interface CesqlEvaluationError {
  readonly kind: CesqlEvaluationErrorKind;
  readonly message: string;
}
