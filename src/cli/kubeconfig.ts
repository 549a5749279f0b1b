import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { mkdir, readFile, realpath, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { isMap, isSeq, parseDocument, stringify, type Document } from 'yaml';
import { InvalidOptionError } from '../errors.js';
import { DEFAULT_SERVER } from './global-options.js';

// `sluice kubeconfig`: the admin port answers the slice of the Kubernetes API kubectl needs
// for Sluice's kinds, so a kubeconfig pointing at it lets users run `kubectl get brokers`.

interface KubeconfigFlags {
  name: string;
  namespace: string;
  out?: string;
  certificateAuthority?: string;
  insecureSkipTlsVerify?: boolean;
  /** undefined unless --use-context / --no-use-context was given: the default depends on the file. */
  useContext?: boolean;
}

/** What one Sluice entry contributes to a kubeconfig: a cluster, a user and a context, all named `name`. */
export interface KubeconfigEntry {
  name: string;
  server: string;
  token?: string;
  namespace: string;
  /** PEM of the CA that signed the admin port's certificate (`--certificate-authority`), embedded as data. */
  certificateAuthority?: Buffer;
  insecureSkipTlsVerify?: boolean;
}

// Kubernetes namespaces are DNS-1123 labels; kubectl would only fail later, and less clearly.
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** The `--server` URL as kubectl needs it: absolute http(s), no query or fragment, no trailing slash. */
export function checkServer(server: string): string {
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new InvalidOptionError(`--server ${JSON.stringify(server)} is not a URL (e.g. ${DEFAULT_SERVER})`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidOptionError(`--server ${server} must be an http:// or https:// URL (e.g. ${DEFAULT_SERVER})`);
  // kubectl appends /api/... to the server: a query or fragment would end up in the wrong place.
  if (url.search || url.hash) throw new InvalidOptionError(`--server ${server} must not have a query or fragment`);
  // Same normalisation as AdminClient, so both talk to the same base.
  return server.replace(/\/+$/, '');
}

function clusterEntry(e: KubeconfigEntry) {
  return {
    name: e.name,
    cluster: {
      server: e.server,
      ...(e.certificateAuthority ? { 'certificate-authority-data': e.certificateAuthority.toString('base64') } : {}),
      ...(e.insecureSkipTlsVerify ? { 'insecure-skip-tls-verify': true } : {}),
    },
  };
}

function userEntry(e: KubeconfigEntry) {
  // With no token the user stays (empty), because kubectl rejects a context naming a missing user.
  return { name: e.name, user: e.token ? { token: e.token } : {} };
}

function contextEntry(e: KubeconfigEntry) {
  return { name: e.name, context: { cluster: e.name, user: e.name, namespace: e.namespace } };
}

// kubectl writes list items unindented (`- name: x` under `clusters:`); so do we, so that a
// merged file differs from the original only where its entries changed.
const YAML_STYLE = { indentSeq: false } as const;

/** A fresh kubeconfig holding only the Sluice entry. */
export function newKubeconfig(e: KubeconfigEntry, useContext = true): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [clusterEntry(e)],
    users: [userEntry(e)],
    contexts: [contextEntry(e)],
    ...(useContext ? { 'current-context': e.name } : {}),
  }, YAML_STYLE);
}

const LIST_KEYS = ['clusters', 'users', 'contexts'] as const;

/**
 * Merges the entry into an existing kubeconfig text: entries named `e.name` are replaced or
 * added, everything else (other entries, preferences, comments) is kept as written. Throws a
 * plain Error describing why the text is not a kubeconfig; the caller names the file.
 */
