import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';

/** The suffix of the temporary files writeFileDurably leaves behind when the process dies mid-write. */
export const TEMP_SUFFIX = '.tmp';

/**
 * Writes `body` to `path` so that it is either wholly there or not at all, and stays
 * there across a crash of the machine: a temporary file (0600, in a 0700 folder made as
 * needed) synced, renamed over `path`, and the folder synced. Throws the file system's
 * error; the temporary file is removed then.
 */
export async function writeFileDurably(path: string, body: string): Promise<void> {
  const dir = dirname(path);
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}${TEMP_SUFFIX}`;
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(body, 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
    // A umask cannot widen 0600, but a pre-existing temp name could have other modes.
    await chmod(tmp, 0o600);
    await rename(tmp, path);
    await syncDir(dir);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
}

/** Makes the rename durable; not every platform lets a folder be opened for fsync. */
async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // best effort
  }
}
