import { apiGroup, ResourceKindRegistry, type KindDefinition } from '../resources/index.js';
import { pluralOf } from '../live-config/kind-names.js';

/** One column of `kubectl get`: Knative's CRD `additionalPrinterColumns`, as a function of the object. */
export interface PrinterColumn {
  name: string;
  type: 'string' | 'date' | 'integer';
  description: string;
  /** 0: shown by `kubectl get`; 1: only with `-o wide`. */
  priority: number;
  cell(obj: KubeObject): string | number;
}

/** A resource as the Kubernetes-shaped API serves it: metadata with the server fields, plus status. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: KubeObjectMeta;
  [field: string]: unknown;
}

export interface KubeObjectMeta {
  name: string;
  namespace: string;
  uid: string;
  resourceVersion: string;
  generation: number;
  creationTimestamp: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [field: string]: unknown;
}

/** One kind as discovery lists it: its group, versions, names and `kubectl get` columns. */
export interface KubeKind {
  kind: string;
  /** '' for the core group (`/api/v1`). */
  group: string;
  /** Versions in the order the registry gives them; the first is the preferred one. */
  versions: string[];
  plural: string;
  singular: string;
  shortNames: string[];
  categories: string[];
  /** Secret, ConfigMap: content at the top level, no `spec` or `status`. */
  topLevel: boolean;
  columns: PrinterColumn[];
  definition: KindDefinition;
}

const readyCondition = (o: KubeObject) => ((o.status as { conditions?: Array<{ type?: string; status?: string; reason?: string }> } | undefined)?.conditions ?? []).find((c) => c.type === 'Ready');
const path = (o: KubeObject, ...keys: string[]): string => {
  let v: unknown = o;
  for (const k of keys) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
  return v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
};
const col = (name: string, description: string, cell: PrinterColumn['cell'], type: PrinterColumn['type'] = 'string', priority = 0): PrinterColumn => ({ name, type, description, priority, cell });

const URL_COLUMN = col('URL', 'the address events are sent to', (o) => path(o, 'status', 'address', 'url'));
const SINK_COLUMN = col('Sink', 'where the events go', (o) => path(o, 'status', 'sinkUri'));
const AGE_COLUMN = col('Age', 'time since creation', (o) => o.metadata.creationTimestamp, 'date');
const READY_COLUMNS = [
  col('Ready', 'the Ready condition', (o) => readyCondition(o)?.status ?? 'Unknown'),
  // Knative's Ready condition carries no reason when True; Sluice's does, and it says nothing then.
  col('Reason', 'why it is not Ready', (o) => (readyCondition(o)?.status === 'True' ? '' : (readyCondition(o)?.reason ?? ''))),
];

/** Columns besides NAME, AGE, READY, REASON, as Knative's CRDs print them. */
const EXTRA_COLUMNS: Record<string, PrinterColumn[]> = {
  Trigger: [col('Broker', 'the Broker it filters', (o) => path(o, 'spec', 'broker')), col('Subscriber_URI', 'where matching events go', (o) => path(o, 'status', 'subscriberUri'))],
  Subscription: [],
  PingSource: [SINK_COLUMN, col('Schedule', 'cron schedule', (o) => path(o, 'spec', 'schedule'))],
  ApiServerSource: [SINK_COLUMN],
  ContainerSource: [SINK_COLUMN],
  SinkBinding: [SINK_COLUMN],
  GitHubSource: [SINK_COLUMN, URL_COLUMN],
  Service: [URL_COLUMN, col('LatestReady', 'the replica revision serving', (o) => path(o, 'status', 'latestReadyRevisionName'), 'string', 1)],
};

const CORE_COLUMNS: Record<string, PrinterColumn[]> = {
  Secret: [col('Type', 'Secret type', (o) => String(o.type ?? 'Opaque')), col('Data', 'number of keys', (o) => Object.keys((o.data as object | undefined) ?? {}).length, 'integer'), AGE_COLUMN],
  ConfigMap: [col('Data', 'number of keys', (o) => Object.keys((o.data as object | undefined) ?? {}).length + Object.keys((o.binaryData as object | undefined) ?? {}).length, 'integer'), AGE_COLUMN],
};

/** What discovery serves, built once from the kind registry. */
export class KubeKinds {
  readonly all: readonly KubeKind[];
  readonly #byGroupPlural = new Map<string, KubeKind>();
  readonly #byKind = new Map<string, KubeKind>();

  constructor(registry: ResourceKindRegistry) {
    const out: KubeKind[] = [];
    for (const def of registry.definitions()) {
      const apiVersions = ResourceKindRegistry.versionsOf(def);
      // One entry per group: a kind served under two groups is two kinds to kubectl.
      const groups = [...new Set(apiVersions.map(apiGroup))];
      for (const group of groups) {
        const versions = apiVersions.filter((v) => apiGroup(v) === group).map((v) => (group ? v.slice(group.length + 1) : v));
        const topLevel = (def.topLevelFields?.length ?? 0) > 0;
        const kind: KubeKind = {
          kind: def.kind,
          group,
          versions,
          plural: pluralOf(def.kind),
          singular: def.kind.toLowerCase(),
          shortNames: [...(def.shortNames ?? [])],
          categories: group === '' ? [] : ['all', 'knative', 'sluice'],
          topLevel,
          columns: topLevel ? (CORE_COLUMNS[def.kind] ?? [AGE_COLUMN]) : [...(EXTRA_COLUMNS[def.kind] ?? [URL_COLUMN]), AGE_COLUMN, ...READY_COLUMNS],
          definition: def,
        };
        out.push(kind);
        this.#byGroupPlural.set(`${group}/${kind.plural}`, kind);
        if (!this.#byKind.has(def.kind)) this.#byKind.set(def.kind, kind);
      }
    }
    this.all = out;
  }

  /** The kind served at `/apis/<group>/<version>/.../<plural>` (or `/api/v1/...` for group ''). */
  byPlural(group: string, version: string, plural: string): KubeKind | undefined {
    const k = this.#byGroupPlural.get(`${group}/${plural}`);
    return k && k.versions.includes(version) ? k : undefined;
  }

  /** The kind by its name (the first group that serves it). */
  byKind(kind: string): KubeKind | undefined {
    return this.#byKind.get(kind);
  }

  /** Groups other than core, each with its versions, in registration order. */
  groups(): Array<{ name: string; versions: string[] }> {
    const out = new Map<string, Set<string>>();
    for (const k of this.all) {
      if (k.group === '') continue;
      const set = out.get(k.group) ?? new Set<string>();
      for (const v of k.versions) set.add(v);
      out.set(k.group, set);
    }
    return [...out].map(([name, versions]) => ({ name, versions: [...versions] }));
  }

  /** Kinds served under one group and version. */
  inGroupVersion(group: string, version: string): KubeKind[] {
    return this.all.filter((k) => k.group === group && k.versions.includes(version));
  }
}