export function mergeKubeconfig(text: string, e: KubeconfigEntry, useContext: boolean): string {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) throw new Error(`not valid YAML: ${doc.errors[0]!.message.split('\n')[0]!.replace(/:$/, '')}`);
  // An empty (or comments-only) file holds no configuration yet: start one.
  if (doc.contents === null) return newKubeconfig(e, useContext);
  if (!isMap(doc.contents)) throw new Error('not a kubeconfig (expected a mapping with apiVersion: v1, kind: Config)');
  const kind = doc.get('kind');
  const apiVersion = doc.get('apiVersion');
  if (kind !== undefined && kind !== null && kind !== 'Config') throw new Error(`not a kubeconfig (kind is ${JSON.stringify(kind)}, expected Config)`);
  if (apiVersion !== undefined && apiVersion !== null && apiVersion !== 'v1') throw new Error(`not a kubeconfig (apiVersion is ${JSON.stringify(apiVersion)}, expected v1)`);
  // Without `kind`, only the kubeconfig keys themselves say it is one: any other YAML file is left alone.
  if (kind !== 'Config' && ![...LIST_KEYS, 'current-context', 'apiVersion'].some((k) => doc.has(k))) {
    throw new Error('not a kubeconfig (no kind: Config, clusters, users or contexts)');
  }
  const entries = { clusters: clusterEntry(e), users: userEntry(e), contexts: contextEntry(e) };
  for (const key of LIST_KEYS) upsert(doc, key, entries[key]);
  if (useContext) doc.set('current-context', e.name);
  return doc.toString(YAML_STYLE);
}

/** Replaces the item of list `key` named like `entry`, or appends it. */
function upsert(doc: Document, key: (typeof LIST_KEYS)[number], entry: { name: string }): void {
  const list = doc.get(key, true);
  const node = doc.createNode(entry);
  // kubectl writes `users: null` for an empty list.
  if (list === undefined || list === null || (typeof list === 'object' && 'value' in list && list.value === null)) {
    doc.set(key, doc.createNode([entry]));
    return;
  }
  if (!isSeq(list)) throw new Error(`not a kubeconfig (${key} is not a list)`);
  for (const item of list.items) if (!isMap(item)) throw new Error(`not a kubeconfig (an item of ${key} is not a mapping)`);
  const at = list.items.findIndex((item) => isMap(item) && item.get('name') === entry.name);
  if (at >= 0) list.items[at] = node;
  else list.items.push(node);
  // A flow list (`clusters: []`) would print the new entry on one line.
  list.flow = false;
}

