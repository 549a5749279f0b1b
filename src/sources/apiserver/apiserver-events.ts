import { randomUUID } from 'node:crypto';
import type { SluiceEvent } from '../../events/types.js';
import type { KubeObject } from './kube-client.js';
import type { ChangeType } from './resource-watcher.js';

export type EventMode = 'Reference' | 'Resource';

/** Knative's event types, by mode and change. */
export const API_SERVER_EVENT_TYPES = {
  Resource: {
    add: 'dev.knative.apiserver.resource.add',
    update: 'dev.knative.apiserver.resource.update',
    delete: 'dev.knative.apiserver.resource.delete',
  },
  Reference: {
    add: 'dev.knative.apiserver.ref.add',
    update: 'dev.knative.apiserver.ref.update',
    delete: 'dev.knative.apiserver.ref.delete',
  },
} as const;

export interface ApiServerEventInput {
  change: ChangeType;
  object: KubeObject;
  mode: EventMode;
  /** The API server URL. */
  source: string;
  /** `spec.ceOverrides.extensions`. */
  extensions?: Readonly<Record<string, string>> | undefined;
}

/**
 * One change of one object as Knative's ApiServerSource adapter reports it: a fresh
 * uuid per change, `source` = the API server URL, the subject in Knative's self-link
 * form, the `kind`/`name`/`namespace`/`apiversion` extensions (so that triggers can
 * filter on them), and as data either the whole object (Resource mode) or an
 * ObjectReference (Reference mode).
 */
export function makeApiServerEvent(input: ApiServerEventInput): SluiceEvent {
  const o = input.object;
  const apiVersion = o.apiVersion ?? '';
  const kind = o.kind ?? '';
  const name = o.metadata?.name ?? '';
  const namespace = o.metadata?.namespace ?? '';
  const data = input.mode === 'Resource' ? o : objectReference(apiVersion, kind, name, namespace);
  const attributes: Record<string, string> = {
    specversion: '1.0',
    id: randomUUID(),
    source: input.source,
    type: API_SERVER_EVENT_TYPES[input.mode][input.change],
    subject: selfLink(apiVersion, kind, namespace, name),
    time: new Date().toISOString(),
    datacontenttype: 'application/json',
    kind,
    name,
    apiversion: apiVersion,
  };
  // Cluster-scoped objects have no namespace; an empty extension carries nothing, and an
  // empty header value is dropped by some HTTP stacks, so it is left out.
  if (namespace) attributes.namespace = namespace;
  for (const [k, v] of Object.entries(input.extensions ?? {})) attributes[k] = v;
  return { attributes, data: Buffer.from(JSON.stringify(data)) };
}

/**
 * The subject exactly as Knative builds it (`createSelfLink` in
 * pkg/adapter/apiserver/events): `/apis/<apiVersion>/namespaces/<ns>/<kind lower-cased>s/<name>`,
 * also for the core group (`/apis/v1/...`, not `/api/v1/...`), and with the naive
 * plural (`ingresss`) rather than the discovered one, so that trigger filters written
 * against Knative's events match Sluice's.
 */
export function selfLink(apiVersion: string, kind: string, namespace: string, name: string): string {
  const version = apiVersion.includes('.') && !apiVersion.includes('/') ? `${apiVersion}/versionUnknown` : apiVersion;
  return `/apis/${version}/namespaces/${namespace}/${kind.toLowerCase()}s/${name}`;
}

/** corev1.ObjectReference as Go serialises it: field order kind, namespace, name, apiVersion; empty fields omitted. */
function objectReference(apiVersion: string, kind: string, name: string, namespace: string): Record<string, string> {
  const ref: Record<string, string> = {};
  if (kind) ref.kind = kind;
  if (namespace) ref.namespace = namespace;
  if (name) ref.name = name;
  if (apiVersion) ref.apiVersion = apiVersion;
  return ref;
}
