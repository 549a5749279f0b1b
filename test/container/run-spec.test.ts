import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildRunArgs, ContainerRuntime, ContainerSupport } from '../../src/container/index.js';
import { ContainerLauncher } from '../../src/activator/container-launcher.js';
import { serviceConfigFrom } from '../../src/activator/service-spec.js';
import { silentLogger } from '../../src/observability/logger.js';
import { parseCpuCores, parseMemoryBytes } from '../../src/resources/quantity.js';

const logger = silentLogger();

test('run arguments: Kubernetes command/args semantics, env values kept off the command line, publish, limits, labels', () => {
  const podman = new ContainerRuntime({ name: 'podman', logger });
  const { args, cliEnv } = buildRunArgs(podman, {
    name: 'sluice-x-1',
    image: 'example/app:1',
    command: ['/app/server', '--listen'],
    args: ['--verbose'],
    env: { PORT: '8080', TOKEN: 'hunter2' },
    network: 'bridge',
    publish: { hostIp: '127.0.0.1', hostPort: 41000, containerPort: 8080 },
    labels: { 'sluice.dev/managed': 'true' },
    limits: { cpus: 0.5, memoryBytes: 64 * 1024 * 1024 },
    user: '1000:1000',
    readOnlyRootFilesystem: true,
  });
  assert.ok(!args.join(' ').includes('hunter2'), 'a Secret value never appears in argv (ps would show it)');
  assert.deepEqual(cliEnv, { PORT: '8080', TOKEN: 'hunter2' });
  assert.deepEqual(args, [
    '--rm', '--name', 'sluice-x-1', '--pull=never',
    '--label', 'sluice.dev/managed=true',
    '-p', '127.0.0.1:41000:8080',
    '-e', 'PORT', '-e', 'TOKEN',
    '--cpus', '0.5', '--memory', '67108864b', '--user', '1000:1000', '--read-only',
    '--entrypoint', '/app/server', 'example/app:1', '--listen', '--verbose',
  ]);
  const docker = new ContainerRuntime({ name: 'docker', logger });
  const d = buildRunArgs(docker, { name: 'n', image: 'i', args: ['serve'], env: {}, network: 'bridge', labels: {} }).args;
  assert.deepEqual(d, ['--rm', '--name', 'n', '--pull=never', '--add-host', 'host.docker.internal:host-gateway', 'i', 'serve'], 'args alone replace CMD; Docker gets the host gateway name');
  assert.deepEqual(buildRunArgs(docker, { name: 'n', image: 'i', env: {}, network: 'host', labels: {} }).args, ['--rm', '--name', 'n', '--pull=never', '--network', 'host', 'i']);
  assert.deepEqual(podman.forceRemoveArgs(['a']), ['rm', '-f', '-t', '0', 'a']);
  assert.deepEqual(docker.forceRemoveArgs(['a']), ['rm', '-f', 'a']);
});

test('K_SINK for a container: loopback becomes the runtime\'s host name on a bridge, unchanged on the host network', () => {
  const podman = new ContainerRuntime({ name: 'podman', logger });
  const bridge = new ContainerSupport({ logger, network: 'bridge' });
  assert.equal(bridge.localize('http://127.0.0.1:8080/channels/default/c', podman), 'http://host.containers.internal:8080/channels/default/c');
  assert.equal(bridge.localize('http://localhost:9/x', new ContainerRuntime({ name: 'docker', logger })), 'http://host.docker.internal:9/x');
  assert.equal(bridge.localize('https://events.example.com/x', podman), 'https://events.example.com/x');
  assert.equal(new ContainerSupport({ logger, network: 'host' }).localize('http://127.0.0.1:8080/x', podman), 'http://127.0.0.1:8080/x');
});

test('probes from the host: the container port is the published one; behind Docker\'s proxy a TCP probe becomes an HTTP GET', () => {
  const service = serviceConfigFrom({ apiVersion: 'serving.knative.dev/v1', kind: 'Service', metadata: { name: 's', namespace: 'd' }, spec: { template: { spec: { containers: [{ image: 'i' }] } } } });
  const tcp = { kind: 'tcp' as const, port: 8080, timeoutMs: 1000 };
  const viaPodman = new ContainerLauncher({ service, runtime: new ContainerRuntime({ name: 'podman', logger }), logger });
  assert.deepEqual(viaPodman.hostProbe(tcp), { kind: 'tcp', timeoutMs: 1000 });
  const viaDocker = new ContainerLauncher({ service, runtime: new ContainerRuntime({ name: 'docker', logger }), logger });
  assert.deepEqual(viaDocker.hostProbe(tcp), { kind: 'http', path: '/', headers: {}, timeoutMs: 1000, anyStatus: true });
  assert.deepEqual(viaDocker.hostProbe({ kind: 'http', path: '/ready', port: 8080, headers: {}, timeoutMs: 500 }), { kind: 'http', path: '/ready', headers: {}, timeoutMs: 500 });
});

test('quantities: memory and CPU as Kubernetes writes them', () => {
  assert.equal(parseMemoryBytes('128Mi'), 134_217_728);
  assert.equal(parseMemoryBytes('1G'), 1e9);
  assert.equal(parseMemoryBytes('1.5Gi'), 1_610_612_736);
  assert.equal(parseMemoryBytes('512e6'), 512e6);
  assert.equal(parseMemoryBytes('lots'), undefined);
  assert.equal(parseCpuCores('500m'), 0.5);
  assert.equal(parseCpuCores('2'), 2);
  assert.equal(parseCpuCores(0.25), 0.25);
  assert.equal(parseCpuCores('1x'), undefined);
});
