// Shared helpers for the codec tests: the codec under test, and SDK messages as node would see them.
import type { Message } from 'cloudevents';
export * from '../../src/events/index.js';
export { fromCloudEvent, toCloudEvent } from '../../src/events/sdk-bridge.js';
export { InvalidEventError as InvalidEventErrorForTest } from '../../src/errors.js';

/** SDK message headers as node's http server hands them over: lower-case names, string values. */
export function nodeHeaders(headers: Message['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) out[k.toLowerCase()] = String(v);
  return out;
}

/** SDK message body as the bytes on the wire. */
export function bodyBytes(body: unknown): Buffer {
  if (body === undefined || body === null) return Buffer.alloc(0);
  if (body instanceof Uint8Array) return Buffer.from(body);
  return Buffer.from(String(body), 'utf8');
}

/** Asserts `fn` throws InvalidEventError with exactly `message`. */
export function invalid(message: string): (err: unknown) => boolean {
  return (err: unknown) => {
    if (!(err instanceof Error) || err.name !== 'InvalidEventError') throw err;
    if (err.message !== message) throw new Error(`expected message ${JSON.stringify(message)}, got ${JSON.stringify(err.message)}`);
    return true;
  };
}
