/**
 * Kubernetes `Status` bodies (meta/v1): what the Kubernetes-shaped API answers for errors,
 * so kubectl and client-go print the message (`Error from server (NotFound): ...`) and
 * map the reason to their own error kinds (IsNotFound, IsConflict, IsInvalid...).
 */

/** The reasons client-go recognizes (apimachinery's StatusReason); any other string is allowed. */
export type KubeStatusReason =
  | 'BadRequest'
  | 'Unauthorized'
  | 'Forbidden'
  | 'NotFound'
  | 'AlreadyExists'
  | 'Conflict'
  | 'Gone'
  | 'Invalid'
  | 'ServerTimeout'
  | 'Timeout'
  | 'TooManyRequests'
  | 'MethodNotAllowed'
  | 'NotAcceptable'
  | 'RequestEntityTooLarge'
  | 'UnsupportedMediaType'
  | 'InternalError'
  | 'Expired'
  | 'ServiceUnavailable'
  | ''
  | (string & {});

/** One problem of an Invalid request, `field` as kubectl prints it (`spec.broker`). */
export interface KubeStatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

export interface KubeStatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: KubeStatusCause[];
  retryAfterSeconds?: number;
}

export interface KubeStatus {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Success' | 'Failure';
  message: string;
  reason: KubeStatusReason;
  details: KubeStatusDetails;
  code: number;
}

/** A `Status` body for HTTP `code`: `Failure` from 400 up, `Success` below. */
export function kubeStatus(code: number, reason: KubeStatusReason, message: string, details: KubeStatusDetails = {}): KubeStatus {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: code >= 400 ? 'Failure' : 'Success', message, reason, details, code };
}
