import { createToken, Lexer, type TokenType } from 'chevrotain';

// CESQL v1 tokens (spec section 2). Keywords are case-insensitive; a word that merely
// starts with a keyword (`int`, `notes`, `android`) is an identifier, hence `longer_alt`.
// Identifiers are lexed loosely (letters, digits and `_`) and checked by the parser,
// which knows whether the word names a function (`CONCAT_WS(`) or an attribute (`myext1`).

export const WhiteSpace = createToken({ name: 'WhiteSpace', pattern: /[ \t\r\n]+/, group: Lexer.SKIPPED });

// A string may contain its own quote escaped with a backslash (`'a\'b'`) or doubled
// (`'a''b'`), as the reference ANTLR lexer accepts; any other backslash pair is kept.
export const SingleQuotedString = createToken({ name: 'SingleQuotedString', pattern: /'(?:''|\\[\s\S]|[^'\\])*'/ });
export const DoubleQuotedString = createToken({ name: 'DoubleQuotedString', pattern: /"(?:""|\\[\s\S]|[^"\\])*"/ });

export const Identifier = createToken({ name: 'Identifier', pattern: /[a-zA-Z0-9_]*[a-zA-Z_][a-zA-Z0-9_]*/ });
export const IntegerLiteral = createToken({ name: 'IntegerLiteral', pattern: /[0-9]+/ });

function keyword(name: string): TokenType {
  return createToken({ name, pattern: new RegExp(name, 'i'), longer_alt: Identifier });
}

export const And = keyword('AND');
export const Or = keyword('OR');
export const Xor = keyword('XOR');
export const Not = keyword('NOT');
export const Like = keyword('LIKE');
export const Exists = keyword('EXISTS');
export const In = keyword('IN');
export const True = keyword('TRUE');
export const False = keyword('FALSE');

export const LParen = createToken({ name: 'LParen', pattern: '(' });
export const RParen = createToken({ name: 'RParen', pattern: ')' });
export const Comma = createToken({ name: 'Comma', pattern: ',' });

export const NotEqual = createToken({ name: 'NotEqual', pattern: '!=' });
export const LessGreater = createToken({ name: 'LessGreater', pattern: '<>' });
export const LessEqual = createToken({ name: 'LessEqual', pattern: '<=' });
export const GreaterEqual = createToken({ name: 'GreaterEqual', pattern: '>=' });
export const Less = createToken({ name: 'Less', pattern: '<' });
export const Greater = createToken({ name: 'Greater', pattern: '>' });
export const Equal = createToken({ name: 'Equal', pattern: '=' });
export const Plus = createToken({ name: 'Plus', pattern: '+' });
export const Minus = createToken({ name: 'Minus', pattern: '-' });
export const Star = createToken({ name: 'Star', pattern: '*' });
export const Slash = createToken({ name: 'Slash', pattern: '/' });
export const Percent = createToken({ name: 'Percent', pattern: '%' });

/** Order matters: keywords before Identifier, two-character operators before one-character ones. */
export const allTokens: TokenType[] = [
  WhiteSpace,
  SingleQuotedString,
  DoubleQuotedString,
  And, Or, Xor, Not, Like, Exists, In, True, False,
  Identifier,
  IntegerLiteral,
  LParen, RParen, Comma,
  NotEqual, LessGreater, LessEqual, GreaterEqual, Less, Greater, Equal,
  Plus, Minus, Star, Slash, Percent,
];

export const cesqlLexer = new Lexer(allTokens, { positionTracking: 'onlyOffset', ensureOptimizations: true });
