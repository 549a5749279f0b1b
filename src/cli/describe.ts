import type { Command } from 'commander';
import { stringify } from 'yaml';
import type { AdminClient } from './admin-client.js';
import { adminClientFor } from './global-options.js';
import { selectKinds } from './kind-arg.js';
import { fetchResources } from './get.js';
import { age, createdAt, formatTable, type ResourceItem } from './output.js';

interface DeliveryView {
  time: string;
  resource: string;
  subscription: string;
  eventId: string;
  eventType: string;
  outcome: string;
  attempts: number;
  statusCode: number | null;
  durationMs: number | null;
  attributes?: Record<string, string>;
  deadLetterUri?: string;
}

/** Which deliveries belong to a resource: a channel's or broker's by resource, a subscription's or trigger's by name. */
function deliveryQuery(item: ResourceItem): string | undefined {
  const ns = `namespace=${encodeURIComponent(item.metadata.namespace)}`;
  const name = encodeURIComponent(item.metadata.name);
  if (item.kind === 'Subscription' || item.kind === 'Trigger') return `${ns}&subscription=${name}`;
  if (item.kind === 'Broker' || item.kind.endsWith('Channel')) return `${ns}&resource=${name}`;
  return undefined;
}

export function registerDescribe(program: Command): void {
  program
    .command('describe')
    .description('show one resource: spec, status conditions, recent deliveries and dead letters')
    .argument('<kind>', 'kind, plural or short name (e.g. channel, sub, trigger)')
    .argument('<name>', 'resource name')
    .option('-n, --namespace <ns>', 'namespace', 'default')
    .option('--limit <n>', 'recent deliveries and dead letters to show', '10')
    .action(async (kindArg: string, name: string, flags: { namespace: string; limit: string }, cmd: Command) => {
      const client = adminClientFor(cmd);
      const sel = await selectKinds(client, kindArg);
      const [item] = await fetchResources(client, sel, flags.namespace, name);
      if (!item) {
        process.stderr.write(`sluice: ${sel.label} "${name}" not found in namespace ${flags.namespace} (list them with: sluice get ${kindArg} -n ${flags.namespace})\n`);
        process.exitCode = 1;
        return;
      }
      const limit = Math.max(1, Number.parseInt(flags.limit, 10) || 10);
      process.stdout.write(await describe(client, item, limit));
    });
}

async function describe(client: AdminClient, item: ResourceItem, limit: number): Promise<string> {
  const m = item.metadata;
  const out: string[] = [];
  const field = (k: string, v: string) => out.push(`${(k + ':').padEnd(14)}${v}`);
  field('Name', m.name);
  field('Namespace', m.namespace);
  field('Kind', `${item.kind} (${item.apiVersion})`);
  field('Labels', mapLines(m.labels));
  field('Annotations', mapLines(m.annotations));
  field('Age', age(createdAt(item)));
  if (item.status?.address?.url) field('Address', item.status.address.url);
  out.push('Spec:', indent(item.spec === null ? '<invalid: see the Ready condition>\n' : stringify(item.spec ?? {}, { lineWidth: 0 }), 2).trimEnd());
  out.push('Status:');
  const conditions = item.status?.conditions ?? [];
  if (conditions.length) {
    out.push('  Conditions:');
    out.push(indent(formatTable(['TYPE', 'STATUS', 'REASON', 'AGE', 'MESSAGE'], conditions.map((c) => [c.type, c.status, c.reason ?? '', age(c.lastTransitionTime), c.message ?? ''])), 4).trimEnd());
  }
  const rest = Object.fromEntries(Object.entries(item.status ?? {}).filter(([k]) => k !== 'conditions' && k !== 'address'));
  if (Object.keys(rest).length) out.push(indent(stringify(rest, { lineWidth: 0 }), 2).trimEnd());

  const q = deliveryQuery(item);
  if (q) {
    out.push('Recent deliveries:');
    out.push(await deliveriesSection(client, `/api/v1/deliveries?${q}&limit=${limit}`, false));
    out.push('Dead letters:');
    out.push(await deliveriesSection(client, `/api/v1/deadletters?${q}&limit=${limit}`, true));
  }
  return out.join('\n') + '\n';
}

async function deliveriesSection(client: AdminClient, path: string, deadLetters: boolean): Promise<string> {
  const res = await client.request<{ items?: DeliveryView[]; error?: string }>('GET', path);
  if (res.status === 404) return '  <not available: this sluice has no delivery log>';
  if (res.status >= 400) throw client.errorOf(res.status, res.body, path);
  const items = res.body.items ?? [];
  if (items.length === 0) return '  <none>';
  const rows = items.map((d) => [
    age(d.time),
    d.subscription,
    d.eventId,
    d.eventType,
    d.outcome,
    String(d.attempts),
    d.statusCode === null ? '-' : String(d.statusCode),
    d.durationMs === null ? '-' : `${Math.round(d.durationMs)}ms`,
    ...(deadLetters ? [errorSummary(d.attributes)] : []),
  ]);
  const header = ['AGE', 'SUBSCRIPTION', 'EVENT ID', 'TYPE', 'OUTCOME', 'ATTEMPTS', 'STATUS', 'DURATION', ...(deadLetters ? ['ERROR'] : [])];
  return indent(formatTable(header, rows), 2).trimEnd();
}

/** The knativeerror* extensions in one cell: code, destination and the decoded response body. */
function errorSummary(attrs: Record<string, string> | undefined): string {
  if (!attrs) return '';
  const parts: string[] = [];
  if (attrs.knativeerrorcode) parts.push(`code=${attrs.knativeerrorcode}`);
  if (attrs.knativeerrordest) parts.push(`dest=${attrs.knativeerrordest}`);
  if (attrs.knativeerrordata) {
    const text = Buffer.from(attrs.knativeerrordata, 'base64').toString('utf8').replace(/\s+/g, ' ');
    parts.push(`data=${JSON.stringify(text.length > 80 ? text.slice(0, 77) + '...' : text)}`);
  }
  return parts.join(' ');
}

function mapLines(m: Record<string, string> | undefined): string {
  const entries = Object.entries(m ?? {});
  if (entries.length === 0) return '<none>';
  return entries.map(([k, v], i) => `${i ? ' '.repeat(14) : ''}${k}=${v}`).join('\n');
}

function indent(text: string, n: number): string {
  const pad = ' '.repeat(n);
  return text
    .split('\n')
    .map((l) => (l ? pad + l : l))
    .join('\n');
}
