// CloudEvents SQL v1 (CESQL): parse once, evaluate many times over event attributes.
export { compileCesql, DEFAULT_ATTRIBUTE_TYPES } from './compile-cesql.js';
export type { CesqlCompileOptions, CesqlExpression, CesqlResult } from './compile-cesql.js';
export { CesqlParseError } from './cesql-errors.js';
export type { CesqlCompileErrorKind, CesqlEvaluationError, CesqlEvaluationErrorKind } from './cesql-errors.js';
export { parseCesql, MAX_EXPRESSION_LENGTH } from './parser.js';
export type { CesqlNode, BinaryOperator, CesqlLiteralValue } from './ast.js';
export { MAX_DEPTH, attributeReader } from './compile-node.js';
export { builtinFunctionNames } from './functions.js';
export type { CesqlAttributes, CesqlType, CesqlValue } from './values.js';
