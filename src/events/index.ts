// CloudEvents codec: HTTP binary/structured/batch modes, validation. The SDK bridge
// (sdk-bridge.ts) is public API only (src/index.ts): the core never loads the SDK.
export * from './types.js';
export { parseHttpEvents, parseHttpResponseEvent } from './parse-http.js';
export { toBinaryHttp, type HttpHeaders } from './binary.js';
export { toStructuredJson, toBatchJson } from './structured.js';
export {
  SPEC_VERSION,
  isValidExtensionName,
  isRfc3339Time,
  validateAttributes,
  withAttributes,
} from './attributes.js';
export { encodeHeaderValue, decodeHeaderValue } from './percent-encoding.js';
export { isJsonMediaType, isTextMediaType, mediaTypeOf } from './media-type.js';

/** Content types of the structured and batch JSON formats. */
export const STRUCTURED_CONTENT_TYPE = 'application/cloudevents+json; charset=utf-8';
export const BATCH_CONTENT_TYPE = 'application/cloudevents-batch+json; charset=utf-8';
