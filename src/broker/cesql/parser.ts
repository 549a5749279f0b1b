import { EmbeddedActionsParser, type IRecognitionException, type IToken, type TokenType } from 'chevrotain';
import type { BinaryOperator, CesqlNode } from './ast.js';
import { CesqlParseError } from './cesql-errors.js';
import {
  allTokens, And, Comma, cesqlLexer, DoubleQuotedString, Equal, Exists, False, Greater, GreaterEqual,
  Identifier, In, IntegerLiteral, Less, LessEqual, LessGreater, Like, LParen, Minus, Not, NotEqual,
  Or, Percent, Plus, RParen, SingleQuotedString, Slash, Star, True, Xor,
} from './lexer.js';

// Grammar, lowest precedence first (CESQL v1 section 3.6; equal precedence associates
// left to right, and AND, OR and XOR share one level, exactly as the spec lists them):
//   expression     := comparison ((AND | OR | XOR) comparison)*
//   comparison     := additive ((= | != | <> | < | <= | > | >=) additive)*
//   additive       := multiplicative ((+ | -) multiplicative)*
//   multiplicative := postfix ((* | / | %) postfix)*
//   postfix        := unary (NOT? LIKE string | NOT? IN '(' expression (',' expression)* ')')*
//   unary          := NOT unary | '-' integer | '+' integer | '-' unary | primary
//   primary        := TRUE | FALSE | integer | string | EXISTS identifier
//                   | function '(' (expression (',' expression)*)? ')' | identifier | '(' expression ')'

const INT_MIN = -2147483648;
const INT_MAX = 2147483647;
/** Expressions longer than this are refused: a Trigger filter is a predicate, not a program. */
export const MAX_EXPRESSION_LENGTH = 65536;

const ATTRIBUTE_NAME = /^[a-zA-Z0-9]+$/;
const FUNCTION_NAME = /^[a-zA-Z][a-zA-Z_]*$/;

const OPERATOR_OF = new Map<TokenType, BinaryOperator>([
  [And, 'AND'], [Or, 'OR'], [Xor, 'XOR'],
  [Equal, '='], [NotEqual, '!='], [LessGreater, '<>'], [Less, '<'], [LessEqual, '<='], [Greater, '>'], [GreaterEqual, '>='],
  [Plus, '+'], [Minus, '-'], [Star, '*'], [Slash, '/'], [Percent, '%'],
]);

class CesqlParser extends EmbeddedActionsParser {
  /** The expression being parsed, for error messages raised from actions. */
  source = '';

  constructor() {
    super(allTokens, { maxLookahead: 3 });
    this.performSelfAnalysis();
  }

