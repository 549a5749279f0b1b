import { codePoints } from './values.js';

// LIKE patterns (CESQL v1 section 3.4.3): `%` is any run of characters, `_` exactly one
// character, `\%` and `\_` match themselves, every other character (a lone backslash
// included) matches itself, case-sensitively. Patterns are string literals, so each is
// compiled once; the shapes filters use most (`abc`, `abc%`, `%abc`, `%abc%`) become
// plain string operations and only the rest go through the wildcard matcher.

export type LikeMatcher = (value: string) => boolean;

type Part = { kind: 'text'; text: string } | { kind: 'any' } | { kind: 'one' };

function parts(pattern: string): Part[] {
  const out: Part[] = [];
  let text = '';
  const flush = (): void => {
    if (text) out.push({ kind: 'text', text });
    text = '';
  };
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    const next = pattern[i + 1];
    if (c === '\\' && (next === '%' || next === '_')) {
      text += next;
      i++;
    } else if (c === '%') {
      flush();
      // Consecutive `%` mean the same as one.
      if (out[out.length - 1]?.kind !== 'any') out.push({ kind: 'any' });
    } else if (c === '_') {
      flush();
      out.push({ kind: 'one' });
    } else {
      text += c;
    }
  }
  flush();
  return out;
}

// Markers that can never equal one character of a value.
const ANY = '%any%';
const ONE = '%one%';

/**
 * Wildcard matching by the two-pointer method with one remembered `%`: O(value x pattern)
 * at worst, so no pattern (`%a%a%a%a%b`) can make it backtrack exponentially the way a
 * regular expression would.
 */
function wildcardMatcher(ps: Part[]): LikeMatcher {
  const pat: string[] = [];
  for (const p of ps) {
    if (p.kind === 'text') pat.push(...Array.from(p.text));
    else pat.push(p.kind === 'any' ? ANY : ONE);
  }
  const m = pat.length;
  return (value) => {
    const chars = codePoints(value);
    const n = chars ? chars.length : value.length;
    let s = 0;
    let p = 0;
    let star = -1;
    let mark = 0;
    while (s < n) {
      const c = chars ? (chars[s] as string) : value[s];
      const want = pat[p];
      if (p < m && (want === ONE || want === c)) {
        s++;
        p++;
      } else if (want === ANY) {
        star = p++;
        mark = s;
      } else if (star !== -1) {
        p = star + 1;
        s = ++mark;
      } else {
        return false;
      }
    }
    while (pat[p] === ANY) p++;
    return p === m;
  };
}

export function compileLikePattern(pattern: string): LikeMatcher {
  const ps = parts(pattern);
  const kinds = ps.map((p) => p.kind).join(',');
  const textAt = (i: number): string => (ps[i] as { text: string }).text;
  switch (kinds) {
    case '':
      return (v) => v === '';
    case 'text': {
      const t = textAt(0);
      return (v) => v === t;
    }
    case 'any':
      return () => true;
    case 'text,any': {
      const t = textAt(0);
      return (v) => v.startsWith(t);
    }
    case 'any,text': {
      const t = textAt(1);
      return (v) => v.endsWith(t);
    }
    case 'any,text,any': {
      const t = textAt(1);
      return (v) => v.includes(t);
    }
  }
  return wildcardMatcher(ps);
}
