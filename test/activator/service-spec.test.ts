import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { serviceConfigFrom, serviceKind, parseAutoscaling, AUTOSCALING_DEFAULTS } from '../../src/activator/index.js';
import { ResourceValidationError } from '../../src/errors.js';
import type { Resource } from '../../src/resources/types.js';

function service(spec: unknown, name = 'enc'): Resource<unknown> {
  return { apiVersion: 'serving.knative.dev/v1', kind: 'Service', metadata: { name, namespace: 'team' }, spec };
}

function issuesOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ResourceValidationError, String(err));
    return err.issues.map((i) => `${i.path}: ${i.message}`);
  }
  assert.fail('expected a ResourceValidationError');
}

describe('Service spec', () => {
  test('a full Knative Service becomes a ServiceConfig with defaults', () => {
    const cfg = serviceConfigFrom(
      service({
        template: {
          metadata: {
            annotations: {
              'autoscaling.knative.dev/min-scale': '1',
              'autoscaling.knative.dev/max-scale': '5',
              'autoscaling.knative.dev/target': '10',
              'autoscaling.knative.dev/window': '30s',
              'autoscaling.knative.dev/scale-down-delay': '2s',
              'autoscaling.knative.dev/scale-to-zero-pod-retention-period': '1m',
              'autoscaling.knative.dev/class': 'kpa.autoscaling.knative.dev',
              'activator.sluice.dev/queue-size': '50',
              'activator.sluice.dev/timeout': '20s',
            },
          },
          spec: {
            containerConcurrency: 4,
            timeoutSeconds: 30,
            containers: [
              {
                command: ['node', 'server.mjs'],
                args: ['--mode', 'b64'],
                env: [{ name: 'MODE', value: 'base64' }],
                workingDir: 'examples/x',
                ports: [{ containerPort: 9000 }],
                readinessProbe: { httpGet: { path: '/healthz' } },
                resources: { limits: { cpu: '1' } },
              },
            ],
          },
        },
      }),
    );
    assert.equal(cfg.key, 'team/enc');
    assert.equal(cfg.containerConcurrency, 4);
    assert.equal(cfg.requestTimeoutMs, 30_000);
    assert.deepEqual(cfg.container.command, ['node', 'server.mjs']);
    assert.deepEqual(cfg.container.args, ['--mode', 'b64']);
    assert.deepEqual(cfg.container.env, { MODE: 'base64' });
    assert.equal(cfg.container.containerPort, 9000);
    assert.deepEqual(cfg.container.readinessProbe, { kind: 'http', path: '/healthz', headers: {}, timeoutMs: 1000 });
    assert.deepEqual(cfg.autoscale, {
      minScale: 1,
      maxScale: 5,
      initialScale: 1,
      target: 10,
      windowMs: 30_000,
      scaleDownDelayMs: 2000,
      retentionMs: 60_000,
      queueSize: 50,
      queueTimeoutMs: 20_000,
    });
  });

  test('minimal service: command as a string, TCP probe, Knative defaults', () => {
    const cfg = serviceConfigFrom(service({ template: { spec: { containers: [{ command: 'my-server' }] } } }));
    assert.deepEqual(cfg.container.command, ['my-server']);
    assert.equal(cfg.containerConcurrency, 0);
    assert.equal(cfg.container.containerPort, 8080);
    assert.deepEqual(cfg.container.readinessProbe, { kind: 'tcp', timeoutMs: 1000 });
    assert.deepEqual(cfg.autoscale, AUTOSCALING_DEFAULTS);
  });

  test('an image alone runs as a container; a command runs as a process unless the runner annotation says container', () => {
    const spec = { template: { spec: { containers: [{ image: 'ghcr.io/acme/enc:1' }] } } };
    const cfg = serviceConfigFrom(service(spec));
    assert.equal(cfg.runner, 'container');
    assert.equal(cfg.container.image, 'ghcr.io/acme/enc:1');
    assert.equal(cfg.container.imagePullPolicy, 'IfNotPresent');
    assert.deepEqual(cfg.container.command, []);
    assert.equal(serviceConfigFrom(service({ template: { spec: { containers: [{ image: 'i', command: ['/app'] }] } } })).runner, 'process');
    const forced = { ...service({ template: { spec: { containers: [{ image: 'i', command: ['/app'], args: ['-v'] }] } } }) };
    forced.metadata = { ...forced.metadata, annotations: { 'sluice.dev/runner': 'container' } };
    assert.equal(serviceConfigFrom(forced).runner, 'container');
    const noCommand = service(spec);
    noCommand.metadata = { ...noCommand.metadata, annotations: { 'sluice.dev/runner': 'process' } };
    const issues = issuesOf(() => serviceConfigFrom(noCommand));
    assert.deepEqual(issues, ['spec.template.spec.containers[0].command: command is required to run the service as a local process']);
    assert.equal(serviceConfigFrom(service(spec), 'kubernetes').container.image, 'ghcr.io/acme/enc:1');
    assert.throws(() => serviceConfigFrom(service({ template: { spec: { containers: [{ command: ['x'] }] } } }), 'kubernetes'), /image is required on Kubernetes/);
  });

  test('unknown fields, bad values and unsupported annotations are reported by path', () => {
    const issues = issuesOf(() =>
      serviceConfigFrom(
        service({
          template: {
            metadata: {
              annotations: {
                'autoscaling.knative.dev/min-scale': 'two',
                'autoscaling.knative.dev/window': 'forever',
                'autoscaling.knative.dev/panic-window-percentage': '10',
                'autoscaling.knative.dev/metric': 'rps',
              },
            },
            spec: { containers: [{ command: ['x'], env: [{ name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }] }] },
          },
        }),
      ),
    );
    assert.ok(issues.some((i) => i.startsWith('spec.template.spec.containers.0.env.0.valueFrom') && /fieldRef/.test(i)), issues.join('\n'));
    const more = issuesOf(() =>
      serviceConfigFrom(
        service({
          template: {
            metadata: {
              annotations: {
                'autoscaling.knative.dev/min-scale': 'two',
                'autoscaling.knative.dev/window': 'forever',
                'autoscaling.knative.dev/panic-window-percentage': '10',
                'autoscaling.knative.dev/metric': 'rps',
              },
            },
            spec: { containers: [{ command: ['x'] }] },
          },
        }),
      ),
    );
    const text = more.join('\n');
    assert.match(text, /autoscaling\.knative\.dev\/min-scale: "two": must be a whole number/);
    assert.match(text, /autoscaling\.knative\.dev\/window: "forever": must be a duration/);
    assert.match(text, /panic-window-percentage: annotation not supported by Sluice/);
    assert.match(text, /metric: "rps": only concurrency is supported/);
    const unknown = issuesOf(() => serviceConfigFrom(service({ template: { spec: { containers: [{ command: ['x'], volumeMounts: [{ name: 'v', mountPath: '/v' }] }] } } })));
    assert.ok(unknown.some((i) => /volumeMounts/.test(i)), unknown.join('\n'));
    const split = issuesOf(() =>
      serviceConfigFrom(
        service({
          template: { spec: { containers: [{ command: ['x'] }] } },
          traffic: [
            { revisionName: 'a', percent: 50 },
            { latestRevision: true, percent: 50 },
          ],
        }),
      ),
    );
    assert.ok(split.some((i) => /spec\.traffic: splitting traffic between revisions/.test(i)), split.join('\n'));
    assert.ok(issuesOf(() => serviceConfigFrom(service({ template: { spec: { containers: [] } } }))).some((i) => /exactly one container/.test(i)));
  });

  test('Knative sample fields: probes, env from Secrets and ConfigMaps, limits, cluster-only fields listed as ignored', () => {
    const cfg = serviceConfigFrom(
      service({
        template: {
          spec: {
            serviceAccountName: 'sa',
            imagePullSecrets: [{ name: 'regcred' }],
            containers: [
              {
                image: 'ghcr.io/acme/enc:1',
                imagePullPolicy: 'Never',
                ports: [{ containerPort: 9000, name: 'h2c' }],
                env: [
                  { name: 'A', value: '1' },
                  { name: 'B', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } },
                  { name: 'C', valueFrom: { configMapKeyRef: { name: 'cm', key: 'c', optional: true } } },
                ],
                envFrom: [{ configMapRef: { name: 'all' }, prefix: 'X_' }],
                livenessProbe: { httpGet: { path: '/live' }, periodSeconds: 2, failureThreshold: 2 },
                resources: { limits: { cpu: '500m', memory: '128Mi' }, requests: { cpu: '100m' } },
                securityContext: { runAsUser: 1000, runAsGroup: 1000, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false },
              },
            ],
          },
        },
        traffic: [{ latestRevision: true, percent: 100 }],
      }),
    );
    assert.equal(cfg.container.containerPort, 9000);
    assert.equal(cfg.container.imagePullPolicy, 'Never');
    assert.deepEqual(cfg.container.env, { A: '1' });
    assert.deepEqual(cfg.container.envSources, [
      { kind: 'configMap', from: 'all', prefix: 'X_', optional: false },
      { kind: 'value', name: 'A', value: '1' },
      { kind: 'secretKey', name: 'B', from: 's', key: 'k', optional: false },
      { kind: 'configMapKey', name: 'C', from: 'cm', key: 'c', optional: true },
    ]);
    assert.deepEqual(cfg.container.livenessProbe, { probe: { kind: 'http', path: '/live', headers: {}, timeoutMs: 1000 }, periodMs: 2000, initialDelayMs: 0, failureThreshold: 2 });
    assert.deepEqual(cfg.container.limits, { cpus: 0.5, memoryBytes: 128 * 1024 * 1024 });
    assert.equal(cfg.container.user, '1000:1000');
    assert.equal(cfg.container.readOnlyRootFilesystem, true);
    assert.deepEqual(cfg.ignored, ['spec.template.spec.serviceAccountName', 'spec.template.spec.imagePullSecrets', 'spec.traffic', 'spec.template.spec.containers[0].resources.requests']);
    const bad = issuesOf(() => serviceConfigFrom(service({ template: { spec: { containers: [{ image: 'i', resources: { limits: { memory: 'lots' } } }] } } })));
    assert.deepEqual(bad, ['spec.template.spec.containers[0].resources.limits.memory: "lots" is not a memory quantity (e.g. 128Mi, 1Gi)']);
  });

  test('min-scale above max-scale is refused; legacy minScale spelling works', () => {
    const { issues } = parseAutoscaling({ 'autoscaling.knative.dev/min-scale': '3', 'autoscaling.knative.dev/max-scale': '2' });
    assert.match(issues[0]!.message, /min-scale 3 is above max-scale 2/);
    assert.equal(parseAutoscaling({ 'autoscaling.knative.dev/minScale': '2' }).config.minScale, 2);
  });

  test('the kind definition names the resource and carries the strict schema', () => {
    assert.equal(serviceKind.apiVersion, 'serving.knative.dev/v1');
    assert.equal(serviceKind.kind, 'Service');
    assert.equal(serviceKind.spec.safeParse({ template: { spec: { containers: [{ command: ['x'], bogus: 1 }] } } }).success, false);
  });
});
