import { readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { DataDirError } from '../errors.js';
import { writeFileDurably } from './durable-file.js';

/** A document applied through the admin API, kept as it was sent (before defaults). */
export interface AppliedEntry {
  kind: string;
  namespace: string;
  name: string;
  document: Record<string, unknown>;
  /**
   * Digest of the `-f` file's document with the same kind/namespace/name when this was
   * applied; null when no file had it. If the file's document changes later, the file
   * is the newer word and this entry is dropped.
   */
  overrides: string | null;
  appliedAt: string;
}

/** A resource deleted through the admin API that a `-f` file (as it was then) still defines. */
export interface DeletedEntry {
  kind: string;
  namespace: string;
  name: string;
  overrides: string;
  deletedAt: string;
}

export interface AdminState {
  applied: AppliedEntry[];
  deleted: DeletedEntry[];
}

const FILE_NAME = 'admin-resources.json';
const FORMAT_VERSION = 1;

/**
 * What the admin API applied and deleted, in one JSON file under `--data-dir`, replaced
 * atomically (temp file, fsync, rename) so a crash leaves the old or the new state, never
 * half of one. The file holds Secrets, so it is written 0600 in a 0700 folder.
 */
export class AdminStateFile {
  readonly path: string;
  constructor(dataDir: string) {
    this.path = join(dataDir, FILE_NAME);
  }

  /**
   * The saved state; empty when there is none. A file that cannot be parsed is moved
   * aside (`.corrupt-<time>`) rather than overwritten by the next save, and reported.
   */
  async load(): Promise<{ state: AdminState; warning?: string }> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { state: { applied: [], deleted: [] } };
      throw new DataDirError(`${this.path}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); check --data-dir`, { cause: err });
    }
    const state = parseState(text);
    if (state) return { state };
    const aside = `${this.path}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    await rename(this.path, aside).catch(() => {});
    return { state: { applied: [], deleted: [] }, warning: `${this.path} is not a valid admin state file; moved it to ${aside} and started without admin-applied resources` };
  }

  async save(state: AdminState): Promise<void> {
    const body = JSON.stringify({ version: FORMAT_VERSION, ...state }, null, 2) + '\n';
    try {
      await writeFileDurably(this.path, body);
    } catch (err) {
      throw new DataDirError(`cannot save admin changes to ${this.path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); check --data-dir`, { cause: err });
    }
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isKeyed(v: Record<string, unknown>): boolean {
  return typeof v.kind === 'string' && typeof v.namespace === 'string' && typeof v.name === 'string';
}

function parseState(text: string): AdminState | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isRecord(v) || v.version !== FORMAT_VERSION || !Array.isArray(v.applied) || !Array.isArray(v.deleted)) return undefined;
  const applied = v.applied.filter(
    (e): e is AppliedEntry => isRecord(e) && isKeyed(e) && isRecord(e.document) && (e.overrides === null || typeof e.overrides === 'string'),
  );
  const deleted = v.deleted.filter((e): e is DeletedEntry => isRecord(e) && isKeyed(e) && typeof e.overrides === 'string');
  return { applied, deleted };
}
