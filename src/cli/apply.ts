import type { Command } from 'commander';
import { AdminApiError } from '../errors.js';
import { adminClientFor, collect } from './global-options.js';
import { qualifiedName } from './output.js';
import { rawDocuments, readInputs } from './read-inputs.js';

interface AppliedItem {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  result: string;
  ready?: string;
  reason?: string;
  message?: string;
  address?: string;
}

interface RejectedBody {
  error?: string;
  reason?: string;
  issues?: Array<{ document?: number; kind?: string; name?: string; path?: string; message: string }>;
}

export function registerApply(program: Command): void {
  program
    .command('apply')
    .description('create or update resources on a running sluice, live (all documents or none)')
    .option('-f, --file <path>', 'YAML file or folder (repeatable; folders are read recursively; - reads stdin)', collect, [])
    .action(async (flags: { file: string[] }, cmd: Command) => {
      const client = adminClientFor(cmd);
      const { docs, errors } = rawDocuments(await readInputs(flags.file));
      if (errors.length || docs.length === 0) {
        for (const e of errors) process.stderr.write(`error: ${e}\n`);
        if (docs.length === 0 && errors.length === 0) process.stderr.write('error: no resource documents in the given files\n');
        process.exitCode = 1;
        return;
      }
      // One request, so the server applies every document or none. The server validates with
      // its own kinds and defaults (the same loader as `sluice start`); its document numbers
      // are positions in this array, turned back into file#document below.
      const res = await client.request<{ items?: AppliedItem[] } & RejectedBody>('POST', '/api/v1/resources', {
        body: JSON.stringify(docs.map((d) => d.value)),
        contentType: 'application/json',
      });
      if (res.status === 400 && Array.isArray(res.body.issues)) {
        const originOf = (n: number | undefined) => (n ? docs[n - 1]?.origin : undefined);
        for (const i of res.body.issues) {
          const what = [originOf(i.document), i.kind, i.name].filter(Boolean).join(' ');
          const message = i.message.replace(/\brequest#(\d+)/g, (m, n: string) => originOf(Number(n)) ?? m);
          process.stderr.write(`error: ${what ? what + ': ' : ''}${i.path ? i.path + ': ' : ''}${message}\n`);
        }
        if (res.body.issues.length === 0) process.stderr.write(`error: ${res.body.error ?? 'rejected'}\n`);
        process.stderr.write(`sluice: ${res.body.issues.length} problem(s) in the resources; nothing applied\n`);
        process.exitCode = 1;
        return;
      }
      if (res.status < 200 || res.status >= 300) throw client.errorOf(res.status, res.body, '/api/v1/resources');
      const items = res.body.items;
      if (!Array.isArray(items)) throw new AdminApiError('the server answered the apply without a list of items: is --server a sluice admin port?');
      for (const i of items) {
        process.stdout.write(`${qualifiedName(i.kind, i.apiVersion, i.name)}${i.namespace !== 'default' ? ` (namespace ${i.namespace})` : ''} ${i.result}\n`);
        if (i.ready === 'False') process.stderr.write(`warning: ${i.kind} ${i.namespace}/${i.name} is not ready: ${i.reason ?? ''}${i.message ? ': ' + i.message : ''}\n`);
      }
    });
}
