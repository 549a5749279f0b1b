import { SluiceError } from '../../errors.js';

export type FilterPathSegment = string | number;

/** One problem in a Trigger's filters, relative to the Trigger's spec (`filters[1].any[0]`). */
export interface FilterIssue {
  readonly path: readonly FilterPathSegment[];
  readonly message: string;
}

const PLAIN = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `filters[1].any[0].exact.type`, `filter.attributes["my-attr"]`. */
export function formatFilterPath(path: readonly FilterPathSegment[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (PLAIN.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/**
 * A Trigger's `filter` or `filters` is invalid. The message has one line per issue, each
 * starting with its path; `issues` keeps them apart for callers that map them onto their
 * own paths (`spec.` + path in a resource validation error).
 */
export class FilterError extends SluiceError {
  readonly code = 'SLUICE_ERR_INVALID_FILTER';
  override readonly statusCode = 400;
  readonly issues: readonly FilterIssue[];
  /** Path of the first issue, formatted. */
  readonly path: string;
  constructor(issues: readonly FilterIssue[], options?: { cause?: unknown }) {
    super(
      issues.map((i) => (i.path.length ? `${formatFilterPath(i.path)}: ${i.message}` : i.message)).join('\n'),
      options,
    );
    this.issues = issues;
    this.path = formatFilterPath(issues[0]?.path ?? []);
  }
}
