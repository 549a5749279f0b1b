import { InvalidEventError } from '../errors.js';

// CloudEvents HTTP binding 1.0.2, section 3.1.3.2: a ce- header value is the attribute
// value encoded as UTF-8, with space, `"`, `%` and every byte outside printable ASCII
// (U+0021-U+007E) percent-encoded. Encoding the space keeps leading/trailing blanks
// from being trimmed by HTTP parsers.

/** Characters that may appear literally in an encoded header value. */
const NEEDS_ENCODING = /[^\x21\x23\x24\x26-\x7e]/;
const NEEDS_DECODING = /[%\x80-\uffff]/;
const HEX = '0123456789ABCDEF';
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Encodes an attribute value for a ce- header. */
export function encodeHeaderValue(value: string): string {
  if (!NEEDS_ENCODING.test(value)) return value;
  const bytes = Buffer.from(value, 'utf8');
  let out = '';
  for (const b of bytes) {
    if (b >= 0x21 && b <= 0x7e && b !== 0x22 && b !== 0x25) out += String.fromCharCode(b);
    else out += '%' + HEX[b >> 4]! + HEX[b & 15]!;
  }
  return out;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/**
 * Decodes a ce- header value into the attribute value.
 *
 * Node hands header values over as latin1 strings (one char per byte), so raw UTF-8
 * sent by clients that do not encode (the JS SDK, for one) is reassembled from the
 * bytes too. A `%` not followed by two hex digits is kept literally, for the same
 * clients: `100%` from a non-encoding sender stays `100%`. Bytes that are not valid
 * UTF-8 after decoding are rejected, as the binding requires; raw (unencoded) octets
 * that are not UTF-8 are read as ISO-8859-1.
 */
export function decodeHeaderValue(raw: string, headerName: string): string {
  if (!NEEDS_DECODING.test(raw)) return raw;
  // Chars above 0xFF cannot come off the wire: the caller passed a JS string, so take its UTF-8.
  let wide = false;
  for (let i = 0; i < raw.length; i++) {
    if (raw.charCodeAt(i) > 0xff) { wide = true; break; }
  }
  const src = Buffer.from(raw, wide ? 'utf8' : 'latin1');
  const out = Buffer.allocUnsafe(src.length);
  let n = 0;
  let escapes = 0;
  for (let i = 0; i < src.length; i++) {
    const b = src[i]!;
    if (b === 0x25 && i + 2 < src.length) {
      const hi = hexValue(src[i + 1]!);
      const lo = hexValue(src[i + 2]!);
      if (hi >= 0 && lo >= 0) {
        out[n++] = (hi << 4) | lo;
        escapes++;
        i += 2;
        continue;
      }
    }
    out[n++] = b;
  }
  try {
    return utf8.decode(out.subarray(0, n));
  } catch (err) {
    // Raw non-ASCII octets that are not UTF-8, and nothing percent-encoded: a sender that
    // wrote the value as ISO-8859-1, HTTP's historical header charset (RFC 9110 §5.5).
    if (escapes === 0) return raw;
    throw new InvalidEventError(`header ${headerName}: value is not valid UTF-8 after percent-decoding`, { cause: err });
  }
}
