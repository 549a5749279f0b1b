import type { ResourceStatus } from '../resources/types.js';
import { readyStatus } from '../runtime/status.js';
import type { ServiceStatus } from './service-activator.js';

/** Why a Service cannot serve its current spec (invalid spec, or the activator refused it). */
export interface ServiceProblem {
  reason: string;
  message: string;
}

export interface ServiceStatusInput {
  /** `${publicUrl}/services/<ns>/<name>`. */
  url: string;
  /** The version that takes requests now, if any. */
  serving?: ServiceStatus | undefined;
  /** A new version still starting in a rolling update. */
  pending?: ServiceStatus | undefined;
  problem?: ServiceProblem | undefined;
  /** Fields accepted without effect here (cluster-only), listed as `ignoredFields`. */
  ignored?: string[] | undefined;
}

/**
 * The admin API's status of a `serving.knative.dev/v1` Service, Knative-shaped (`url`,
 * `address.url`, a `Ready` condition) plus what the activator knows: replicas
 * desired/ready, requests in flight and held, the last cold start.
 *
 * A Service scaled to zero is Ready (the activator wakes it), as in Knative. It is not
 * Ready when its spec cannot run here, or when its replicas keep failing before they
 * become ready; a version that still serves keeps its address meanwhile.
 */
export function serviceResourceStatus(input: ServiceStatusInput): ResourceStatus {
  const { serving, pending, problem } = input;
  const extra: Record<string, unknown> = serving ? { url: input.url, address: { url: input.url }, ...details(serving) } : {};
  if (input.ignored?.length) extra.ignoredFields = input.ignored;
  const stillServing = serving ? ' (the previous template still serves requests)' : '';
  if (problem) return readyStatus(false, problem.reason, problem.message + stillServing, extra);
  if (pending && failing(pending)) {
    return readyStatus(false, 'RevisionFailed', `the new template does not start: ${pending.replicas.lastError}${stillServing}`, { ...extra, rollingOut: details(pending) });
  }
  if (!serving) return readyStatus(false, 'Pending');
  if (failing(serving)) return readyStatus(false, 'RevisionFailed', `replicas do not become ready: ${serving.replicas.lastError}`, extra);
  return readyStatus(true, 'ServiceReady', undefined, pending ? { ...extra, rollingOut: details(pending) } : extra);
}

/** Asked for replicas, none ready, and they crashed (a replica merely starting is not failing). */
function failing(s: ServiceStatus): boolean {
  const r = s.replicas;
  return r.desired > 0 && r.ready === 0 && r.restarts > 0 && r.lastError !== undefined;
}

function details(s: ServiceStatus): Record<string, unknown> {
  const r = s.replicas;
  return {
    scaler: s.scaler,
    replicas: { desired: r.desired, ready: r.ready, starting: r.starting, restarts: r.restarts },
    inFlight: s.inFlight,
    queued: s.queued,
    ...(s.lastColdStart ? { lastColdStart: { time: s.lastColdStart.at, durationMs: s.lastColdStart.durationMs } } : {}),
    ...(s.wakingSince ? { wakingSince: s.wakingSince } : {}),
    ...(r.lastError ? { lastError: r.lastError } : {}),
  };
}
