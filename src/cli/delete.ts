import type { Command } from 'commander';
import { AdminApiError, InvalidOptionError } from '../errors.js';
import { adminClientFor, collect } from './global-options.js';
import { singleKind } from './kind-arg.js';
import { rawDocuments, readInputs } from './read-inputs.js';

interface DeleteFlags {
  file: string[];
  namespace: string;
  ignoreNotFound?: boolean;
}

interface DeletedItem {
  kind: string;
  namespace: string;
  name: string;
  result: 'deleted' | 'notfound';
}

export function registerDelete(program: Command): void {
  program
    .command('delete')
    .description('delete resources on a running sluice, live: the ones the -f documents name, or <kind> <name>...')
    .argument('[kind]', 'kind, plural or short name (e.g. channel, subs, trigger)')
    .argument('[names...]', 'names of the resources to delete')
    .option('-f, --file <path>', 'delete what these YAML documents name (repeatable; folders read recursively; - reads stdin)', collect, [])
    .option('-n, --namespace <ns>', 'namespace (for <kind> <name>)', 'default')
    .option('--ignore-not-found', 'do not fail when a resource does not exist')
    .action(async (kindArg: string | undefined, names: string[], flags: DeleteFlags, cmd: Command) => {
      const client = adminClientFor(cmd);
      let items: DeletedItem[];
      if (flags.file.length) {
        if (kindArg) throw new InvalidOptionError('give either -f <file> or <kind> <name>, not both');
        const { docs, errors } = rawDocuments(await readInputs(flags.file));
        if (errors.length) {
          for (const e of errors) process.stderr.write(`error: ${e}\n`);
          process.stderr.write('sluice: nothing deleted\n');
          process.exitCode = 1;
          return;
        }
        if (docs.length === 0) throw new InvalidOptionError('the given files have no resource documents');
        const res = await client.request<{ items?: DeletedItem[]; error?: string; issues?: Array<{ document?: number; message: string }> }>('DELETE', '/api/v1/resources', {
          body: JSON.stringify(docs.map((d) => d.value)),
          contentType: 'application/json',
        });
        if (res.status === 400 && Array.isArray(res.body.issues) && res.body.issues.length) {
          for (const i of res.body.issues) process.stderr.write(`error: ${i.document ? (docs[i.document - 1]?.origin ?? '') + ': ' : ''}${i.message}\n`);
          process.stderr.write('sluice: nothing deleted\n');
          process.exitCode = 1;
          return;
        }
        if (res.status < 200 || res.status >= 300) throw client.errorOf(res.status, res.body, '/api/v1/resources');
        if (!Array.isArray(res.body.items)) throw new AdminApiError('the server answered the delete without a list of items: is --server a sluice admin port?');
        items = res.body.items;
      } else {
        if (!kindArg || names.length === 0) throw new InvalidOptionError('say what to delete: sluice delete <kind> <name> [-n namespace], or sluice delete -f <file>');
        const kind = await singleKind(client, kindArg);
        items = [];
        for (const name of names) {
          const path = `/api/v1/resources/${encodeURIComponent(kind)}/${encodeURIComponent(flags.namespace)}/${encodeURIComponent(name)}`;
          const res = await client.request<{ error?: string; reason?: string }>('DELETE', path);
          if (res.status === 404 && res.body.reason === 'SLUICE_ERR_NOT_FOUND' && !/no admin route/.test(res.body.error ?? '')) {
            items.push({ kind, namespace: flags.namespace, name, result: 'notfound' });
          } else if (res.status >= 200 && res.status < 300) items.push({ kind, namespace: flags.namespace, name, result: 'deleted' });
          else throw client.errorOf(res.status, res.body, path);
        }
      }
      let missing = 0;
      for (const i of items) {
        if (i.result === 'deleted') process.stdout.write(`${i.kind.toLowerCase()}/${i.name}${i.namespace !== 'default' ? ` (namespace ${i.namespace})` : ''} deleted\n`);
        else if (!flags.ignoreNotFound) {
          missing++;
          process.stderr.write(`error: ${i.kind} "${i.name}" not found in namespace ${i.namespace}\n`);
        }
      }
      if (missing) process.exitCode = 1;
    });
}
