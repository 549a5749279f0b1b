import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { Option, type Command } from 'commander';
import { AdminApiError, InvalidOptionError } from '../errors.js';
import { isValidExtensionName, toBinaryHttp, toStructuredJson, validateAttributes, STRUCTURED_CONTENT_TYPE, type SluiceEvent } from '../events/index.js';
import { adminClientFor, collect } from './global-options.js';
import { fetchResources } from './get.js';
import { selectKinds } from './kind-arg.js';

interface SendFlags {
  to: string;
  namespace: string;
  type: string;
  source: string;
  id?: string;
  subject?: string;
  time?: string;
  data?: string;
  contentType?: string;
  extension: string[];
  mode: string;
  ingressToken?: string;
}

const TYPES_BY_EXTENSION: Record<string, string> = {
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.xml': 'application/xml',
  '.yaml': 'application/yaml',
  '.yml': 'application/yaml',
  '.csv': 'text/csv',
};

export function registerSend(program: Command): void {
  program
    .command('send')
    .description('send one CloudEvent to a channel, broker or URL (like `kn event send`)')
    .requiredOption('--to <target>', 'channel/<ns>/<name>, broker/<ns>/<name>, <kind>/<name> (in -n), a bare channel name (in -n), or an http(s) URL')
    .requiredOption('--type <type>', 'the event type (ce-type)')
    .requiredOption('--source <source>', 'the event source (ce-source), a URI reference')
    .option('-n, --namespace <ns>', 'namespace of a channel or broker named without one', 'default')
    .option('--id <id>', 'the event id (default: a random UUID)')
    .option('--subject <subject>', 'the event subject')
    .option('--time <time>', 'RFC 3339 time (default: now)')
    .option('--data <json|@file>', 'the event data: JSON (or other text) inline, or @path to read a file')
    .option('--content-type <type>', 'datacontenttype (default: application/json for JSON data, else by file extension or text/plain)')
    .option('-e, --extension <name=value>', 'an extension attribute (repeatable)', collect, [])
    .option('--mode <mode>', 'binary or structured content mode', 'binary')
    .addOption(new Option('--ingress-token <token>', 'bearer token for a channel or broker that requires one (sluice.dev/ingress-token-secret)').env('SLUICE_INGRESS_TOKEN'))
    .action(async (flags: SendFlags, cmd: Command) => {
      if (flags.mode !== 'binary' && flags.mode !== 'structured') throw new InvalidOptionError(`--mode ${JSON.stringify(flags.mode)}: use binary or structured`);
      const event = await buildEvent(flags);
      const url = await resolveTarget(flags.to, flags.namespace, cmd);
      const { headers, body } = flags.mode === 'binary' ? toBinaryHttp(event) : { headers: { 'content-type': STRUCTURED_CONTENT_TYPE }, body: Buffer.from(toStructuredJson(event), 'utf8') };
      if (flags.ingressToken) headers.authorization = `Bearer ${flags.ingressToken}`;
      let res: Response;
      try {
        res = await fetch(url, { method: 'POST', headers, ...(body ? { body } : {}), signal: AbortSignal.timeout(30_000) });
      } catch (err) {
        const code = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
        throw new AdminApiError(`cannot send to ${url}: is sluice's ingress reachable there? (${code})`, { cause: err });
      }
      const text = await res.text();
      if (res.status >= 200 && res.status < 300) {
        process.stdout.write(`event ${event.attributes.id} sent to ${url} (HTTP ${res.status})\n`);
        return;
      }
      let why = text;
      try {
        const j = JSON.parse(text) as { error?: string };
        if (typeof j.error === 'string') why = j.error;
      } catch {
        // not JSON: show the text
      }
      const hint = res.status === 401 ? ' (pass --ingress-token or set SLUICE_INGRESS_TOKEN)' : '';
      throw new AdminApiError(`${url} refused the event: HTTP ${res.status}${why ? ': ' + why.trim() : ''}${hint}`, { status: res.status });
    });
}

async function buildEvent(flags: SendFlags): Promise<SluiceEvent> {
  const attributes: Record<string, string> = {
    specversion: '1.0',
    id: flags.id ?? randomUUID(),
    source: flags.source,
    type: flags.type,
    time: flags.time ?? new Date().toISOString(),
  };
  if (flags.subject !== undefined) attributes.subject = flags.subject;
  for (const ext of flags.extension) {
    const eq = ext.indexOf('=');
    if (eq < 1) throw new InvalidOptionError(`--extension ${JSON.stringify(ext)}: write it as name=value`);
    const name = ext.slice(0, eq);
    if (!isValidExtensionName(name)) throw new InvalidOptionError(`--extension ${name}: names are lower-case letters and digits only (CloudEvents)`);
    attributes[name] = ext.slice(eq + 1);
  }
  let data: Buffer | undefined;
  let contentType = flags.contentType;
  if (flags.data !== undefined) {
    if (flags.data.startsWith('@')) {
      const file = flags.data.slice(1);
      try {
        data = await readFile(file);
      } catch (err) {
        throw new InvalidOptionError(`--data @${file}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { cause: err });
      }
      contentType ??= TYPES_BY_EXTENSION[extname(file).toLowerCase()] ?? 'application/octet-stream';
    } else {
      data = Buffer.from(flags.data, 'utf8');
      contentType ??= isJson(flags.data) ? 'application/json' : 'text/plain; charset=utf-8';
    }
  }
  if (contentType) attributes.datacontenttype = contentType;
  try {
    validateAttributes(attributes);
  } catch (err) {
    throw new InvalidOptionError(`the event is not valid: ${(err as Error).message}`, { cause: err });
  }
  return data && data.length ? { attributes, data } : { attributes };
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** A URL as is; otherwise the address of a channel or broker, asked of the admin API. */
async function resolveTarget(to: string, namespace: string, cmd: Command): Promise<string> {
  if (/^https?:\/\//i.test(to)) {
    try {
      return new URL(to).toString();
    } catch {
      throw new InvalidOptionError(`--to ${JSON.stringify(to)} is not a valid URL`);
    }
  }
  const parts = to.split('/');
  let kindArg = 'channel';
  let ns = namespace;
  let name: string;
  if (parts.length === 1) name = parts[0]!;
  else if (parts.length === 2) [kindArg, name] = parts as [string, string];
  else if (parts.length === 3) [kindArg, ns, name] = parts as [string, string, string];
  else throw new InvalidOptionError(`--to ${JSON.stringify(to)}: use channel/<ns>/<name>, broker/<ns>/<name>, <name> or an http(s) URL`);
  if (!name || !ns) throw new InvalidOptionError(`--to ${JSON.stringify(to)}: the name and namespace must not be empty`);
  const client = adminClientFor(cmd);
  const sel = await selectKinds(client, kindArg);
  const [item] = await fetchResources(client, sel, ns, name);
  if (!item) throw new InvalidOptionError(`--to ${to}: no ${sel.label} named ${JSON.stringify(name)} in namespace ${ns} (see: sluice get ${sel.label}s -n ${ns})`);
  const url = item.status?.address?.url;
  if (!url) {
    const ready = item.status?.conditions?.find((c) => c.type === 'Ready');
    throw new InvalidOptionError(`--to ${to}: ${item.kind} ${ns}/${name} has no address${ready ? ` (${ready.reason ?? 'not ready'}${ready.message ? ': ' + ready.message : ''})` : ''}`);
  }
  return url;
}
