import { CloudEvent } from 'cloudevents';
import { InvalidEventError } from '../errors.js';
import { checkAttributes } from './attributes.js';
import { isJsonMediaType, isTextMediaType } from './media-type.js';
import { stringifyJsonData } from './structured.js';
import type { SluiceEvent } from './types.js';

// Bridges to the cloudevents SDK for sources and tests, off the hot path. The SDK's
// data forms mirror what its HTTP.binary sends, so fromCloudEvent(ce) equals what
// parseHttpEvents reads from HTTP.binary(ce) (apart from the Content-Type it defaults).

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The SDK's data value for our bytes: parsed JSON, text, or the bytes themselves. */
function sdkData(data: Buffer, contentType: string | undefined): unknown {
  if (isJsonMediaType(contentType)) {
    try {
      return JSON.parse(utf8.decode(data)) as unknown;
    } catch { /* not JSON after all: hand over the bytes */ }
  } else if (isTextMediaType(contentType)) {
    try {
      return utf8.decode(data);
    } catch { /* not text after all */ }
  }
  return data;
}

/** An SDK CloudEvent with the same attributes and data (validated by the SDK, strict). */
export function toCloudEvent(e: SluiceEvent): CloudEvent<unknown> {
  const props: Record<string, unknown> = { ...e.attributes };
  if (e.data !== undefined) props.data = sdkData(e.data, e.attributes.datacontenttype);
  try {
    return new CloudEvent<unknown>(props);
  } catch (err) {
    throw new InvalidEventError(`not a valid CloudEvent for the SDK: ${(err as Error).message}`, { cause: err });
  }
}

function isBytes(v: unknown): v is Uint8Array {
  return v instanceof Uint8Array;
}

/** Our event for an SDK CloudEvent: attributes as canonical strings, data as the bytes HTTP.binary would send. */
export function fromCloudEvent<T>(ce: CloudEvent<T>): SluiceEvent {
  const attributes: Record<string, string> = {};
  for (const [name, v] of Object.entries(ce)) {
    if (name === 'data' || name === 'data_base64' || v === undefined || v === null) continue;
    if (typeof v === 'string') attributes[name] = v;
    else if (typeof v === 'number' || typeof v === 'boolean') attributes[name] = String(v);
    else if (v instanceof Date) attributes[name] = v.toISOString();
    else if (isBytes(v)) attributes[name] = Buffer.from(v).toString('base64');
    else throw new InvalidEventError(`attribute "${name}" of the CloudEvent is not a string, integer, boolean or binary value`);
  }
  checkAttributes(attributes);
  const d: unknown = ce.data;
  let data: Buffer | undefined;
  if (isBytes(d)) data = Buffer.from(d.buffer, d.byteOffset, d.byteLength);
  else if (typeof ce.data_base64 === 'string' && d === undefined) data = Buffer.from(ce.data_base64, 'base64');
  else if (typeof d === 'string') data = Buffer.from(d, 'utf8');
  else if (d !== undefined && d !== null) data = Buffer.from(stringifyJsonData(d), 'utf8');
  return data === undefined ? { attributes } : { attributes, data };
}
