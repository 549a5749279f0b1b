import type { IncomingHttpHeaders } from 'node:http';
import type { SecretResource } from '../resources/types.js';
import { bearerToken, tokenMatches } from './bearer-token.js';

/**
 * Annotation on a channel (any channel kind) or a Broker naming a Secret in the same
 * namespace; its `token` key is the bearer token the public ingress then requires for
 * that address. For ingress exposed to the internet.
 */
export const INGRESS_TOKEN_SECRET_ANNOTATION = 'sluice.dev/ingress-token-secret';
/** Key of the Secret's data holding the token. */
export const INGRESS_TOKEN_SECRET_KEY = 'token';

/**
 * Undefined when the request may pass; otherwise why not (answered 401). The Secret is
 * read per request, so rotating it takes effect at once. A missing Secret or key fails
 * closed: the address refuses everyone rather than opening up.
 */
export function checkIngressToken(
  meta: { namespace: string; annotations?: Record<string, string> } | undefined,
  getSecret: (namespace: string, name: string) => SecretResource | undefined,
  headers: IncomingHttpHeaders,
): string | undefined {
  const secretName = meta?.annotations?.[INGRESS_TOKEN_SECRET_ANNOTATION];
  if (secretName === undefined) return undefined;
  const presented = bearerToken(headers);
  if (presented === undefined) return 'this address requires "Authorization: Bearer <token>"';
  const expected = getSecret(meta!.namespace, secretName)?.data[INGRESS_TOKEN_SECRET_KEY];
  if (expected === undefined || expected.length === 0) return 'this address requires a bearer token, and its token Secret is not configured';
  return tokenMatches(presented, expected) ? undefined : 'the bearer token is not valid for this address';
}
