// Label and field selectors as `kubectl` sends them in `?labelSelector=` and `?fieldSelector=`.
// The grammar and its corner cases follow k8s.io/apimachinery (labels/selector.go, fields/selector.go)
// so that a selector Kubernetes accepts is accepted here and means the same thing.
import { InvalidSelectorError } from '../errors.js';

export type LabelMatcher = (labels: Readonly<Record<string, string>> | undefined) => boolean;

// ---------------------------------------------------------------------------------------------
// Label keys and values

const NAME_PART = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const NAME_RULE = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";

/** Why `key` is not a Kubernetes qualified name (`[prefix/]name`), or undefined when it is one. */
export function labelKeyProblem(key: string): string | undefined {
  const parts = key.split('/');
  if (parts.length > 2) return `invalid label key "${key}": must be a name with an optional DNS subdomain prefix and '/'`;
  const name = parts.length === 2 ? parts[1]! : parts[0]!;
  if (parts.length === 2) {
    const prefix = parts[0]!;
    if (prefix === '') return `invalid label key "${key}": prefix part must be non-empty`;
    if (prefix.length > 253) return `invalid label key "${key}": prefix part must be no more than 253 characters`;
    if (!DNS_SUBDOMAIN.test(prefix)) {
      return `invalid label key "${key}": prefix part must be a lowercase DNS subdomain (alphanumerics, '-' and '.')`;
    }
  }
  if (name === '') return `invalid label key "${key}": name part must be non-empty`;
  if (name.length > 63) return `invalid label key "${key}": name part must be no more than 63 characters`;
  if (!NAME_PART.test(name)) return `invalid label key "${key}": name part ${NAME_RULE}`;
  return undefined;
}

/** Why `value` is not a valid label value, or undefined when it is one (empty is valid). */
export function labelValueProblem(value: string): string | undefined {
  if (value === '') return undefined;
  if (value.length > 63) return `invalid label value "${value}": must be no more than 63 characters`;
  if (!NAME_PART.test(value)) return `invalid label value "${value}": ${NAME_RULE}`;
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Lexer: the same token classes as Kubernetes' so that `a in(b)`, `a!=b` and `a , b` split alike.

type TokenKind = 'ident' | 'in' | 'notin' | '!' | '=' | '==' | '!=' | '>' | '<' | '(' | ')' | ',' | 'eos';
interface Token {
  kind: TokenKind;
  text: string;
}

const SYMBOLS: readonly TokenKind[] = ['!=', '==', '!', '=', '>', '<', '(', ')', ','];
const SPECIAL_CHARS = new Set(['!', '=', '>', '<', '(', ')', ',']);
const WHITESPACE = /\s/;

function tokenize(selector: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < selector.length) {
    const ch = selector[i]!;
    if (WHITESPACE.test(ch)) {
      i++;
    } else if (SPECIAL_CHARS.has(ch)) {
      const sym = SYMBOLS.find((s) => selector.startsWith(s, i))!;
      tokens.push({ kind: sym, text: sym });
      i += sym.length;
    } else {
      let j = i;
      while (j < selector.length && !WHITESPACE.test(selector[j]!) && !SPECIAL_CHARS.has(selector[j]!)) j++;
      const text = selector.slice(i, j);
      tokens.push({ kind: text === 'in' || text === 'notin' ? text : 'ident', text });
      i = j;
    }
  }
  tokens.push({ kind: 'eos', text: '' });
  return tokens;
}

function describe(t: Token): string {
  return t.kind === 'eos' ? 'end of selector' : `"${t.text}"`;
}

// ---------------------------------------------------------------------------------------------
// Parser

class LabelSelectorParser {
  private readonly tokens: Token[];
  private pos = 0;

  constructor(private readonly selector: string) {
    this.tokens = tokenize(selector);
  }

  parse(): LabelMatcher[] {
    const requirements: LabelMatcher[] = [];
    for (;;) {
      requirements.push(this.requirement());
      const t = this.next();
      if (t.kind === 'eos') return requirements;
      if (t.kind !== ',') this.fail(`expected "," or end of selector, found ${describe(t)}`);
    }
  }

  private requirement(): LabelMatcher {
    const negated = this.peek().kind === '!';
    if (negated) this.next();
    const keyToken = this.next();
    if (keyToken.kind !== 'ident') this.fail(`expected a label key${negated ? '' : ' or "!"'}, found ${describe(keyToken)}`);
    const key = keyToken.text;
    this.check(labelKeyProblem(key));
    const after = this.peek();
    if (after.kind === 'eos' || after.kind === ',') return negated ? (l) => !has(l, key) : (l) => has(l, key);
    if (negated) this.fail(`"!${key}" must be followed by "," or end of selector, found ${describe(after)}`);
    return this.operation(key);
  }

  private operation(key: string): LabelMatcher {
    const op = this.next();
    switch (op.kind) {
      case '=':
      case '==': {
        const v = this.exactValue();
        return (l) => has(l, key) && l![key] === v;
      }
      case '!=': {
        const v = this.exactValue();
        // Kubernetes: an object without the key matches `key!=v`.
        return (l) => !has(l, key) || l![key] !== v;
      }
      case 'in': {
        const vs = this.valueSet();
        return (l) => has(l, key) && vs.has(l![key]!);
      }
      case 'notin': {
        const vs = this.valueSet();
        return (l) => !has(l, key) || !vs.has(l![key]!);
      }
      case '>':
      case '<':
        return this.comparison(key, op.kind);
      default:
        return this.fail(`expected an operator (=, ==, !=, in, notin, >, <) after "${key}", found ${describe(op)}`);
    }
  }

