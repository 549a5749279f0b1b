import { attributeReader } from '../cesql/index.js';
import type { CompiledFilter } from './filter-types.js';

// The building blocks a compiled Trigger filter is made of. Each is a closure over
// arrays prepared at apply time, so matching an event is a few property reads and
// string comparisons: no allocation, no dispatch on the filter's shape.

export type Attributes = Readonly<Record<string, string>>;
type Read = (a: Attributes) => unknown;

export const matchAll: CompiledFilter = () => true;

function readers(pairs: ReadonlyArray<readonly [string, string]>): { reads: Read[]; values: string[] } {
  return {
    reads: pairs.map(([name]) => attributeReader(name) as Read),
    values: pairs.map(([, value]) => value),
  };
}

/** Every attribute equals its value; a value of `undefined` only requires the attribute to exist. */
export function exactMatch(pairs: ReadonlyArray<readonly [string, string | undefined]>): CompiledFilter {
  const reads = pairs.map(([name]) => attributeReader(name) as Read);
  const values = pairs.map(([, value]) => value);
  if (pairs.length === 1) {
    const read = reads[0] as Read;
    const want = values[0];
    return want === undefined ? (a) => typeof read(a) === 'string' : (a) => read(a) === want;
  }
  return (a) => {
    for (let i = 0; i < reads.length; i++) {
      const v = (reads[i] as Read)(a);
      const want = values[i];
      if (want === undefined ? typeof v !== 'string' : v !== want) return false;
    }
    return true;
  };
}

export function prefixMatch(pairs: ReadonlyArray<readonly [string, string]>): CompiledFilter {
  const { reads, values } = readers(pairs);
  return (a) => {
    for (let i = 0; i < reads.length; i++) {
      const v = (reads[i] as Read)(a);
      if (typeof v !== 'string' || !v.startsWith(values[i] as string)) return false;
    }
    return true;
  };
}

export function suffixMatch(pairs: ReadonlyArray<readonly [string, string]>): CompiledFilter {
  const { reads, values } = readers(pairs);
  return (a) => {
    for (let i = 0; i < reads.length; i++) {
      const v = (reads[i] as Read)(a);
      if (typeof v !== 'string' || !v.endsWith(values[i] as string)) return false;
    }
    return true;
  };
}

export function allOf(filters: readonly CompiledFilter[]): CompiledFilter {
  if (filters.length === 0) return matchAll;
  if (filters.length === 1) return filters[0] as CompiledFilter;
  if (filters.length === 2) {
    const [f, g] = filters as [CompiledFilter, CompiledFilter];
    return (a) => f(a) && g(a);
  }
  const list = [...filters];
  return (a) => {
    for (let i = 0; i < list.length; i++) if (!(list[i] as CompiledFilter)(a)) return false;
    return true;
  };
}

export function anyOf(filters: readonly CompiledFilter[]): CompiledFilter {
  if (filters.length === 1) return filters[0] as CompiledFilter;
  const list = [...filters];
  return (a) => {
    for (let i = 0; i < list.length; i++) if ((list[i] as CompiledFilter)(a)) return true;
    return false;
  };
}

export function negate(filter: CompiledFilter): CompiledFilter {
  return (a) => !filter(a);
}
