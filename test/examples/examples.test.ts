import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadResources } from '../../src/resources/index.js';
import { createSluiceKinds } from '../../src/kinds.js';
import { silentLogger } from '../../src/observability/logger.js';
import { SluiceServer, type SluiceServerOptions } from '../../src/server/sluice-server.js';
import type { DisplayedEvent } from '../../src/display/event-display.js';
import { eventObj, podObj, startFakeKubeApi, type FakeKubeApi } from '../helpers/fake-kube-api.js';
import { startSink, type RecordingSink } from '../helpers/sink.js';
import { waitUntil } from '../helpers/sluice.js';

// The examples are documentation that must keep working: every YAML under examples/ and
// config/ loads without a single error with the real loader and every kind Sluice knows,
// the index lists every folder, and the examples that run a local program (container,
// sinkbinding) or need a cluster (apiserver, against the fake API server) deliver events
// to their EventDisplays as their READMEs say.

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const EXAMPLES = join(ROOT, 'examples');
const CONFIG = join(ROOT, 'config');

function yamlFiles(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) return yamlFiles(p);
      return /\.ya?ml$/i.test(name) ? [p] : [];
    });
}

const exampleFolders = readdirSync(EXAMPLES)
  .filter((n) => statSync(join(EXAMPLES, n)).isDirectory())
  .sort();

describe('examples/ and config/ YAML', () => {
  const files = [...yamlFiles(EXAMPLES), ...yamlFiles(CONFIG)];

  test('there is one YAML per source kind and the folders the index names', () => {
    assert.ok(files.length >= 8, `found ${files.length} YAML files`);
    for (const folder of ['github-to-display', 'ping', 'container', 'sinkbinding', 'apiserver', 'scale-to-zero']) {
      assert.ok(exampleFolders.includes(folder), `examples/${folder}/ exists`);
    }
  });

  for (const file of files) {
    test(`${relative(ROOT, file)} loads with no errors`, async () => {
      const loaded = await loadResources([file], { registry: createSluiceKinds() });
      assert.deepEqual(loaded.errors.map((e) => e.message), []);
      assert.ok(loaded.resources.length + loaded.secrets.length > 0, 'has resource documents');
    });
  }

  test('all together: no errors, every source kind present, and no two examples use the same name', async () => {
    const loaded = await loadResources([EXAMPLES, CONFIG], { registry: createSluiceKinds() });
    assert.deepEqual(loaded.errors.map((e) => e.message), []);
    const kinds = new Set(loaded.resources.map((r) => r.resource.kind));
    for (const kind of ['GitHubSource', 'PingSource', 'ContainerSource', 'SinkBinding', 'ApiServerSource', 'Service', 'Broker', 'Trigger', 'EventDisplay']) {
      assert.ok(kinds.has(kind), `an example declares a ${kind}`);
    }
    const seen = new Map<string, string>();
    for (const { resource, origin } of loaded.resources) {
      const key = `${resource.kind} ${resource.metadata.namespace}/${resource.metadata.name}`;
      const where = JSON.stringify(origin ?? '?');
      assert.ok(!seen.has(key), `${key} is declared twice (${seen.get(key)} and ${where}): examples could not run side by side`);
      seen.set(key, where);
    }
  });

  test('examples/README.md lists every example folder, and each has a README', () => {
    const index = readFileSync(join(EXAMPLES, 'README.md'), 'utf8');
    for (const folder of exampleFolders) {
      assert.ok(index.includes(`](${folder}/README.md)`), `examples/README.md links ${folder}/README.md`);
      assert.ok(index.includes(`-f examples/${folder}/`), `examples/README.md says how to run ${folder}`);
      assert.ok(statSync(join(EXAMPLES, folder, 'README.md')).isFile(), `examples/${folder}/README.md exists`);
    }
    assert.ok(index.includes('config/broker-example.yaml'), 'the index names config/broker-example.yaml');
  });
});

/** Alive and not a zombie. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

type Server = SluiceServer;

/** A Sluice in this process on ephemeral ports, loaded from example files as `sluice start -f` loads them. */
async function startExample(paths: string[], options: Partial<SluiceServerOptions> = {}): Promise<Server> {
  const server = new SluiceServer({ logger: silentLogger(), port: 0, adminPort: 0, host: '127.0.0.1', drainTimeoutMs: 2000, ...options });
  await server.listen();
  const loaded = await loadResources(paths, { registry: createSluiceKinds() });
  assert.deepEqual(loaded.errors.map((e) => e.message), []);
  await server.runtime.apply(loaded.resources, loaded.secrets);
  return server;
}

function displayed(server: Server, name: string): DisplayedEvent[] {
  return server.displays.displays.get(`default/${name}`)?.recent() ?? [];
}

const pidOf = (e: DisplayedEvent): number => (JSON.parse(e.data ?? '{}') as { pid: number }).pid;

