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

// Go's time.ParseDuration grammar (what Kubernetes objects written for Go controllers
// use, e.g. eventing-natss's `maxAge: 24h`): one or more decimal numbers, each with a
// unit, and "0" alone. The sign Go allows is refused: no Sluice setting takes a negative
// duration, and a "-" there is far more likely a typo than an intent.
const GO_DURATION = /^(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|\u00b5s|\u03bcs|ms|s|m|h))+$/;
const GO_DURATION_PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)/g;
const UNIT_MS: Readonly<Record<string, number>> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 1e-3, '\u00b5s': 1e-3, '\u03bcs': 1e-3, ns: 1e-6 };

/** A Go duration such as `1h30m`, `90s`, `250ms` or `0`, in ms (fractional below 1 ms); undefined when it is not one. */
export function parseGoDuration(text: string): number | undefined {
  if (text === '0') return 0;
  if (!GO_DURATION.test(text)) return undefined;
  let ms = 0;
  for (const m of text.matchAll(GO_DURATION_PART)) ms += Number(m[1]) * (UNIT_MS[m[2] as string] as number);
  return ms;
}

/** A Go duration as used in flags and annotations (`60s`, `1m30s`, `250ms`) or a bare number of seconds; throws InvalidDurationError. */
export function parseShortDuration(text: string): number {
  const t = String(text).trim();
  const ms = /^\d+(\.\d+)?$/.test(t) ? Number(t) * 1000 : parseGoDuration(t);
  if (ms === undefined) throw new InvalidDurationError(`${JSON.stringify(text)} is not a duration (e.g. 60s, 1m30s, 250ms)`);
  return Math.round(ms);
}
