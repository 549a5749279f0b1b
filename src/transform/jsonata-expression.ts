import jsonata from 'jsonata';
import { SluiceError } from '../errors.js';
import { isJsonMediaType, isTextMediaType, parseHttpEvents, STRUCTURED_CONTENT_TYPE, type SluiceEvent } from '../events/index.js';

/** The event a transform made (or the reply it transformed) is not one Sluice can send on. */
export class TransformFailedError extends SluiceError {
  readonly code = 'SLUICE_ERR_TRANSFORM_FAILED';
  // 422, not Knative's 500: the same event fails the same way again, and a 4xx other than
  // 404/408/409/429 is not retried, so a subscription dead-letters it at once.
  override readonly statusCode = 422;
}

/** How jsonata reports syntax and evaluation errors (`position` is a character offset). */
interface JsonataErrorShape {
  code?: unknown;
  position?: unknown;
  token?: unknown;
  message?: unknown;
}

/**
 * Bounds on one evaluation: a runaway recursion or loop in an expression fails that
 * event (422) instead of holding the event loop. jsonata checks them per step.
 */
const GUARDRAILS = { timeout: 1000, stack: 500 } as const;

const STRUCTURED_HEADERS = { 'content-type': STRUCTURED_CONTENT_TYPE } as const;

/** `line 2, column 5` for a 1-based character offset, when the expression has several lines. */
function lineColumn(expression: string, position: number): string {
  const before = expression.slice(0, Math.max(0, position - 1));
  const line = before.split('\n').length;
  if (!expression.trimEnd().includes('\n')) return '';
  const column = before.length - before.lastIndexOf('\n');
  return ` (line ${line}, column ${column})`;
}

/** A jsonata error as one line: `at position 12 (token "bar"): Expected "}", got "bar" (S0202)`. */
export function describeJsonataError(err: unknown, expression: string): string {
  const e = (err ?? {}) as JsonataErrorShape;
  const message = typeof e.message === 'string' && e.message ? e.message : String(err);
  const position = typeof e.position === 'number' ? ` at position ${e.position}${lineColumn(expression, e.position)}` : '';
  const token = typeof e.token === 'string' && e.token !== '' ? ` (token ${JSON.stringify(e.token)})` : '';
  const code = typeof e.code === 'string' ? ` [${e.code}]` : '';
  return `${position.trimStart()}${token}${position || token ? ': ' : ''}${message}${code}`;
}

/** A syntax error's description, or undefined when the expression compiles. */
export function jsonataSyntaxError(expression: string): string | undefined {
  try {
    jsonata(expression);
    return undefined;
  } catch (err) {
    return `syntax error ${describeJsonataError(err, expression)}`;
  }
}

/**
 * The CloudEvent as the expression sees it, as Knative's transform-jsonata does: the
 * JSON event format, its attributes at the top level and `data` parsed (JSON data as a
 * value, text as a string, anything else as `data_base64`).
 */
export function jsonataInput(event: SluiceEvent): Record<string, unknown> {
  const input: Record<string, unknown> = { ...event.attributes };
  const data = event.data;
  if (data === undefined) return input;
  const ct = event.attributes.datacontenttype;
  if (ct === undefined || isJsonMediaType(ct)) {
    try {
      input.data = JSON.parse(data.toString('utf8'));
      return input;
    } catch {
      // Not JSON after all: handed over as text or bytes below.
    }
  }
  if (ct !== undefined && (isTextMediaType(ct) || isJsonMediaType(ct))) input.data = data.toString('utf8');
  else input.data_base64 = data.toString('base64');
  return input;
}

/** Reads an expression's result as a CloudEvent in the JSON event format, with the ingress's own rules. */
export function eventOfResult(result: unknown, what: string): SluiceEvent {
  if (result === undefined) throw new TransformFailedError(`${what}: the expression produced no value for this event; it must produce a CloudEvent object`);
  if (typeof result !== 'object' || result === null || Array.isArray(result)) {
    const got = result === null ? 'null' : Array.isArray(result) ? 'an array' : `a ${typeof result}`;
    throw new TransformFailedError(`${what}: the expression must produce a CloudEvent object, got ${got}`);
  }
  let text: string;
  try {
    text = JSON.stringify(result);
  } catch (err) {
    throw new TransformFailedError(`${what}: the expression's result cannot be written as JSON: ${(err as Error).message}`);
  }
  try {
    return parseHttpEvents(STRUCTURED_HEADERS, Buffer.from(text, 'utf8')).events[0]!;
  } catch (err) {
    throw new TransformFailedError(`${what}: the expression's result is not a valid CloudEvent: ${(err as Error).message}`);
  }
}

/**
 * One compiled JSONata expression (compiled once, when its resource is applied), turning
 * a CloudEvent into a new one. `what` names the field in errors (`spec.jsonata.expression`).
 */
export class JsonataTransform {
  readonly #expression: jsonata.Expression;

  /** Throws TransformFailedError naming `what` and the position of a syntax error. */
  constructor(
    readonly source: string,
    readonly what: string,
  ) {
    try {
      this.#expression = jsonata(source, GUARDRAILS);
    } catch (err) {
      throw new TransformFailedError(`${what}: syntax error ${describeJsonataError(err, source)}`);
    }
  }

  /** The expression's raw result for a JSON input (benchmarks; tests). */
  evaluate(input: unknown): Promise<unknown> {
    return this.#expression.evaluate(input);
  }

  /** The transformed event; rejects with TransformFailedError when evaluation fails or the result is no CloudEvent. */
  async apply(event: SluiceEvent): Promise<SluiceEvent> {
    let result: unknown;
    try {
      result = await this.#expression.evaluate(jsonataInput(event));
    } catch (err) {
      throw new TransformFailedError(`${this.what}: evaluation failed ${describeJsonataError(err, this.source)}`, { cause: err });
    }
    return eventOfResult(result, this.what);
  }
}
