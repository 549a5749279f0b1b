import { withAttributes } from '../events/index.js';
import type { SluiceEvent } from '../events/types.js';
import type { SendResult } from './types.js';

/** Knative's cap on the response body carried in `knativeerrordata` (bytes before base64). */
export const MAX_ERROR_DATA_BYTES = 1024;

/**
 * The event as the dead-letter sink receives it: the original, data unchanged, plus
 * Knative's `knativeerrordest` (the URL that failed), `knativeerrorcode` (its last HTTP
 * status; 500 when no response arrived) and `knativeerrordata` (standard padded base64
 * of the first 1024 bytes of its response body, left out when there was no body).
 * Extensions from an earlier dead-lettering are replaced, never accumulated.
 */
export function deadLetterEvent(event: SluiceEvent, failedUrl: string, last: Pick<SendResult, 'statusCode' | 'body'>): SluiceEvent {
  const extensions: Record<string, string> = {
    knativeerrordest: failedUrl,
    knativeerrorcode: String(last.statusCode ?? 500),
  };
  if (last.body.length > 0) extensions.knativeerrordata = last.body.subarray(0, MAX_ERROR_DATA_BYTES).toString('base64');
  const out = withAttributes(event, extensions);
  if (last.body.length === 0 && out.attributes.knativeerrordata !== undefined) {
    // A stale knativeerrordata from an earlier pass would describe the wrong failure.
    const { knativeerrordata: _stale, ...rest } = out.attributes;
    return { attributes: rest, data: out.data };
  }
  return out;
}
