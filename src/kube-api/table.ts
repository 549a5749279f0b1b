import type { KubeKind, KubeObject } from './kube-kinds.js';

/** `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`: how `kubectl get` asks for its columns. */
export function wantsTable(accept: string | undefined): boolean {
  if (!accept) return false;
  return accept.split(',').some((part) => {
    const params = part.split(';').map((p) => p.trim().toLowerCase());
    return params.includes('as=table') && params.includes('g=meta.k8s.io') && (params.includes('v=v1') || params.includes('v=v1beta1'));
  });
}

export interface TableColumn {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
}

export interface KubeTable {
  kind: 'Table';
  apiVersion: 'meta.k8s.io/v1';
  metadata: { resourceVersion: string };
  columnDefinitions: TableColumn[];
  rows: Array<{ cells: Array<string | number>; object: unknown }>;
}

export function tableColumns(kind: KubeKind): TableColumn[] {
  return [
    { name: 'Name', type: 'string', format: 'name', description: 'Name must be unique within a namespace.', priority: 0 },
    ...kind.columns.map((c) => ({ name: c.name, type: c.type === 'date' ? 'string' : c.type, format: '', description: c.description, priority: c.priority })),
  ];
}

/**
 * The rows of `kubectl get`. Dates are sent as ages ("5m"), as the API server does for
 * custom resources: kubectl prints cells as they come. Each row carries the object's
 * metadata (`includeObject=Metadata`, the default), which `-A` reads the namespace from.
 */
export function toTable(kind: KubeKind, objects: readonly KubeObject[], resourceVersion: string, options: { columns?: boolean; includeObject?: string; now?: number } = {}): KubeTable {
  const now = options.now ?? Date.now();
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion },
    columnDefinitions: options.columns === false ? [] : tableColumns(kind),
    rows: objects.map((o) => ({
      cells: [o.metadata.name, ...kind.columns.map((c) => (c.type === 'date' ? humanAge(now - Date.parse(String(c.cell(o)))) : c.cell(o)))],
      object: rowObject(o, options.includeObject),
    })),
  };
}

function rowObject(o: KubeObject, include: string | undefined): unknown {
  if (include === 'None') return undefined;
  if (include === 'Object') return o;
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata };
}

/** Kubernetes' `duration.HumanDuration`: the AGE kubectl users are used to reading. */
export function humanAge(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (Number.isNaN(seconds)) return '<unknown>';
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) return hours % 24 === 0 ? `${Math.floor(hours / 24)}d` : `${Math.floor(hours / 24)}d${hours % 24}h`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`;
  if (hours < 24 * 365 * 8) {
    const days = Math.floor(hours / 24) % 365;
    return days === 0 ? `${Math.floor(hours / 24 / 365)}y` : `${Math.floor(hours / 24 / 365)}y${days}d`;
  }
  return `${Math.floor(hours / 24 / 365)}y`;
}