/** Quotes a path for the shell line we print, only when it needs it. */
function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Writes through a temporary file and a rename, so a failure never leaves a half-written kubeconfig. */
async function writeAtomically(file: string, text: string): Promise<void> {
  // ~/.kube/config is often a symlink (dotfile managers): write its target, keep the link.
  const target = await realpath(file).catch(() => resolve(file));
  const dir = dirname(target);
  // 0700 like ~/.kube: the file may hold a bearer token.
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.${basename(target)}.${process.pid}.tmp`);
  try {
    // The temporary file is created 0600, so the token is never readable by others, even briefly;
    // the rename also makes an existing file 0600.
    await writeFile(tmp, text, { mode: 0o600, flag: 'wx' });
    await rename(tmp, target);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** Writes or merges the kubeconfig file; returns whether the Sluice context is its current-context. */
async function writeKubeconfigFile(file: string, e: KubeconfigEntry, useContextFlag: boolean | undefined): Promise<{ current: boolean; created: boolean; other?: string }> {
  let existing: string | undefined;
  try {
    existing = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') throw new InvalidOptionError(`--out ${file}: cannot read it (${code ?? (err as Error).message}); nothing was written`, { cause: err });
  }
  const fresh = existing === undefined || existing.trim() === '';
  const useContext = useContextFlag ?? fresh;
  let text: string;
  try {
    text = existing === undefined ? newKubeconfig(e, useContext) : mergeKubeconfig(existing, e, useContext);
  } catch (err) {
    throw new InvalidOptionError(`--out ${file}: ${(err as Error).message}; it was left unchanged`, { cause: err });
  }
  try {
    await writeAtomically(file, text);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InvalidOptionError(`--out ${file}: cannot write it (${code ?? (err as Error).message})`, { cause: err });
  }
  const current = (parseDocument(text).get('current-context') ?? undefined) as string | undefined;
  return { current: current === e.name, created: existing === undefined, ...(current && current !== e.name ? { other: current } : {}) };
}

function tlsOf(flags: KubeconfigFlags, server: string): Pick<KubeconfigEntry, 'certificateAuthority' | 'insecureSkipTlsVerify'> {
  if (!flags.certificateAuthority && !flags.insecureSkipTlsVerify) return {};
  if (!server.startsWith('https:')) throw new InvalidOptionError('--certificate-authority and --insecure-skip-tls-verify need an https:// --server');
  if (flags.certificateAuthority && flags.insecureSkipTlsVerify) throw new InvalidOptionError('--certificate-authority cannot be combined with --insecure-skip-tls-verify');
  if (flags.insecureSkipTlsVerify) return { insecureSkipTlsVerify: true };
  let pem: Buffer;
  try {
    pem = readFileSync(flags.certificateAuthority!);
  } catch (err) {
    throw new InvalidOptionError(`--certificate-authority: cannot read ${flags.certificateAuthority}: ${(err as Error).message}`, { cause: err });
  }
  if (!pem.toString('utf8').includes('-----BEGIN CERTIFICATE-----')) throw new InvalidOptionError(`--certificate-authority: ${flags.certificateAuthority} is not a PEM certificate`);
  return { certificateAuthority: pem };
}

export function registerKubeconfig(program: Command): void {
  program
    .command('kubeconfig')
    .description('write a kubeconfig so kubectl talks to the running sluice (its admin port answers the Kubernetes API for Sluice\'s kinds): printed, or written/merged with --out')
    .option('--name <name>', 'name of the cluster, user and context entries', 'sluice')
    .option('-n, --namespace <ns>', 'namespace of the context (kubectl\'s default namespace)', 'default')
    .option('-o, --out <file>', 'write this file (mode 0600) instead of printing; an existing kubeconfig is merged: entries with --name are replaced, all others kept')
    .option('--certificate-authority <file>', 'PEM CA (or self-signed certificate) of an https --server, embedded in the kubeconfig')
    .option('--insecure-skip-tls-verify', 'do not check an https --server\'s certificate (testing only)')
    .option('--use-context', 'make the context the file\'s current-context (default: only when --out creates the file)')
    .option('--no-use-context', 'leave current-context as it is, even in a new file')
    .addHelpText(
      'after',
      `
The server is --server (SLUICE_SERVER) and the bearer token --token (SLUICE_ADMIN_TOKEN), if any.
kubectl sends the token only over TLS: with a token, start sluice with --admin-tls-cert and
--admin-tls-key and give an https --server (and --certificate-authority for a private CA).

Examples:
  sluice kubeconfig -o sluice.kubeconfig && kubectl --kubeconfig sluice.kubeconfig get brokers
  sluice --server http://sluice:9090 --token "$TOKEN" kubeconfig -o ~/.kube/config --use-context
  sluice kubeconfig > sluice.kubeconfig   (prints the token, if any: mind where it goes)`,
    )
    .action(async (flags: KubeconfigFlags, cmd: Command) => {
      const o = cmd.optsWithGlobals<{ server?: string; token?: string }>();
      const server = checkServer(o.server || DEFAULT_SERVER);
      if (flags.name.trim() === '') throw new InvalidOptionError('--name must not be empty');
      if (flags.namespace.length > 63 || !DNS1123_LABEL.test(flags.namespace)) {
        throw new InvalidOptionError(`--namespace ${JSON.stringify(flags.namespace)} is not a namespace: use lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters`);
      }
      const entry: KubeconfigEntry = { name: flags.name, server, namespace: flags.namespace, ...(o.token ? { token: o.token } : {}), ...tlsOf(flags, server) };
      // client-go reads credentials only for TLS servers: a token on http:// would be silently dropped.
      if (entry.token && server.startsWith('http:')) {
        process.stderr.write('sluice: warning: kubectl does not send a token to an http:// server; serve the admin port with --admin-tls-cert/--admin-tls-key and use https\n');
      }
      if (flags.out === undefined) {
        process.stdout.write(newKubeconfig(entry, flags.useContext ?? true));
        return;
      }
      if (flags.out === '') throw new InvalidOptionError('--out must name a file');
      const r = await writeKubeconfigFile(flags.out, entry, flags.useContext);
      const file = shellQuote(resolve(flags.out));
      const ctx = r.current ? '' : ` --context ${shellQuote(entry.name)}`;
      const note = r.other ? ` (current-context stays ${JSON.stringify(r.other)}; --use-context switches it)` : '';
      process.stdout.write(
        `${r.created ? 'Wrote' : 'Merged'} context ${JSON.stringify(entry.name)} (${server}${entry.token ? ', with token' : ''}) into ${file}${note}; use it with: kubectl --kubeconfig ${file}${ctx} get brokers, or export KUBECONFIG=${file}\n`,
      );
    });
}
