// Media type checks shared by the codec. Parameters (`; charset=...`) are ignored and
// comparison is case-insensitive, as RFC 9110 says media types are.

/** The `type/subtype` part of a Content-Type value, lower-cased and trimmed. */
export function mediaTypeOf(contentType: string): string {
  const semi = contentType.indexOf(';');
  return (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
}

/** `application/json`, `text/json` and any `+json` structured syntax suffix. */
export function isJsonMediaType(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const m = mediaTypeOf(contentType);
  return m === 'application/json' || m === 'text/json' || m.endsWith('+json');
}

/** Types whose data is text: written as a JSON string in structured mode when it is valid UTF-8. */
export function isTextMediaType(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const m = mediaTypeOf(contentType);
  return m.startsWith('text/') || m === 'application/xml' || m.endsWith('+xml');
}

/** The `charset` parameter, lower-cased, or undefined. */
export function charsetOf(contentType: string): string | undefined {
  const match = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(contentType);
  return match?.[1]?.toLowerCase();
}
