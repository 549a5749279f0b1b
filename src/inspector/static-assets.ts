import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** One file of the inspector page, read once at startup. */
export interface StaticAsset {
  body: Buffer;
  contentType: string;
}

const FILES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'inspector.js': 'text/javascript; charset=utf-8',
  'inspector.css': 'text/css; charset=utf-8',
};

/**
 * Where the page's files are. tsc does not copy non-TS files, so from dist/inspector/
 * the files are read from the package's src/inspector/static (shipped via package.json
 * "files"); from src/inspector/ they sit next to this module.
 */
const CANDIDATES = [new URL('./static/', import.meta.url), new URL('../../src/inspector/static/', import.meta.url)];

export async function findStaticDir(): Promise<string | undefined> {
  for (const dir of CANDIDATES) {
    const path = fileURLToPath(dir);
    try {
      await access(join(path, 'index.html'));
      return path;
    } catch {
      // Try the next place.
    }
  }
  return undefined;
}

/** The page's files keyed by URL path (`/`, `/inspector.js`, `/inspector.css`). */
export async function loadStaticAssets(dir: string): Promise<Map<string, StaticAsset>> {
  const out = new Map<string, StaticAsset>();
  for (const [file, contentType] of Object.entries(FILES)) {
    const body = await readFile(join(dir, file));
    out.set(file === 'index.html' ? '/' : `/${file}`, { body, contentType });
  }
  return out;
}
