import { watch, type FSWatcher } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';

export interface FileWatcherOptions {
  /** Quiet time after the last change before `onChange` runs (editors write in bursts). */
  debounceMs: number;
  onChange: () => Promise<void>;
  onError: (err: unknown) => void;
}

/**
 * Watches `-f` files and folders with fs.watch. Folders are watched one by one (with
 * their subfolders) rather than with `recursive`, which Linux lacked before Node 20
 * and which misses folders created later; a file is watched through its folder, because
 * editors save by writing a new file and renaming it over the old one, which ends a
 * watch on the file itself. Dot-entries (`.git`, editor swap files) are ignored, as the
 * loader ignores them (but `..data`, Kubernetes' ConfigMap swap, counts). After each change the set of watched folders is refreshed.
 */
export class FileWatcher {
  #paths: string[];
  #o: FileWatcherOptions;
  #watchers = new Map<string, FSWatcher>();
  /** Per watched folder, the file names that matter there (undefined: every name). */
  #names = new Map<string, Set<string> | undefined>();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #closed = false;

  constructor(paths: readonly string[], options: FileWatcherOptions) {
    this.#paths = paths.map((p) => resolve(p));
    this.#o = options;
  }

  async start(): Promise<void> {
    await this.#refresh();
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    for (const w of this.#watchers.values()) w.close();
    this.#watchers.clear();
  }

  /** Folders to watch, and for each the file names that matter there (undefined: all). */
  async #targets(): Promise<Map<string, Set<string> | undefined>> {
    const out = new Map<string, Set<string> | undefined>();
    const addFolder = async (dir: string): Promise<void> => {
      out.set(dir, undefined);
      const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
      for (const e of entries) {
        if (e.name.startsWith('.')) continue;
        const isDir = e.isDirectory() || (e.isSymbolicLink() && (await stat(join(dir, e.name)).catch(() => undefined))?.isDirectory());
        if (isDir && !out.has(join(dir, e.name))) await addFolder(join(dir, e.name));
      }
    };
    for (const p of this.#paths) {
      const st = await stat(p).catch(() => undefined);
      if (st?.isDirectory()) await addFolder(p);
      else {
        // A file (or one being replaced right now): watch its folder for its name.
        const dir = dirname(p);
        if (out.has(dir) && out.get(dir) === undefined) continue;
        const names = out.get(dir) ?? new Set<string>();
        names.add(basename(p));
        out.set(dir, names);
      }
    }
    return out;
  }

  async #refresh(): Promise<void> {
    const targets = await this.#targets();
    if (this.#closed) return;
    for (const [dir, w] of this.#watchers) {
      if (!targets.has(dir)) {
        w.close();
        this.#watchers.delete(dir);
      }
    }
    this.#names = targets;
    for (const dir of targets.keys()) {
      if (this.#watchers.has(dir)) continue;
      try {
        const w = watch(dir, { persistent: false }, (_event, file) => {
          const name = file === null ? null : String(file);
          const names = this.#names.get(dir);
          // `..data` is how Kubernetes swaps a mounted ConfigMap's content: that counts.
          if (name !== null && ((name.startsWith('.') && !name.startsWith('..')) || (names && !names.has(name) && !name.startsWith('..')))) return;
          this.#schedule();
        });
        // A watched folder that is removed ends its watch; the next refresh drops it.
        w.on('error', () => {
          w.close();
          if (this.#watchers.get(dir) === w) this.#watchers.delete(dir);
          this.#schedule();
        });
        this.#watchers.set(dir, w);
      } catch {
        this.#watchers.delete(dir); // gone between listing and watching
      }
    }
  }

  #schedule(): void {
    if (this.#closed) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#fire(), this.#o.debounceMs);
  }

  async #fire(): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = (async () => {
      do {
        this.#again = false;
        try {
          await this.#o.onChange();
          await this.#refresh();
        } catch (err) {
          this.#o.onError(err);
        }
      } while (this.#again && !this.#closed);
    })();
    await this.#running;
    this.#running = undefined;
  }
}
