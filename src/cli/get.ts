import type { Command } from 'commander';
import { InvalidOptionError } from '../errors.js';
import type { AdminClient } from './admin-client.js';
import { adminClientFor } from './global-options.js';
import { selectKinds, type KindSelection } from './kind-arg.js';
import { age, createdAt, formatObjects, formatTable, parseOutputFormat, readyCondition, type OutputFormat, type ResourceItem } from './output.js';

interface GetFlags {
  namespace: string;
  allNamespaces?: boolean;
  output: string;
}

/** Resources of the selected kinds, optionally one name, in one namespace or all. */
export async function fetchResources(client: AdminClient, sel: KindSelection, namespace: string | undefined, name?: string): Promise<ResourceItem[]> {
  const q = namespace ? `?namespace=${encodeURIComponent(namespace)}` : '';
  const body = await client.json<{ items?: ResourceItem[] }>('GET', `/api/v1/resources${q}`);
  const wanted = new Set(sel.kinds);
  return (body.items ?? []).filter((r) => wanted.has(r.kind) && (name === undefined || r.metadata.name === name));
}

export function registerGet(program: Command): void {
  program
    .command('get')
    .description('list resources with their readiness and address (kinds: channels, imc, subs, brokers, triggers, pingsources, ksvc, secrets, all, ...)')
    .argument('<kind>', 'kind, plural or short name, case-insensitive (e.g. channels, subs, triggers)')
    .argument('[name]', 'one resource by name')
    .option('-n, --namespace <ns>', 'namespace', 'default')
    .option('-A, --all-namespaces', 'list across all namespaces')
    .option('-o, --output <format>', 'table, wide, yaml, json or name', 'table')
    .action(async (kindArg: string, name: string | undefined, flags: GetFlags, cmd: Command) => {
      const format = parseOutputFormat(flags.output);
      if (flags.allNamespaces && name) throw new InvalidOptionError('a name cannot be combined with -A; give -n <namespace> instead');
      const client = adminClientFor(cmd);
      const sel = await selectKinds(client, kindArg);
      const items = await fetchResources(client, sel, flags.allNamespaces ? undefined : flags.namespace, name);
      if (name && items.length === 0) {
        process.stderr.write(`sluice: ${sel.label} "${name}" not found in namespace ${flags.namespace} (list them with: sluice get ${kindArg} -n ${flags.namespace})\n`);
        process.exitCode = 1;
        return;
      }
      if (items.length === 0 && (format === 'table' || format === 'wide')) {
        process.stderr.write(flags.allNamespaces ? 'No resources found\n' : `No resources found in ${flags.namespace} namespace.\n`);
        return;
      }
      process.stdout.write(render(items, format, Boolean(flags.allNamespaces), name !== undefined));
    });
}

function render(items: ResourceItem[], format: OutputFormat, allNamespaces: boolean, single: boolean): string {
  if (format === 'yaml' || format === 'json') return formatObjects(items, format, single && items.length === 1);
  const kinds = new Set(items.map((i) => i.kind));
  const nameOf = (i: ResourceItem) => (kinds.size > 1 || format === 'name' ? `${i.kind.toLowerCase()}/${i.metadata.name}` : i.metadata.name);
  if (format === 'name') return items.map((i) => nameOf(i) + '\n').join('');
  if (kinds.size === 1 && kinds.has('Secret')) {
    const header = [...(allNamespaces ? ['NAMESPACE'] : []), 'NAME', 'TYPE', 'DATA', 'AGE'];
    const rows = items.map((i) => {
      const spec = i.spec as { type?: string; data?: Record<string, unknown> } | null;
      return [...(allNamespaces ? [i.metadata.namespace] : []), i.metadata.name, spec?.type ?? 'Opaque', String(Object.keys(spec?.data ?? {}).length), age(i.metadata.creationTimestamp)];
    });
    return formatTable(header, rows);
  }
  const wide = format === 'wide';
  const header = [...(allNamespaces ? ['NAMESPACE'] : []), 'NAME', 'READY', 'REASON', 'ADDRESS', 'AGE', ...(wide ? ['MESSAGE'] : [])];
  const rows = items.map((i) => {
    const ready = readyCondition(i);
    return [
      ...(allNamespaces ? [i.metadata.namespace] : []),
      nameOf(i),
      ready?.status ?? (i.kind === 'Secret' ? '' : 'Unknown'),
      ready && ready.status !== 'True' ? (ready.reason ?? '') : '',
      i.status?.address?.url ?? '',
      age(createdAt(i)),
      ...(wide ? [ready?.message ?? ''] : []),
    ];
  });
  return formatTable(header, rows);
}
