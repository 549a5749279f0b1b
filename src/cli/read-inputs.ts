import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ConfigFileError } from '../errors.js';

/** One YAML text named by `-f` (a file, a file in a folder, or `-` for stdin). */
export interface InputText {
  file: string;
  text: string;
}

/** A parsed document and where it came from (`file#n`, n 1-based as the loader counts). */
export interface RawDocument {
  origin: string;
  value: unknown;
}

export const STDIN = '-';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** YAML files under a folder the way the loader finds them: sorted, recursive, no dot-entries. */
async function yamlFilesIn(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const name of (await readdir(dir)).sort()) {
    if (name.startsWith('.')) continue;
    const p = join(dir, name);
    const st = await stat(p).catch(() => undefined);
    if (st?.isDirectory()) out.push(...(await yamlFilesIn(p)));
    else if (st?.isFile() && /\.ya?ml$/i.test(name)) out.push(p);
  }
  return out;
}

/** Reads every `-f` path (`-`: stdin); a missing path is a ConfigFileError naming it. */
export async function readInputs(paths: readonly string[]): Promise<InputText[]> {
  if (paths.length === 0) throw new ConfigFileError('no files given: pass -f <file-or-folder> (repeatable; - reads stdin)');
  const out: InputText[] = [];
  for (const p of paths) {
    if (p === STDIN) {
      out.push({ file: '<stdin>', text: await readStdin() });
      continue;
    }
    const st = await stat(p).catch((err: NodeJS.ErrnoException) => {
      throw new ConfigFileError(err.code === 'ENOENT' ? `${p}: no such file or folder` : `${p}: cannot be read (${err.code ?? err.message})`, { cause: err });
    });
    const files = st.isDirectory() ? await yamlFilesIn(p) : [p];
    if (st.isDirectory() && files.length === 0) throw new ConfigFileError(`${p}: the folder has no .yaml or .yml files`);
    for (const f of files) {
      try {
        out.push({ file: f, text: await readFile(f, 'utf8') });
      } catch (err) {
        throw new ConfigFileError(`${f}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { cause: err });
      }
    }
  }
  return out;
}

/** Every non-empty document of the inputs, parsed; YAML syntax errors are returned, not thrown. */
export function rawDocuments(inputs: readonly InputText[]): { docs: RawDocument[]; errors: string[] } {
  const docs: RawDocument[] = [];
  const errors: string[] = [];
  for (const { file, text } of inputs) {
    parseAllDocuments(text.replace(/^\uFEFF/, '')).forEach((doc, i) => {
      const origin = `${file}#${i + 1}`;
      if (doc.errors.length) {
        errors.push(`${origin}: YAML syntax error: ${doc.errors[0]!.message.split('\n')[0]}`);
        return;
      }
      try {
        const value: unknown = doc.toJS({ maxAliasCount: 100 });
        if (value !== null && value !== undefined) docs.push({ origin, value });
      } catch (err) {
        errors.push(`${origin}: YAML could not be read: ${(err as Error).message}`);
      }
    });
  }
  return { docs, errors };
}
