import type { Command } from 'commander';
import { loadResources, parseResourcesText } from '../resources/index.js';
import type { LoadResult } from '../resources/types.js';
import { collect } from './global-options.js';
import { sluiceKinds } from './kind-arg.js';
import { readInputs, STDIN, type InputText } from './read-inputs.js';

/**
 * Validates `-f` paths with the loader and kinds `sluice start` uses, so the messages are
 * the same (`file#doc Kind ns/name: field: problem`). `-` reads stdin.
 */
export async function validateOffline(paths: readonly string[], inputs?: readonly InputText[]): Promise<LoadResult> {
  const registry = await sluiceKinds();
  const files = paths.filter((p) => p !== STDIN);
  const out: LoadResult = files.length ? await loadResources(files, { registry }) : { resources: [], secrets: [], errors: [] };
  if (paths.includes(STDIN)) {
    // stdin can be read once: reuse what the caller already read.
    const stdin = inputs?.find((i) => i.file === '<stdin>') ?? (await readInputs([STDIN]))[0];
    const r = parseResourcesText(stdin!.text, stdin!.file, { registry });
    out.resources.push(...r.resources);
    out.secrets.push(...r.secrets);
    out.errors.push(...r.errors);
  }
  return out;
}

export function registerValidate(program: Command): void {
  program
    .command('validate')
    .description('check resource YAML offline, with the same rules and messages as `sluice start` (exit 1 if any document is invalid)')
    .option('-f, --file <path>', 'YAML file or folder (repeatable; folders are read recursively; - reads stdin)', collect, [])
    .action(async (flags: { file: string[] }) => {
      if (flags.file.length === 0) await readInputs([]); // throws the "pass -f" message
      const r = await validateOffline(flags.file);
      for (const e of r.errors) process.stderr.write(`error: ${e.message}\n`);
      const valid = r.resources.length + r.secrets.length;
      if (r.errors.length) {
        process.stderr.write(`sluice: ${r.errors.length} invalid resource document(s), ${valid} valid\n`);
        process.exitCode = 1;
        return;
      }
      process.stdout.write(`${valid} resource document(s) valid\n`);
    });
}
