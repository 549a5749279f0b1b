import { InvalidDurationError } from '../errors.js';

// ISO-8601 durations as Knative uses them (`PT0.2S`, `PT1M`, `P1DT2H`). Years and months
// have no fixed length, so they are refused rather than guessed.
const ISO_DURATION =
  /^P(?:(\d+(?:[.,]\d+)?)W)?(?:(\d+(?:[.,]\d+)?)D)?(?:T(?:(\d+(?:[.,]\d+)?)H)?(?:(\d+(?:[.,]\d+)?)M)?(?:(\d+(?:[.,]\d+)?)S)?)?$/;

/** Parses an ISO-8601 duration into milliseconds; throws InvalidDurationError naming the input. */
export function parseIsoDuration(text: string): number {
  const m = typeof text === 'string' ? ISO_DURATION.exec(text.trim()) : null;
  if (!m || text.trim() === 'P' || text.trim().endsWith('T')) {
    throw new InvalidDurationError(`${JSON.stringify(text)} is not an ISO-8601 duration (e.g. PT0.2S, PT1M, P1D)`);
  }
  const n = (i: number) => (m[i] ? Number(m[i].replace(',', '.')) : 0);
  const ms = ((n(1) * 7 + n(2)) * 86400 + n(3) * 3600 + n(4) * 60 + n(5)) * 1000;
  return Math.round(ms);
}

export function isIsoDuration(text: unknown): boolean {
  if (typeof text !== 'string') return false;
  try {
    parseIsoDuration(text);
    return true;
  } catch {
    return false;
  }
}

/** Parses a Go/kubectl-like duration as used in flags and annotations: `60s`, `1m30s`, `250ms`, or a bare number of seconds. */
export function parseShortDuration(text: string): number {
  const t = String(text).trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Math.round(Number(t) * 1000);
  const re = /(\d+(?:\.\d+)?)(ms|h|m|s)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(t); m; m = re.exec(t)) {
    const v = Number(m[1]);
    total += m[2] === 'h' ? v * 3600000 : m[2] === 'm' ? v * 60000 : m[2] === 's' ? v * 1000 : v;
    matched = re.lastIndex;
  }
  if (matched === 0 || matched !== t.length) {
    throw new InvalidDurationError(`${JSON.stringify(text)} is not a duration (e.g. 60s, 1m30s, 250ms)`);
  }
  return Math.round(total);
}
