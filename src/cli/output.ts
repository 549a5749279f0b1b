import { stringify } from 'yaml';
import { InvalidOptionError } from '../errors.js';
import { apiGroup } from '../resources/index.js';

/** A resource as the admin API returns it. */
export interface ResourceItem {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; creationTimestamp?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: unknown;
  status?: {
    conditions?: Array<{ type: string; status: string; reason?: string; message?: string; lastTransitionTime?: string }>;
    address?: { url?: string };
    [key: string]: unknown;
  };
}

export const OUTPUT_FORMATS = ['table', 'wide', 'yaml', 'json', 'name'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export function parseOutputFormat(text: string): OutputFormat {
  if ((OUTPUT_FORMATS as readonly string[]).includes(text)) return text as OutputFormat;
  throw new InvalidOptionError(`-o ${JSON.stringify(text)}: use one of ${OUTPUT_FORMATS.join(', ')}`);
}

/** Columns padded like kubectl's: three spaces between, no trailing spaces. */
export function formatTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('   ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

/** kubectl's AGE: 45s, 5m, 3h, 2d. */
export function age(since: string | undefined, now = Date.now()): string {
  if (!since) return '<unknown>';
  const t = Date.parse(since);
  if (Number.isNaN(t)) return '<unknown>';
  const s = Math.max(0, Math.floor((now - t) / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 120) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h`;
  return `${Math.floor(h / 24)}d`;
}

export function readyCondition(item: ResourceItem) {
  return item.status?.conditions?.find((c) => c.type === 'Ready');
}

/** When the resource was created; the Ready condition's time when the server did not say. */
export function createdAt(item: ResourceItem): string | undefined {
  return item.metadata.creationTimestamp ?? readyCondition(item)?.lastTransitionTime;
}

/** `inmemorychannel.messaging.knative.dev/orders`, as kubectl names what it changed. */
export function qualifiedName(kind: string, apiVersion: string, name: string): string {
  const group = apiGroup(apiVersion);
  return `${kind.toLowerCase()}${group ? '.' + group : ''}/${name}`;
}

/** One object, or a kubectl-style v1 List, as YAML or JSON. */
export function formatObjects(items: readonly unknown[], format: 'yaml' | 'json', single: boolean): string {
  const value = single ? items[0] : { apiVersion: 'v1', kind: 'List', items };
  return format === 'json' ? JSON.stringify(value, null, 2) + '\n' : stringify(value, { lineWidth: 0 });
}
