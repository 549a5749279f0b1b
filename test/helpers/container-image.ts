import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

// The container tests' image, built locally (no registry is reachable here): a static
// busybox (Debian's busybox-static) with an HTTP echo responder as its default command
// (`/bin/serve`, on $PORT) and a ContainerSource adapter (`/bin/emit`, posting to $K_SINK).
// Files: test/fixtures/container-image. The tag carries a hash of them, so an edit rebuilds.

const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'container-image');
const APPLETS = ['sh', 'httpd', 'wget', 'sleep', 'cat', 'head', 'printf', 'echo', 'env', 'sed', 'date', 'ls', 'true'];

export interface TestContainerRuntime {
  /** `podman` or `docker`, as Sluice's `--container-runtime` takes it. */
  cli: 'podman' | 'docker';
  /** The image built from test/fixtures/container-image (default command: the echo server). */
  image: string;
  /** Environment the runtime's CLI needs here (CONTAINERS_CONF); also set on process.env. */
  env: Record<string, string>;
}

let found: Promise<TestContainerRuntime | { skip: string }> | undefined;

/**
 * A working container runtime with the test image built, or why there is none. Podman
 * runs with runc and no default ulimits where runc exists (crun fails in this VM's hybrid
 * cgroups; the VM cannot raise RLIMIT_NOFILE). In CI (`CI` set) a missing runtime is an
 * error, not a skip: `.ci/run` installs podman, runc and busybox-static.
 */
export function testContainerRuntime(): Promise<TestContainerRuntime | { skip: string }> {
  found ??= detect().then(
    (r) => r,
    (err: Error) => ({ skip: err.message }),
  ).then((r) => {
    if ('skip' in r && process.env.CI) throw new Error(`container tests cannot run in CI: ${r.skip}`);
    return r;
  });
  return found;
}

async function detect(): Promise<TestContainerRuntime> {
  const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
  if (!busybox) throw new Error('no busybox binary (install busybox-static) to build the test image from');
  const reasons: string[] = [];
  for (const cli of ['podman', 'docker'] as const) {
    const env = cli === 'podman' ? podmanEnv() : {};
    try {
      await run(cli, ['version'], { env: { ...process.env, ...env }, timeout: 15_000 });
    } catch (err) {
      reasons.push(`${cli}: ${firstLine(err)}`);
      continue;
    }
    Object.assign(process.env, env);
    try {
      const image = await buildImage(cli, busybox);
      await run(cli, ['run', '--rm', '--pull=never', image, '/bin/true'], { timeout: 60_000 });
      return { cli, image, env };
    } catch (err) {
      reasons.push(`${cli}: ${firstLine(err)}`);
    }
  }
  throw new Error(`no working container runtime (${reasons.join('; ')})`);
}

function podmanEnv(): Record<string, string> {
  if (process.env.CONTAINERS_CONF) return { CONTAINERS_CONF: process.env.CONTAINERS_CONF };
  const runc = ['/usr/sbin/runc', '/usr/bin/runc'].find((p) => existsSync(p));
  if (!runc) return {};
  const dir = mkdtempSync(join(tmpdir(), 'sluice-containers-conf-'));
  const file = join(dir, 'containers.conf');
  writeFileSync(file, `[containers]\ndefault_ulimits = []\n\n[engine]\nruntime = "runc"\n`);
  return { CONTAINERS_CONF: file };
}

async function buildImage(cli: string, busybox: string): Promise<string> {
  const files = listFiles(FIXTURE);
  const hash = createHash('sha256');
  for (const f of files) hash.update(relative(FIXTURE, f)).update(readFileSync(f));
  const image = `localhost/sluice-test-echo:${hash.digest('hex').slice(0, 12)}`;
  try {
    await run(cli, ['image', 'inspect', image], { timeout: 15_000 });
    return image;
  } catch {
    // not built yet
  }
  const root = mkdtempSync(join(tmpdir(), 'sluice-test-image-'));
  try {
    const rootfs = join(root, 'rootfs');
    mkdirSync(join(rootfs, 'bin'), { recursive: true });
    mkdirSync(join(rootfs, 'tmp'), { recursive: true });
    copyFileSync(busybox, join(rootfs, 'bin', 'busybox'));
    chmodSync(join(rootfs, 'bin', 'busybox'), 0o755);
    for (const a of APPLETS) symlinkSync('busybox', join(rootfs, 'bin', a));
    for (const f of files) {
      const to = join(rootfs, relative(FIXTURE, f));
      mkdirSync(dirname(to), { recursive: true });
      copyFileSync(f, to);
      chmodSync(to, statSync(f).mode & 0o777);
    }
    const tar = join(root, 'image.tar');
    await run('tar', ['-C', rootfs, '-cf', tar, '.']);
    await run(cli, ['import', '--change', 'CMD ["/bin/serve"]', '--change', 'ENV PATH=/bin', tar, image], { timeout: 120_000 });
    return image;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? listFiles(join(dir, e.name)) : [join(dir, e.name)]))
    .sort();
}

function firstLine(err: unknown): string {
  const e = err as { stderr?: string; message?: string };
  return (e.stderr?.trim() || e.message || String(err)).split('\n')[0]!;
}

/** Names of containers carrying `label` (e.g. `sluice.dev/managed`), running or not. */
export async function containersWithLabel(cli: string, label: string): Promise<string[]> {
  const { stdout } = await run(cli, ['ps', '-a', '--filter', `label=${label}`, '--format', '{{.Names}}'], { timeout: 15_000 });
  return stdout.split('\n').map((s) => s.trim()).filter(Boolean);
}

const LOCK = join(tmpdir(), 'sluice-heavy-container-tests.lock');

/** True when the lock names a holder process that no longer exists (not while its pid is still being written). */
function holderGone(): boolean {
  let pid: number;
  try {
    pid = Number(readFileSync(join(LOCK, 'pid'), 'utf8'));
  } catch {
    return false;
  }
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * Runs `fn` while holding a machine-wide lock (a directory: mkdir is atomic), so that the
 * test files that start dozens of containers at once (the Knative sample corpora) do not
 * run together: the runtime serialises container starts, and two such files side by side
 * would each wait behind the other's. The holder writes its pid into the lock: a lock
 * whose holder is gone (a test run killed with -9) is taken as stale at once, and any lock
 * older than 10 minutes too.
 */
export async function withHeavyContainerLock<T>(fn: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      mkdirSync(LOCK);
      writeFileSync(join(LOCK, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      try {
        if (Date.now() - statSync(LOCK).mtimeMs > 600_000 || holderGone()) rmSync(LOCK, { recursive: true, force: true });
      } catch {
        // released meanwhile
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}
