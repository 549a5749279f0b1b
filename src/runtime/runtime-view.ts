import type { SecretResource } from '../resources/types.js';

/** A resource as the admin API and the CLI show it: spec plus the status the runtime keeps. */
export interface ResourceView {
  apiVersion: string;
  kind: string;
  metadata: Record<string, unknown> & { name: string; namespace: string };
  spec: unknown;
  status: unknown;
}

/** What readers of the runtime's state need (the admin API, the inspector): kept narrow so they do not know the controller. */
export interface RuntimeView {
  listResources(): ResourceView[];
  /** Ready once every valid resource is reconciled; `pending` names what is not yet. */
  readiness(): { ready: boolean; pending: string[] };
  /** Secrets, shown by the resource API with their values redacted. */
  listSecrets?(): SecretResource[];
}