describe('examples/container/heartbeat.mjs', () => {
  let sink: RecordingSink;
  before(async () => {
    sink = await startSink();
  });
  after(async () => {
    await sink.close();
  });

  test('POSTs binary-mode CloudEvents to K_SINK with the K_CE_OVERRIDES extensions, and exits 0 on SIGTERM', async () => {
    const child = spawn(process.execPath, [join(EXAMPLES, 'container', 'heartbeat.mjs')], {
      env: { PATH: process.env.PATH ?? '', K_SINK: sink.url, K_CE_OVERRIDES: '{"extensions":{"team":"blue","example":"unit"}}', INTERVAL_MS: '100' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await sink.waitFor(2, 5000).catch((err: Error) => {
        throw new Error(`${err.message}\n${out}`);
      });
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0, out);
    assert.match(out, /stopping \(SIGTERM\)/);
    const [first, second] = sink.requests;
    assert.equal(first?.method, 'POST');
    assert.equal(first?.headers['ce-specversion'], '1.0');
    assert.equal(first?.headers['ce-type'], 'dev.sluice.example.heartbeat');
    assert.equal(first?.headers['ce-team'], 'blue');
    assert.equal(first?.headers['ce-example'], 'unit');
    assert.equal(first?.headers['content-type'], 'application/json');
    assert.ok(first?.headers['ce-id'] && first.headers['ce-id'] !== second?.headers['ce-id'], 'a fresh id per event');
    assert.deepEqual(JSON.parse(first.body.toString('utf8')), { sequence: 1, message: 'hello from a ContainerSource', pid: child.pid });
  });
});

describe('examples run', () => {
  // The ContainerSources' workingDir "." is Sluice's working directory: the repository root.
  const cwd = process.cwd();
  before(() => process.chdir(ROOT));
  after(() => process.chdir(cwd));

  test('container: the ContainerSource process -> channel -> EventDisplay, with its ceOverrides; stopped on shutdown', async () => {
    const server = await startExample([join(EXAMPLES, 'container')]);
    let pid: number | undefined;
    try {
      await waitUntil(() => displayed(server, 'heartbeat-display').length >= 1, 10_000, 'a heartbeat on heartbeat-display');
      const e = displayed(server, 'heartbeat-display')[0]!;
      assert.equal(e.attributes.type, 'dev.sluice.example.heartbeat');
      assert.equal(e.attributes.example, 'container');
      assert.match(e.data ?? '', /"message":"hello from a ContainerSource"/);
      pid = pidOf(e);
      assert.ok(alive(pid), 'the script is running');
    } finally {
      await server.close();
    }
    await waitUntil(() => !alive(pid!), 3000, 'the script to exit after shutdown');
  });

  test('sinkbinding: the binding wins over the ContainerSource sink and ceOverrides', async () => {
    const server = await startExample([join(EXAMPLES, 'sinkbinding')]);
    try {
      await waitUntil(() => displayed(server, 'binding-sink').length >= 1, 10_000, 'a heartbeat on binding-sink');
      const e = displayed(server, 'binding-sink')[0]!;
      assert.equal(e.attributes.sinkfrom, 'sinkbinding');
      assert.match(e.data ?? '', /"message":"hello from a SinkBinding subject"/);
      assert.deepEqual(displayed(server, 'own-sink'), [], 'nothing reaches the source\'s own sink');
    } finally {
      await server.close();
    }
  });

  describe('apiserver (fake Kubernetes API)', () => {
    const TOKEN = 'examples-token';
    let api: FakeKubeApi;
    let dir: string;
    before(async () => {
      api = await startFakeKubeApi({ token: TOKEN });
      dir = mkdtempSync(join(tmpdir(), 'sluice-examples-kube-'));
      writeFileSync(join(dir, 'config'), api.kubeconfigYaml(TOKEN));
    });
    after(async () => {
      await api.close();
      rmSync(dir, { recursive: true, force: true });
    });

    test('Pods and Events of the default namespace reach the EventDisplay in Resource mode', async () => {
      api.create(podObj('default', 'nginx', { labels: { run: 'nginx' } }));
      api.create(podObj('elsewhere', 'not-watched'));
      const server = await startExample([join(EXAMPLES, 'apiserver')], { kubeconfigPath: join(dir, 'config') });
      try {
        await waitUntil(() => displayed(server, 'k8s-events').length >= 1, 10_000, 'the existing Pod as an add');
        api.create(eventObj('default', 'nginx.17a2', { kind: 'Pod', name: 'nginx' }));
        api.delete('v1', 'Pod', 'default', 'nginx');
        await waitUntil(() => displayed(server, 'k8s-events').length >= 3, 10_000, 'the Event and the delete');
        const seen = displayed(server, 'k8s-events').map((e) => `${e.attributes.type} ${e.attributes.subject}`);
        assert.deepEqual(seen.sort(), [
          'dev.knative.apiserver.resource.add /apis/v1/namespaces/default/events/nginx.17a2',
          'dev.knative.apiserver.resource.add /apis/v1/namespaces/default/pods/nginx',
          'dev.knative.apiserver.resource.delete /apis/v1/namespaces/default/pods/nginx',
        ]);
        const add = displayed(server, 'k8s-events').find((e) => e.attributes.type?.endsWith('.add') && e.attributes.kind === 'Pod')!;
        assert.equal(add.attributes.source, api.url);
        assert.equal((JSON.parse(add.data ?? '{}') as { metadata: { name: string } }).metadata.name, 'nginx', 'Resource mode: the whole object as data');
      } finally {
        await server.close();
      }
    });
  });
});
