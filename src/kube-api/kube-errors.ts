import { ApplyRejectedError, ConflictError, httpStatusOf, SluiceError } from '../errors.js';
import type { KubeKind } from './kube-kinds.js';
import { kubeStatus, type KubeStatus } from './kube-status.js';

/** Kubernetes' `Status.reason` for an HTTP status, as kubectl prints and branches on it. */
const REASONS: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  406: 'NotAcceptable',
  409: 'Conflict',
  410: 'Expired',
  413: 'RequestEntityTooLarge',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

/** What an error is about: the resource kind and name a Status' details name. */
export interface ErrorSubject {
  kind: KubeKind;
  name?: string;
}

/** Any error as a Kubernetes `Status`, with its HTTP code; validation errors list each field as a cause. */
export function statusOfError(err: unknown, subject?: ErrorSubject): KubeStatus {
  const details = subject ? { ...(subject.name ? { name: subject.name } : {}), group: subject.kind.group, kind: subject.kind.plural } : undefined;
  if (err instanceof ApplyRejectedError) {
    const causes = err.errors.flatMap((e) => e.issues.map((i) => ({ reason: 'FieldValueInvalid', message: i.message, field: i.path })));
    // A create names the object in its body, not the URL: the validation error has it.
    const named = err.errors.find((e) => e.resourceName)?.resourceName;
    const name = subject?.name ?? named?.slice(named.indexOf('/') + 1) ?? '';
    const what = subject ? `${subject.kind.kind}.${subject.kind.group || 'core'} "${name}"` : 'the object';
    const fields = causes.map((c) => (c.field ? `${c.field}: ${c.message}` : c.message)).join(', ');
    // Invalid names the Kind in details (kubectl prints `The <Kind> "<name>" is invalid`), NotFound the plural.
    const invalidDetails = subject ? { name, group: subject.kind.group, kind: subject.kind.kind } : {};
    return kubeStatus(422, 'Invalid', `${what} is invalid: ${fields || err.message}`, { ...invalidDetails, causes });
  }
  if (err instanceof ConflictError && err.fieldConflicts.length > 0) {
    // kubectl lists these causes and suggests --force-conflicts.
    const causes = err.fieldConflicts.map((c) => ({ reason: 'FieldManagerConflict', message: `conflict with "${c.manager}"`, field: c.field }));
    return kubeStatus(409, 'Conflict', err.message, { ...details, causes });
  }
  const code = httpStatusOf(err);
  const reason = err instanceof ConflictError ? err.kubeReason : (REASONS[code] ?? 'InternalError');
  const message = code >= 500 && !(err instanceof SluiceError) ? 'internal error' : String((err as { message?: unknown })?.message ?? err);
  return kubeStatus(code, reason, message, details);
}
