import { randomBytes } from 'node:crypto';
import { readdir, readFile, rename, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { SluiceError } from '../errors.js';
import { TEMP_SUFFIX, writeFileDurably } from '../live-config/durable-file.js';
import { eventFromJson, parseJsonBody, toStructuredJson } from '../events/structured.js';
import type { SluiceEvent } from '../events/types.js';

/** The journal could not keep an accepted event: the sender must not be told it is safe (503). */
export class JobJournalError extends SluiceError {
  readonly code = 'SLUICE_ERR_JOBSINK_JOURNAL';
  override readonly statusCode = 503;
}

/** An event whose job had not finished when the journal was last written. */
export interface JournaledJob {
  readonly entry: string;
  readonly event: SluiceEvent;
}

const SUFFIX = '.json';
// Longer than any journal entry could be, so a damaged file is set aside unread.
const MAX_ENTRY_BYTES = 64 * 1024 * 1024;

/**
 * A JobSink's unfinished jobs on disk (`<data dir>/jobsinks/<namespace>/<name>/`): one
 * file per event, written and synced before the event is answered 202 and removed once
 * its job succeeded or failed for good. What is there when Sluice starts (it was killed,
 * or stopped while jobs still ran or waited) runs again, so an accepted event gets its
 * job even across a crash: at least once, as the rest of the event path.
 */
export class JobJournal {
  readonly dir: string;
  #seq = 0;
  readonly #tag = randomBytes(4).toString('hex');

  constructor(dir: string) {
    this.dir = dir;
  }

  /** Writes the event durably (see writeFileDurably) and returns its entry name. */
  async add(event: SluiceEvent): Promise<string> {
    // Names sort in arrival order, so a restart runs the oldest first.
    const entry = `${Date.now().toString().padStart(15, '0')}-${this.#tag}-${(++this.#seq).toString().padStart(8, '0')}${SUFFIX}`;
    try {
      await writeFileDurably(join(this.dir, entry), toStructuredJson(event));
    } catch (err) {
      throw new JobJournalError(`cannot keep the event in ${this.dir} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); check --data-dir`, { cause: err });
    }
    return entry;
  }

  /** The job is over (succeeded, or failed for good): its event need not run again. */
  async remove(entry: string): Promise<void> {
    await unlink(join(this.dir, entry)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }

  /**
   * The events left from before, oldest first. A file that cannot be read as an event
   * (a disk fault, a hand edit) is renamed `<name>.bad` and reported through `onBad`
   * rather than stopping the others.
   */
  async load(onBad: (file: string, reason: string) => void): Promise<JournaledJob[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const out: JournaledJob[] = [];
    for (const name of names.sort()) {
      const file = join(this.dir, name);
      // A write that never finished: the sender was not answered 202 for it.
      if (name.endsWith(TEMP_SUFFIX)) {
        await rm(file, { force: true }).catch(() => {});
        continue;
      }
      if (!name.endsWith(SUFFIX)) continue;
      try {
        const body = await readFile(file);
        if (body.length > MAX_ENTRY_BYTES) throw new Error(`larger than ${MAX_ENTRY_BYTES} bytes`);
        out.push({ entry: name, event: eventFromJson(parseJsonBody(body, 'journal entry')) });
      } catch (err) {
        onBad(file, (err as Error).message);
        await rename(file, `${file}.bad`).catch(() => {});
      }
    }
    return out;
  }

  /** The JobSink was deleted: its unfinished jobs go with it, as Knative deletes a JobSink's Jobs. */
  async clear(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}
