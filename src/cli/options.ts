import { InvalidOptionError } from '../errors.js';
import { parseShortDuration } from '../subscriptions/duration.js';

/** Parses `1MiB`, `512KiB`, `2mb`, `1048576` into bytes. */
export function parseByteSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(b|kb|kib|k|mb|mib|m|gb|gib|g)?$/i.exec(String(text).trim());
  if (!m) throw new InvalidOptionError(`${JSON.stringify(text)} is not a size (e.g. 1MiB, 512KiB, 1048576)`);
  const n = Number(m[1]);
  const unit = (m[2] ?? 'b').toLowerCase();
  const mult = unit.startsWith('k') ? 1024 : unit.startsWith('m') ? 1024 ** 2 : unit.startsWith('g') ? 1024 ** 3 : 1;
  return Math.floor(n * mult);
}

export function parsePort(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidOptionError(`${flag}: ${JSON.stringify(text)} is not a port number (0-65535)`);
  return n;
}

export function parsePositiveInt(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new InvalidOptionError(`${flag}: ${JSON.stringify(text)} is not a positive integer`);
  return n;
}

export function parseDurationFlag(text: string, flag: string): number {
  try {
    return parseShortDuration(text);
  } catch (err) {
    throw new InvalidOptionError(`${flag}: ${(err as Error).message}`, { cause: err });
  }
}

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];
export function parseLogLevel(text: string): string {
  if (!LOG_LEVELS.includes(text)) throw new InvalidOptionError(`--log-level: ${JSON.stringify(text)} is not one of ${LOG_LEVELS.join(', ')}`);
  return text;
}
