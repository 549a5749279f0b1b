import type { Command } from 'commander';
import { AdminApiError, InvalidOptionError } from '../errors.js';
import type { AdminClient } from './admin-client.js';
import { adminClientFor, collect } from './global-options.js';
import { fetchResources } from './get.js';
import { selectKinds } from './kind-arg.js';
import { sseData } from './sse-reader.js';

interface TailFlags {
  namespace: string;
  allNamespaces?: boolean;
  filter: string[];
  output: string;
  count?: string;
}

/** One event as the inspector's live stream sends it. */
interface StreamedEvent {
  time: string;
  kind: string;
  namespace: string;
  name: string;
  attributes: Record<string, string>;
  data?: string;
  dataEncoding?: 'utf8' | 'base64';
}

type Matcher = (attrs: Record<string, string>) => boolean;

/** `type=dev.example.*` matches by glob; `subject` alone means "has a subject". */
function parseFilter(text: string): Matcher {
  const eq = text.indexOf('=');
  if (eq === 0) throw new InvalidOptionError(`--filter ${JSON.stringify(text)}: write it as attribute=value (or attribute alone: it must exist)`);
  if (eq === -1) return (a) => a[text] !== undefined;
  const name = text.slice(0, eq);
  const value = text.slice(eq + 1);
  if (!value.includes('*')) return (a) => a[name] === value;
  const re = new RegExp('^' + value.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$');
  return (a) => a[name] !== undefined && re.test(a[name]!);
}

/** Which stream to follow, from `<kind> <name>`, `<kind>/<name>`, `<kind>` or a bare channel name. */
async function streamTarget(client: AdminClient, first: string, second: string | undefined): Promise<{ kind: 'channel' | 'broker'; name?: string; ns?: string }> {
  let kindArg = first;
  let name = second;
  let ns: string | undefined;
  if (second === undefined && first.includes('/')) {
    const parts = first.split('/');
    if (parts.length === 2) [kindArg, name] = parts as [string, string];
    else if (parts.length === 3) [kindArg, ns, name] = parts as [string, string, string];
    else throw new InvalidOptionError(`${JSON.stringify(first)}: use <channel|broker> <name>, or channel/<name>`);
  }
  let kinds: string[];
  try {
    kinds = (await selectKinds(client, kindArg)).kinds;
  } catch (err) {
    // `sluice tail orders`: a bare name is a channel.
    if (second === undefined && !first.includes('/')) return { kind: 'channel', name: first };
    throw err;
  }
  if (kinds.includes('Broker')) return { kind: 'broker', ...(name ? { name } : {}), ...(ns ? { ns } : {}) };
  if (kinds.some((k) => k.endsWith('Channel'))) return { kind: 'channel', ...(name ? { name } : {}), ...(ns ? { ns } : {}) };
  throw new InvalidOptionError(`cannot tail ${kindArg}: only channels and brokers have a live stream`);
}

export function registerTail(program: Command): void {
  program
    .command('tail')
    .description('follow the events accepted into a channel or broker, like Knative\'s event-display (Ctrl-C to stop)')
    .argument('<kind>', 'channel or broker (or channel/<name>, or a bare channel name)')
    .argument('[name]', 'its name (all of that kind when omitted)')
    .option('-n, --namespace <ns>', 'namespace', 'default')
    .option('-A, --all-namespaces', 'follow every namespace')
    .option('--filter <attr=value>', 'only events whose attribute matches (* is a wildcard; attr alone: it must exist); repeatable, all must match', collect, [])
    .option('-o, --output <format>', 'pretty or json (one JSON object per line)', 'pretty')
    .option('--count <n>', 'exit after this many events')
    .action(async (first: string, second: string | undefined, flags: TailFlags, cmd: Command) => {
      if (flags.output !== 'pretty' && flags.output !== 'json') throw new InvalidOptionError(`-o ${JSON.stringify(flags.output)}: use pretty or json`);
      const count = flags.count === undefined ? undefined : Number(flags.count);
      if (count !== undefined && (!Number.isInteger(count) || count < 1)) throw new InvalidOptionError(`--count ${JSON.stringify(flags.count)}: use a positive integer`);
      const matchers = flags.filter.map(parseFilter);
      const client = adminClientFor(cmd);
      const target = await streamTarget(client, first, second);
      const ns = target.ns ?? (flags.allNamespaces ? undefined : flags.namespace);
      if (target.name) {
        const sel = await selectKinds(client, target.kind);
        const [found] = await fetchResources(client, sel, ns ?? flags.namespace, target.name);
        if (!found) throw new InvalidOptionError(`${target.kind} ${JSON.stringify(target.name)} not found in namespace ${ns ?? flags.namespace} (see: sluice get ${target.kind}s)`);
      }
      const q = new URLSearchParams({ kind: target.kind, ...(ns ? { namespace: ns } : {}), ...(target.name ? { name: target.name } : {}) });
      const path = `/api/v1/stream?${q}`;
      const abort = new AbortController();
      const stop = () => abort.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        const res = await client.fetch(path, { headers: client.headers({ accept: 'text/event-stream' }), signal: abort.signal });
        if (!res.ok || !res.body) {
          const text = await res.text();
          let body: { error?: string; reason?: string } = {};
          try {
            body = JSON.parse(text) as typeof body;
          } catch {
            // not JSON
          }
          throw client.errorOf(res.status, body, path);
        }
        process.stderr.write(`following ${target.kind}${target.name ? ' ' + (ns ?? '*') + '/' + target.name : ns ? 's in namespace ' + ns : 's in every namespace'} (Ctrl-C to stop)\n`);
        let seen = 0;
        for await (const data of sseData(res.body)) {
          let e: StreamedEvent;
          try {
            e = JSON.parse(data) as StreamedEvent;
          } catch {
            continue; // not an event frame
          }
          if (!e || typeof e.attributes !== 'object' || !matchers.every((m) => m(e.attributes))) continue;
          process.stdout.write(flags.output === 'json' ? JSON.stringify(e) + '\n' : pretty(e));
          if (count !== undefined && ++seen >= count) {
            abort.abort();
            break;
          }
        }
        if (!abort.signal.aborted) throw new AdminApiError(`the event stream from ${client.server} ended: sluice stopped or restarted`);
      } catch (err) {
        if (abort.signal.aborted && !(err instanceof AdminApiError && err.status !== undefined)) return;
        throw err;
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
    });
}

const CORE = ['specversion', 'type', 'source', 'id', 'time', 'subject', 'dataschema', 'datacontenttype'];

/** The layout of Knative's event-display, headed by where the event was seen. */
function pretty(e: StreamedEvent): string {
  const lines = [`☁️  cloudevents.Event  (${e.kind} ${e.namespace}/${e.name}, ${e.time})`, 'Context Attributes,'];
  for (const k of CORE) if (e.attributes[k] !== undefined) lines.push(`  ${k}: ${e.attributes[k]}`);
  const ext = Object.keys(e.attributes).filter((k) => !CORE.includes(k)).sort();
  if (ext.length) {
    lines.push('Extensions,');
    for (const k of ext) lines.push(`  ${k}: ${e.attributes[k]}`);
  }
  if (e.data !== undefined) {
    lines.push('Data,');
    lines.push(...dataLines(e).map((l) => '  ' + l));
  }
  return lines.join('\n') + '\n';
}

function dataLines(e: StreamedEvent): string[] {
  if (e.dataEncoding === 'base64') return [`(binary, ${Buffer.from(e.data!, 'base64').length} bytes, base64) ${e.data}`];
  try {
    return JSON.stringify(JSON.parse(e.data!), null, 2).split('\n');
  } catch {
    return e.data!.split('\n');
  }
}
