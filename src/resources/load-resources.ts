import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ConfigFileError, ResourceValidationError, type ResourceIssue, type ResourceOrigin } from '../errors.js';
import type { KindContext } from './kind-registry.js';
import type { LoadResult } from './types.js';
import { kindContext, validateWithContext, type ResourceLoadOptions, type ValidatedObject } from './validate-resource.js';
import { formatPath } from './zod-issues.js';

/** A resource file larger than this is almost surely not configuration (a log, a dump). */
const MAX_FILE_BYTES = 16 * 1024 * 1024;
/** YAML aliases can expand exponentially ("billion laughs"); real configs use a few. */
const MAX_ALIAS_COUNT = 100;

function yamlIssue(err: { message: string; linePos?: ReadonlyArray<{ line: number; col: number }> }): ResourceIssue {
  // yaml's message appends " at line L, column C:" and a code excerpt; keep the first part.
  const text = err.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
  const pos = err.linePos?.[0];
  return { path: '', message: `YAML syntax error${pos ? ` at line ${pos.line}, column ${pos.col}` : ''}: ${text}` };
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Re-roots an item's error under `items[i]` of a kubectl `List` document. */
function inListItem(result: ValidatedObject, index: number): ValidatedObject {
  if (result.type !== 'invalid') return result;
  const e = result.error;
  const issues = e.issues.map((i) => ({ path: formatPath(['items', index]) + (i.path ? (i.path.startsWith('[') ? '' : '.') + i.path : ''), message: i.message }));
  return {
    type: 'invalid',
    error: new ResourceValidationError({
      ...(e.origin ? { origin: e.origin } : {}),
      ...(e.kind ? { kind: e.kind } : {}),
      ...(e.resourceName ? { name: e.resourceName } : {}),
      issues,
    }),
  };
}

/** Validates every document of one YAML text; empty documents are skipped. */
function validateText(text: string, file: string, ctx: KindContext): ValidatedObject[] {
  const out: ValidatedObject[] = [];
  const docs = parseAllDocuments(text.replace(/^\uFEFF/, ''), { prettyErrors: true });
  docs.forEach((doc, i) => {
    const origin: ResourceOrigin = { file, document: i + 1 };
    if (doc.errors.length > 0) {
      out.push({ type: 'invalid', error: new ResourceValidationError({ origin, issues: doc.errors.map(yamlIssue) }) });
      return;
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (err) {
      out.push({ type: 'invalid', error: new ResourceValidationError({ origin, issues: [{ path: '', message: `YAML could not be read: ${(err as Error).message}` }] }, { cause: err }) });
      return;
    }
    if (value === null || value === undefined) return;
    // `kubectl get ... -o yaml` prints several objects as a v1 List.
    if (isMapping(value) && value.kind === 'List' && value.apiVersion === 'v1' && Array.isArray(value.items)) {
      value.items.forEach((item, j) => out.push(inListItem(validateWithContext(item, origin, ctx), j)));
      return;
    }
    out.push(validateWithContext(value, origin, ctx));
  });
  return out;
}

function describeOrigin(o: ResourceOrigin | undefined): string {
  return o ? `${o.file}#${o.document}` : 'another document';
}

/** Sorts results into a LoadResult; a second object with the same kind, namespace and name is an error naming both. */
function collect(results: readonly ValidatedObject[]): LoadResult {
  const out: LoadResult = { resources: [], secrets: [], errors: [] };
  const seen = new Map<string, ResourceOrigin | undefined>();
  for (const r of results) {
    if (r.type === 'invalid') {
      out.errors.push(r.error);
      continue;
    }
    const { kind, metadata } = r.type === 'secret' ? r.secret : r.loaded.resource;
    const origin = r.type === 'secret' ? r.origin : r.loaded.origin;
    const key = `${kind}/${metadata.namespace}/${metadata.name}`;
    if (seen.has(key)) {
      out.errors.push(
        new ResourceValidationError({
          ...(origin ? { origin } : {}),
          kind,
          name: `${metadata.namespace}/${metadata.name}`,
          issues: [{ path: '', message: `duplicate: already defined in ${describeOrigin(seen.get(key))}` }],
        }),
      );
      continue;
    }
    seen.set(key, origin);
    if (r.type === 'secret') out.secrets.push(r.secret);
    else out.resources.push(r.loaded);
  }
  return out;
}

/** Parses multi-document YAML text (the admin API's body, a test's config) into resources. */
export function parseResourcesText(text: string, file: string, options?: ResourceLoadOptions): LoadResult {
  return collect(validateText(text, file, kindContext(options)));
}

async function statOrThrow(path: string): Promise<Awaited<ReturnType<typeof stat>>> {
  try {
    return await stat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new ConfigFileError(`${path}: no such file or folder`, { cause: err });
    throw new ConfigFileError(`${path}: cannot be read (${code ?? (err as Error).message})`, { cause: err });
  }
}

/** Every .yaml/.yml file under a folder, in sorted order; dot-folders (.git, .sluice) are skipped. */
async function yamlFilesIn(dir: string, visited: Set<string>): Promise<string[]> {
  const real = await realpath(dir);
  if (visited.has(real)) return []; // a symlink loop
  visited.add(real);
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch (err) {
    throw new ConfigFileError(`${dir}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { cause: err });
  }
  const out: string[] = [];
  for (const name of names) {
    if (name.startsWith('.')) continue;
    const p = join(dir, name);
    const st = await stat(p).catch(() => undefined); // a dangling symlink is not a config file
    if (!st) continue;
    if (st.isDirectory()) out.push(...(await yamlFilesIn(p, visited)));
    else if (st.isFile() && /\.ya?ml$/i.test(name)) out.push(p);
  }
  return out;
}

async function readConfigFile(file: string, size: number): Promise<string> {
  if (size > MAX_FILE_BYTES) throw new ConfigFileError(`${file}: ${size} bytes is too large for a resource file (limit ${MAX_FILE_BYTES})`);
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigFileError(`${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { cause: err });
  }
}

/**
 * Loads resources from files and folders (folders: every .yaml/.yml, recursively,
 * sorted). Invalid documents are returned as errors and never stop the valid ones; a
 * path that does not exist or cannot be read rejects with ConfigFileError.
 */
export async function loadResources(paths: readonly string[], options?: ResourceLoadOptions): Promise<LoadResult> {
  const ctx = kindContext(options);
  const files: Array<{ file: string; size: number }> = [];
  const seenFiles = new Set<string>();
  const visited = new Set<string>();
  for (const path of paths) {
    const st = await statOrThrow(path);
    const found = st.isDirectory() ? await yamlFilesIn(path, visited) : [path];
    for (const file of found) {
      // The same file named twice (`-f config -f config/a.yaml`) is read once.
      const real = await realpath(file);
      if (seenFiles.has(real)) continue;
      seenFiles.add(real);
      files.push({ file, size: file === path ? Number(st.size) : Number((await stat(file)).size) });
    }
  }
  const results: ValidatedObject[] = [];
  for (const { file, size } of files) results.push(...validateText(await readConfigFile(file, size), file, ctx));
  return collect(results);
}
