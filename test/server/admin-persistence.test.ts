import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSluice, waitUntil } from '../helpers/sluice.js';
import type { SluiceServer } from '../../src/server/sluice-server.js';

// Live configuration across restarts and file edits: what the admin API applied or deleted
// is kept under the data dir; -f folders are watched and re-applied as a diff.

const imc = (name: string, capacity?: number) =>
  `apiVersion: messaging.knative.dev/v1\nkind: InMemoryChannel\nmetadata: {name: ${name}}\n${capacity ? `spec: {capacity: ${capacity}}\n` : ''}`;

async function boot(dataDir: string, configDir: string): Promise<SluiceServer> {
  const s = await startSluice('', { dataDir, watchDebounceMs: 50 });
  await s.liveConfig.start({ paths: [configDir], watch: true });
  return s;
}

async function spec(s: SluiceServer, name: string): Promise<{ capacity?: number } | undefined> {
  const res = await fetch(`${s.adminUrl}/api/v1/resources/InMemoryChannel/default/${name}`);
  if (res.status === 404) return undefined;
  return ((await res.json()) as { spec: { capacity?: number } }).spec;
}

async function api(s: SluiceServer, method: string, path: string, body?: string): Promise<number> {
  const res = await fetch(s.adminUrl + path, { method, ...(body ? { headers: { 'content-type': 'application/yaml' }, body } : {}) });
  await res.arrayBuffer();
  return res.status;
}

test('admin changes survive a restart with the same data dir; watched files re-apply; the later word wins', async () => {
  const root = mkdtempSync(join(tmpdir(), 'sluice-live-'));
  const dataDir = join(root, 'data');
  const configDir = join(root, 'config');
  const file = join(configDir, 'channels.yaml');
  let first: SluiceServer | undefined;
  let second: SluiceServer | undefined;
  try {
    mkdirSync(configDir);
    writeFileSync(file, [imc('from-file', 100), imc('file-b')].join('---\n'));
    first = await boot(dataDir, configDir);
    assert.deepEqual(await spec(first, 'from-file'), { capacity: 100 });

    assert.equal(await api(first, 'POST', '/api/v1/resources', [imc('from-api'), imc('from-file', 5), 'apiVersion: v1\nkind: Secret\nmetadata: {name: kept}\nstringData: {token: t0p}\n'].join('---\n')), 200);
    assert.equal(await api(first, 'DELETE', '/api/v1/resources/InMemoryChannel/default/file-b'), 200);
    const state = join(dataDir, 'admin-resources.json');
    assert.equal(statSync(state).mode & 0o777, 0o600, 'the state file holds Secrets: 0600');
    assert.match(readFileSync(state, 'utf8'), /from-api/);

    // A document added to a watched file is applied; an invalid edit keeps what serves.
    writeFileSync(file, [imc('from-file', 100), imc('file-b'), imc('watched', 7)].join('---\n'));
    await waitUntil(async () => (await spec(first!, 'watched'))?.capacity === 7, 10_000, 'the watched file re-applied');
    writeFileSync(file, [imc('from-file', 100), imc('file-b'), imc('watched', -1)].join('---\n'));
    // A marker file edit proves the invalid edit was read before we look.
    writeFileSync(join(configDir, 'marker.yaml'), imc('marker'));
    await waitUntil(async () => (await spec(first!, 'marker')) !== undefined, 10_000, 'the marker applied');
    assert.deepEqual(await spec(first, 'watched'), { capacity: 7 }, 'an invalid edit does not tear down what was serving');
    assert.deepEqual(await spec(first, 'from-file'), { capacity: 5 }, 'the admin change still wins over the unchanged file document');
    await first.close();
    first = undefined;

    second = await boot(dataDir, configDir);
    assert.ok(await spec(second, 'from-api'), 'admin-created resource restored');
    assert.deepEqual(await spec(second, 'from-file'), { capacity: 5 }, 'admin override restored over the -f file');
    assert.equal(await spec(second, 'file-b'), undefined, 'admin delete of a file resource kept');
    assert.equal(await api(second, 'GET', '/api/v1/resources/Secret/default/kept'), 200, 'Secret restored');

    // Editing the file's document after the admin change: the file is now the later word.
    writeFileSync(file, [imc('from-file', 50), imc('file-b'), imc('watched', 7)].join('---\n'));
    await waitUntil(async () => (await spec(second!, 'from-file'))?.capacity === 50, 10_000, 'the edited file document to win');
    // Removing a document from a watched file deletes the resource.
    writeFileSync(file, imc('from-file', 50));
    await waitUntil(async () => (await spec(second!, 'watched')) === undefined, 10_000, 'the removed document deleted');
    assert.ok(await spec(second, 'from-api'), 'admin-created resources are not touched by file edits');
  } finally {
    await first?.close();
    await second?.close();
    rmSync(root, { recursive: true, force: true });
  }
});
