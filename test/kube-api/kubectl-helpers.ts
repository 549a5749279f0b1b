// Running the real kubectl against a Sluice admin port: a private kubeconfig, HOME and
// discovery cache per test, so nothing leaks between runs or from the machine's ~/.kube.
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const HAS_KUBECTL = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status === 0;

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class Kubectl {
  readonly dir: string;
  readonly kubeconfig: string;

  /** A kubectl for `server`, with a minimal kubeconfig, or with `kubeconfig` (a file written by `sluice kubeconfig`). */
  constructor(server: string, options: { token?: string; kubeconfig?: string; caFile?: string } = {}) {
    this.dir = mkdtempSync(join(tmpdir(), 'sluice-kubectl-'));
    this.kubeconfig = options.kubeconfig ?? join(this.dir, 'config');
    const token = options.token;
    if (options.kubeconfig) return;
    writeFileSync(
      this.kubeconfig,
      [
        'apiVersion: v1',
        'kind: Config',
        `clusters: [{name: sluice, cluster: {server: "${server}"${options.caFile ? `, certificate-authority: "${options.caFile}"` : ''}}}]`,
        `users: [{name: sluice, user: {${token ? `token: "${token}"` : ''}}}]`,
        'contexts: [{name: sluice, context: {cluster: sluice, user: sluice, namespace: default}}]',
        'current-context: sluice',
        '',
      ].join('\n'),
    );
  }

  #args(args: string[]): string[] {
    return ['--kubeconfig', this.kubeconfig, '--cache-dir', join(this.dir, 'cache'), ...args];
  }

  #env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    return { ...process.env, HOME: this.dir, KUBECONFIG: this.kubeconfig, ...extra };
  }

  run(args: string[], input?: string, env?: NodeJS.ProcessEnv): Promise<KubectlResult> {
    return new Promise((resolve) => {
      const child = execFile('kubectl', this.#args(args), { env: this.#env(env), timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
        resolve({ code, stdout, stderr });
      });
      if (input !== undefined) child.stdin!.end(input);
    });
  }

  /** Runs kubectl and fails with its output unless it exits 0. */
  async ok(args: string[], input?: string, env?: NodeJS.ProcessEnv): Promise<string> {
    const r = await this.run(args, input, env);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    return r.stdout;
  }

  /** A long-running kubectl (`get -w`), its output collected. */
  spawn(args: string[]): { child: ChildProcess; output: () => string } {
    const child = spawn('kubectl', this.#args(args), { env: this.#env(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    return { child, output: () => out };
  }

  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A self-signed certificate for 127.0.0.1 and localhost, made with openssl (Debian's, as on CI). */
export function selfSignedCert(dir: string): { certFile: string; keyFile: string; cert: Buffer; key: Buffer } {
  const certFile = join(dir, 'admin.crt');
  const keyFile = join(dir, 'admin.key');
  const r = spawnSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-subj', '/CN=sluice-admin', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
    '-keyout', keyFile, '-out', certFile,
  ], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl failed: ${r.stderr}`);
  return { certFile, keyFile, cert: readFileSync(certFile), key: readFileSync(keyFile) };
}
