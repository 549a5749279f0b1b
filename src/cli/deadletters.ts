import type { Command } from 'commander';
import { InvalidOptionError } from '../errors.js';
import { adminClientFor, collect } from './global-options.js';
import { age, formatTable } from './output.js';

interface ListFlags {
  namespace: string;
  filter?: string[];
  output: string;
  limit?: string;
}

interface RedriveFlags {
  namespace: string;
  filter?: string[];
  id?: string[];
  dryRun?: boolean;
  force?: boolean;
  output: string;
}

/** What `GET /api/v1/deadletters` returns per dead letter (the fields shown here). */
interface DeadLetterItem {
  entryId: string;
  time: string;
  ref: string;
  eventId: string;
  eventType: string;
  eventSource: string;
  attributes: Record<string, string>;
  attempts: number;
  redrivable: boolean;
  redriven?: { at: string; outcome: string };
}

interface RedriveItem {
  entryId?: string;
  eventId: string;
  eventType?: string;
  outcome: string;
  reason?: string;
  statusCode?: number | null;
  redriveCount?: number;
}

interface RedriveAnswer {
  subscription: string;
  dryRun: boolean;
  sent: number;
  delivered: number;
  failed: number;
  skipped: number;
  items: RedriveItem[];
}

const FILTER_KEYS = ['id', 'type', 'source', 'subject', 'code'];

/** `type=x,source=y` (repeatable) into a filter; unknown keys are refused by name. */
export function parseFilter(values: readonly string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const value of values ?? []) {
    for (const part of value.split(',')) {
      if (!part.trim()) continue;
      const eq = part.indexOf('=');
      const key = eq > 0 ? part.slice(0, eq).trim() : '';
      if (!FILTER_KEYS.includes(key) || eq === part.length - 1) {
        throw new InvalidOptionError(`--filter ${JSON.stringify(part)}: use key=value with key one of ${FILTER_KEYS.join(', ')} (e.g. --filter type=order.created,code=500)`);
      }
      out[key] = part.slice(eq + 1);
    }
  }
  return out;
}

/** `subscription/orders` or `trigger/ns/name` into `<kind>/<ns>/<name>` (the namespace from -n when left out). */
export function subscriptionArg(text: string, namespace: string): string {
  const parts = text.split('/');
  if (parts.length === 2 && parts.every(Boolean)) return `${parts[0]}/${namespace}/${parts[1]}`;
  if (parts.length === 3 && parts.every(Boolean)) return text;
  throw new InvalidOptionError(`${JSON.stringify(text)}: name the subscription as subscription/<name> or trigger/<name> (or <kind>/<namespace>/<name>)`);
}

function outputFormat(text: string): 'table' | 'json' {
  if (text === 'table' || text === 'json') return text;
  throw new InvalidOptionError(`-o ${JSON.stringify(text)}: use table or json`);
}

export function registerDeadLetters(program: Command): void {
  const dl = program.command('deadletters').alias('dl').description('list dead-lettered events this sluice keeps, and send them again to their subscriber');

  dl.command('list')
    .description('list dead letters (newest first), of all subscriptions or one')
    .argument('[subscription]', 'subscription/<name> or trigger/<name> (or <kind>/<namespace>/<name>)')
    .option('-n, --namespace <ns>', 'namespace of the subscription', 'default')
    .option('--filter <key=value,...>', 'only events with these attributes: id, type, source, subject, code (knativeerrorcode); repeatable', collect)
    .option('--limit <n>', 'at most this many')
    .option('-o, --output <format>', 'table or json', 'table')
    .action(async (sub: string | undefined, flags: ListFlags, cmd: Command) => {
      const format = outputFormat(flags.output);
      const q = new URLSearchParams(parseFilter(flags.filter));
      if (sub) q.set('subscription', subscriptionArg(sub, flags.namespace));
      if (flags.limit) q.set('limit', flags.limit);
      const query = q.toString();
      const body = await adminClientFor(cmd).json<{ items?: DeadLetterItem[] }>('GET', `/api/v1/deadletters${query ? '?' + query : ''}`);
      const items = body.items ?? [];
      if (format === 'json') {
        process.stdout.write(JSON.stringify({ items }, null, 2) + '\n');
        return;
      }
      if (items.length === 0) {
        process.stderr.write('No dead letters.\n');
        return;
      }
      const header = ['ENTRY', 'SUBSCRIPTION', 'EVENT ID', 'TYPE', 'SOURCE', 'CODE', 'ATTEMPTS', 'AGE', 'REDRIVEN'];
      const rows = items.map((i) => [
        i.entryId,
        i.ref,
        i.eventId,
        i.eventType,
        i.eventSource,
        i.attributes.knativeerrorcode ?? '',
        String(i.attempts),
        age(i.time),
        i.redriven ? `${i.redriven.outcome} ${age(i.redriven.at)} ago` : i.redrivable ? '' : 'not redrivable',
      ]);
      process.stdout.write(formatTable(header, rows));
    });

  dl.command('redrive')
    .description('send dead letters again to the subscription\'s current subscriber (same event id, sluiceredrivecount + 1); all of it by default')
    .argument('<subscription>', 'subscription/<name> or trigger/<name> (or <kind>/<namespace>/<name>)')
    .option('-n, --namespace <ns>', 'namespace of the subscription', 'default')
    .option('--filter <key=value,...>', 'only events with these attributes: id, type, source, subject, code; repeatable', collect)
    .option('--id <id>', 'only this event id (or entry id); repeatable', collect)
    .option('--dry-run', 'show what would be sent, send nothing')
    .option('--force', 'also send dead letters already redriven once')
    .option('-o, --output <format>', 'table or json', 'table')
    .action(async (sub: string, flags: RedriveFlags, cmd: Command) => {
      const format = outputFormat(flags.output);
      const filter = parseFilter(flags.filter);
      const body = {
        subscription: subscriptionArg(sub, flags.namespace),
        ...(flags.id?.length ? { ids: flags.id } : {}),
        ...(Object.keys(filter).length ? { filter } : {}),
        ...(flags.dryRun ? { dryRun: true } : {}),
        ...(flags.force ? { force: true } : {}),
      };
      const answer = await adminClientFor(cmd).json<RedriveAnswer>('POST', '/api/v1/deadletters/redrive', { body: JSON.stringify(body), contentType: 'application/json' });
      if (format === 'json') process.stdout.write(JSON.stringify(answer, null, 2) + '\n');
      else {
        if (answer.items.length > 0) {
          const header = ['ENTRY', 'EVENT ID', 'TYPE', 'OUTCOME', 'STATUS', 'REDRIVE COUNT', 'REASON'];
          const rows = answer.items.map((i) => [i.entryId ?? '', i.eventId, i.eventType ?? '', i.outcome, i.statusCode == null ? '' : String(i.statusCode), i.redriveCount === undefined ? '' : String(i.redriveCount), i.reason ?? '']);
          process.stdout.write(formatTable(header, rows));
        }
        const what = answer.dryRun ? `would send ${answer.sent}` : `sent ${answer.sent}: ${answer.delivered} delivered, ${answer.failed} failed again`;
        process.stderr.write(`${answer.subscription}: ${what}, ${answer.skipped} skipped\n`);
      }
      // Events that failed again are dead-lettered again (or dropped): the command did not do what was asked.
      if (answer.failed > 0) process.exitCode = 1;
    });
}