  /** The value after `=`, `==` or `!=`; nothing before `,` or the end means the empty value, as in Kubernetes. */
  private exactValue(): string {
    const t = this.peek();
    if (t.kind === 'eos' || t.kind === ',') return '';
    this.next();
    // `in` and `notin` are ordinary words where a value is expected.
    if (t.kind !== 'ident' && t.kind !== 'in' && t.kind !== 'notin') this.fail(`expected a label value, found ${describe(t)}`);
    this.check(labelValueProblem(t.text));
    return t.text;
  }

  /** `(a, b)`; empty elements (`()`, `(a,)`) stand for the empty value, as Kubernetes parses them. */
  private valueSet(): Set<string> {
    const open = this.next();
    if (open.kind !== '(') this.fail(`expected "(" after in/notin, found ${describe(open)}`);
    const values = new Set<string>();
    for (;;) {
      let t = this.next();
      if (t.kind === 'ident' || t.kind === 'in' || t.kind === 'notin') {
        this.check(labelValueProblem(t.text));
        values.add(t.text);
        t = this.next();
      } else {
        values.add('');
      }
      if (t.kind === ')') return values;
      if (t.kind === 'eos') this.fail('missing ")"');
      if (t.kind !== ',') this.fail(`expected "," or ")" in value list, found ${describe(t)}`);
    }
  }

  private comparison(key: string, op: '>' | '<'): LabelMatcher {
    const t = this.next();
    if (t.kind !== 'ident' || !INTEGER.test(t.text)) this.fail(`the value after "${op}" must be an integer, found ${describe(t)}`);
    const bound = BigInt(t.text);
    return (l) => {
      const v = has(l, key) ? l![key]! : undefined;
      if (v === undefined || !INTEGER.test(v)) return false;
      return op === '>' ? BigInt(v) > bound : BigInt(v) < bound;
    };
  }

  private peek(): Token {
    return this.tokens[this.pos]!;
  }

  private next(): Token {
    const t = this.tokens[this.pos]!;
    if (t.kind !== 'eos') this.pos++;
    return t;
  }

  private check(problem: string | undefined): void {
    if (problem !== undefined) this.fail(problem);
  }

  private fail(problem: string): never {
    throw new InvalidSelectorError(`labelSelector "${this.selector}": ${problem}`);
  }
}

const INTEGER = /^[+-]?[0-9]{1,19}$/;

function has(labels: Readonly<Record<string, string>> | undefined, key: string): boolean {
  // Own properties only: a label key such as `constructor` must not find Object.prototype's.
  return labels !== undefined && Object.hasOwn(labels, key);
}

/**
 * Compiles a Kubernetes label selector (`app=web,tier in (a,b),!legacy`). The empty selector
 * matches everything; `!=` and `notin` match objects that lack the key. Throws
 * InvalidSelectorError naming the selector and the problem.
 */
export function parseLabelSelector(selector: string): LabelMatcher {
  if (selector.trim() === '') return () => true;
  const requirements = new LabelSelectorParser(selector).parse();
  return (labels) => requirements.every((r) => r(labels));
}

// ---------------------------------------------------------------------------------------------
// Field selectors

export type FieldGetters<T> = Readonly<Record<string, (obj: T) => string | undefined>>;

/**
 * Compiles a Kubernetes field selector (`metadata.name=x,metadata.namespace!=y`) over the
 * fields the caller supports. A field missing from the object compares as the empty string,
 * as in Kubernetes. Values may escape `\,`, `\=` and `\\`.
 */
export function parseFieldSelector<T>(selector: string, fields: FieldGetters<T>): (obj: T) => boolean {
  const requirements: ((obj: T) => boolean)[] = [];
  for (const term of splitUnescaped(selector)) {
    // Kubernetes skips empty terms (`a=b,,c=d`); spaces around a term are a typing habit, not meaning.
    if (term.trim() === '') continue;
    requirements.push(fieldRequirement(selector, term, fields));
  }
  return (obj) => requirements.every((r) => r(obj));
}

function fieldRequirement<T>(selector: string, term: string, fields: FieldGetters<T>): (obj: T) => boolean {
  const split = splitTerm(term);
  if (!split) throw new InvalidSelectorError(`fieldSelector "${selector}": can't understand "${term}", expected field=value, field==value or field!=value`);
  const field = split.field.trim();
  if (!Object.hasOwn(fields, field)) throw new InvalidSelectorError(`field label not supported: ${field}`);
  const get = fields[field]!;
  const value = unescapeValue(selector, split.value.trim());
  return split.negated ? (obj) => (get(obj) ?? '') !== value : (obj) => (get(obj) ?? '') === value;
}

/** Splits on commas that are not escaped with a backslash. */
function splitUnescaped(s: string): string[] {
  const parts: string[] = [];
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '\\') i++;
    else if (s[i] === ',') {
      parts.push(s.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(s.slice(start));
  return parts;
}

/** The first unescaped operator splits the term; `!=` and `==` win over `=` at the same place. */
function splitTerm(term: string): { field: string; value: string; negated: boolean } | undefined {
  for (let i = 0; i < term.length; i++) {
    if (term[i] === '\\') {
      i++;
      continue;
    }
    for (const op of ['!=', '==', '=']) {
      if (term.startsWith(op, i)) return { field: term.slice(0, i), value: term.slice(i + op.length), negated: op === '!=' };
    }
  }
  return undefined;
}

function unescapeValue(selector: string, raw: string): string {
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i]!;
    if (ch !== '\\') {
      out += ch;
      continue;
    }
    const escaped = raw[i + 1];
    if (escaped !== '\\' && escaped !== ',' && escaped !== '=') {
      throw new InvalidSelectorError(`fieldSelector "${selector}": invalid escape sequence "\\${escaped ?? ''}" in "${raw}"`);
    }
    out += escaped;
    i++;
  }
  return out;
}
