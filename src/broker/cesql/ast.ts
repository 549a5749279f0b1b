// The abstract syntax tree the parser produces and the compiler turns into closures.
// Every node keeps the 0-based offset it starts at, so that compile-time errors (an
// unknown function, a bad arity) can point into the expression like parse errors do.

export type CesqlLiteralValue = string | number | boolean;

export type BinaryOperator =
  | '*' | '/' | '%'
  | '+' | '-'
  | '=' | '!=' | '<>' | '<' | '<=' | '>' | '>='
  | 'AND' | 'OR' | 'XOR';

export type CesqlNode =
  | { type: 'literal'; value: CesqlLiteralValue; pos: number }
  | { type: 'attribute'; name: string; pos: number }
  | { type: 'exists'; name: string; pos: number }
  | { type: 'not'; operand: CesqlNode; pos: number }
  | { type: 'negate'; operand: CesqlNode; pos: number }
  | { type: 'binary'; op: BinaryOperator; left: CesqlNode; right: CesqlNode; pos: number }
  | { type: 'like'; operand: CesqlNode; pattern: string; negated: boolean; pos: number }
  | { type: 'in'; operand: CesqlNode; set: CesqlNode[]; negated: boolean; pos: number }
  | { type: 'call'; name: string; args: CesqlNode[]; pos: number };