  #binary(left: CesqlNode, op: IToken, right: CesqlNode): CesqlNode {
    return { type: 'binary', op: OPERATOR_OF.get(op.tokenType) as BinaryOperator, left, right, pos: left.pos };
  }

  #integer(token: IToken, negative: boolean, pos: number): CesqlNode {
    const value = Number(token.image) * (negative ? -1 : 1);
    if (value < INT_MIN || value > INT_MAX) {
      throw new CesqlParseError(`integer literal ${negative ? '-' : ''}${token.image} at position ${pos} is outside the 32-bit range`, {
        position: pos,
        expression: this.source,
      });
    }
    return { type: 'literal', value: value === 0 ? 0 : value, pos };
  }

  #attributeName(token: IToken): string {
    if (!ATTRIBUTE_NAME.test(token.image)) {
      throw new CesqlParseError(
        `invalid attribute name "${token.image}" at position ${token.startOffset} (attribute names are letters and digits)`,
        { position: token.startOffset, expression: this.source },
      );
    }
    // Attribute names are lower case in CloudEvents; identifiers are matched like keywords.
    return token.image.toLowerCase();
  }

  readonly expression = this.RULE('expression', (): CesqlNode => {
    let left = this.SUBRULE(this.comparison);
    this.MANY(() => {
      const op = this.OR([{ ALT: () => this.CONSUME(And) }, { ALT: () => this.CONSUME(Or) }, { ALT: () => this.CONSUME(Xor) }]);
      const right = this.SUBRULE2(this.comparison);
      left = this.ACTION(() => this.#binary(left, op, right));
    });
    return left;
  });

  readonly comparison = this.RULE('comparison', (): CesqlNode => {
    let left = this.SUBRULE(this.additive);
    this.MANY(() => {
      const op = this.OR([
        { ALT: () => this.CONSUME(Equal) },
        { ALT: () => this.CONSUME(NotEqual) },
        { ALT: () => this.CONSUME(LessGreater) },
        { ALT: () => this.CONSUME(LessEqual) },
        { ALT: () => this.CONSUME(GreaterEqual) },
        { ALT: () => this.CONSUME(Less) },
        { ALT: () => this.CONSUME(Greater) },
      ]);
      const right = this.SUBRULE2(this.additive);
      left = this.ACTION(() => this.#binary(left, op, right));
    });
    return left;
  });

  readonly additive = this.RULE('additive', (): CesqlNode => {
    let left = this.SUBRULE(this.multiplicative);
    this.MANY(() => {
      const op = this.OR([{ ALT: () => this.CONSUME(Plus) }, { ALT: () => this.CONSUME(Minus) }]);
      const right = this.SUBRULE2(this.multiplicative);
      left = this.ACTION(() => this.#binary(left, op, right));
    });
    return left;
  });

  readonly multiplicative = this.RULE('multiplicative', (): CesqlNode => {
    let left = this.SUBRULE(this.postfix);
    this.MANY(() => {
      const op = this.OR([{ ALT: () => this.CONSUME(Star) }, { ALT: () => this.CONSUME(Slash) }, { ALT: () => this.CONSUME(Percent) }]);
      const right = this.SUBRULE2(this.postfix);
      left = this.ACTION(() => this.#binary(left, op, right));
    });
    return left;
  });

  readonly postfix = this.RULE('postfix', (): CesqlNode => {
    let operand = this.SUBRULE(this.unary);
    this.MANY(() => {
      let negated = false;
      this.OPTION(() => {
        this.CONSUME(Not);
        negated = true;
      });
      this.OR([
        {
          ALT: () => {
            this.CONSUME(Like);
            const pattern = this.SUBRULE(this.likePattern);
            operand = this.ACTION(() => ({ type: 'like', operand, pattern, negated, pos: operand.pos }));
          },
        },
        {
          ALT: () => {
            this.CONSUME(In);
            this.CONSUME(LParen);
            const set: CesqlNode[] = [];
            this.AT_LEAST_ONE_SEP({ SEP: Comma, DEF: () => set.push(this.SUBRULE(this.expression)) });
            this.CONSUME(RParen);
            operand = this.ACTION(() => ({ type: 'in', operand, set, negated, pos: operand.pos }));
          },
        },
      ]);
    });
    return operand;
  });

  // Its own rule so that an error here can say what a LIKE pattern must be.
  readonly likePattern = this.RULE('likePattern', (): string => {
    const token = this.OR([{ ALT: () => this.CONSUME(SingleQuotedString) }, { ALT: () => this.CONSUME(DoubleQuotedString) }]);
    return this.ACTION(() => unquote(token.image));
  });

  readonly unary = this.RULE('unary', (): CesqlNode => {
    return this.OR([
      {
        ALT: () => {
          const not = this.CONSUME(Not);
          const operand = this.SUBRULE(this.unary);
          return this.ACTION((): CesqlNode => ({ type: 'not', operand, pos: not.startOffset }));
        },
      },
      {
        // A sign directly before digits is part of the literal, so -2147483648 is valid.
        IGNORE_AMBIGUITIES: true,
        ALT: () => {
          const sign = this.OR2([{ ALT: () => this.CONSUME2(Minus) }, { ALT: () => this.CONSUME(Plus) }]);
          const digits = this.CONSUME(IntegerLiteral);
          return this.ACTION(() => this.#integer(digits, sign.tokenType === Minus, sign.startOffset));
        },
      },
      {
        ALT: () => {
          const minus = this.CONSUME(Minus);
          const operand = this.SUBRULE2(this.unary);
          return this.ACTION((): CesqlNode => ({ type: 'negate', operand, pos: minus.startOffset }));
        },
      },
      { ALT: () => this.SUBRULE(this.primary) },
    ]);
  });

  readonly primary = this.RULE('primary', (): CesqlNode => {
    return this.OR([
      { ALT: () => this.#bool(this.CONSUME(True), true) },
      { ALT: () => this.#bool(this.CONSUME(False), false) },
      {
        ALT: () => {
          const digits = this.CONSUME2(IntegerLiteral);
          return this.ACTION(() => this.#integer(digits, false, digits.startOffset));
        },
      },
      {
        ALT: () => {
          const s = this.OR2([{ ALT: () => this.CONSUME2(SingleQuotedString) }, { ALT: () => this.CONSUME2(DoubleQuotedString) }]);
          return this.ACTION((): CesqlNode => ({ type: 'literal', value: unquote(s.image), pos: s.startOffset }));
        },
      },
      {
        ALT: () => {
          const exists = this.CONSUME(Exists);
          const name = this.CONSUME(Identifier);
          return this.ACTION((): CesqlNode => ({ type: 'exists', name: this.#attributeName(name), pos: exists.startOffset }));
        },
      },
      {
        ALT: () => {
          const fn = this.CONSUME2(Identifier);
          this.CONSUME(LParen);
          const args: CesqlNode[] = [];
          this.MANY_SEP({ SEP: Comma, DEF: () => args.push(this.SUBRULE2(this.expression)) });
          this.CONSUME(RParen);
          return this.ACTION((): CesqlNode => {
            if (!FUNCTION_NAME.test(fn.image)) {
              throw new CesqlParseError(`invalid function name "${fn.image}" at position ${fn.startOffset}`, {
                position: fn.startOffset,
                expression: this.source,
              });
            }
            return { type: 'call', name: fn.image.toUpperCase(), args, pos: fn.startOffset };
          });
        },
      },
      {
        ALT: () => {
          const id = this.CONSUME3(Identifier);
          return this.ACTION((): CesqlNode => ({ type: 'attribute', name: this.#attributeName(id), pos: id.startOffset }));
        },
      },
      {
        ALT: () => {
          this.CONSUME2(LParen);
          const inner = this.SUBRULE3(this.expression);
          this.CONSUME2(RParen);
          return inner;
        },
      },
    ]);
  });

  #bool(token: IToken, value: boolean): CesqlNode {
    return { type: 'literal', value, pos: token.startOffset };
  }
}

/** Strips the quotes and resolves `\'`, `''` (or `\"`, `""`) and `\\`; other backslashes stay as written. */
export function unquote(image: string): string {
  const q = image[0] ?? '';
  const body = image.slice(1, -1);
  if (!body.includes('\\') && !body.includes(q)) return body;
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i] as string;
    const next = body[i + 1];
    if (c === '\\' && (next === q || next === '\\')) {
      out += next;
      i++;
    } else if (c === q) {
      out += q; // the lexer only lets a quote through doubled
      i++;
    } else {
      out += c;
    }
  }
  return out;
}

let parser: CesqlParser | undefined;

/** Parses a CESQL v1 expression into its syntax tree; throws CesqlParseError with the position. */
export function parseCesql(expression: string): CesqlNode {
  if (typeof expression !== 'string') {
    throw new CesqlParseError('expression must be a string', { position: 0, expression: String(expression) });
  }
  if (expression.length > MAX_EXPRESSION_LENGTH) {
    throw new CesqlParseError(`expression is ${expression.length} characters long; the limit is ${MAX_EXPRESSION_LENGTH}`, {
      position: MAX_EXPRESSION_LENGTH,
      expression,
    });
  }
  const lexed = cesqlLexer.tokenize(expression);
  const lexError = lexed.errors[0];
  if (lexError) {
    const at = lexError.offset;
    const ch = expression[at] ?? '';
    const message =
      ch === "'" || ch === '"'
        ? `unterminated string literal at position ${at}`
        : `unexpected character ${JSON.stringify(ch)} at position ${at}`;
    throw new CesqlParseError(message, { position: at, expression });
  }
  if (lexed.tokens.length === 0) throw new CesqlParseError('empty expression', { position: 0, expression });
  parser ??= new CesqlParser();
  parser.source = expression;
  parser.input = lexed.tokens;
  let ast: CesqlNode;
  try {
    ast = parser.expression();
  } catch (err) {
    // The parser was left mid-rule: build a fresh one next time rather than trust its state.
    parser = undefined;
    if (err instanceof RangeError) {
      throw new CesqlParseError('expression is nested too deeply', { position: 0, expression }, { cause: err });
    }
    throw err;
  }
  parser.source = '';
  const syntaxError = parser.errors[0];
  if (syntaxError) throw toParseError(syntaxError, expression);
  return ast;
}

function toParseError(err: IRecognitionException, expression: string): CesqlParseError {
  const token = err.token;
  const atEnd = token.tokenType.name === 'EOF' || Number.isNaN(token.startOffset);
  const rules = err.context.ruleStack;
  const hint = rules[rules.length - 1] === 'likePattern' ? ' (a LIKE pattern must be a string literal)' : '';
  if (atEnd) {
    return new CesqlParseError(`unexpected end of expression at position ${expression.length}${hint}`, { position: expression.length, expression }, { cause: err });
  }
  return new CesqlParseError(`unexpected token ${JSON.stringify(token.image)} at position ${token.startOffset}${hint}`, {
    position: token.startOffset,
    expression,
  }, { cause: err });
}
