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

  test('an image alone is refused locally with a clear message, accepted on Kubernetes', () => {
    const spec = { template: { spec: { containers: [{ image: 'ghcr.io/acme/enc:1' }] } } };
    const issues = issuesOf(() => serviceConfigFrom(service(spec)));
    assert.equal(issues.length, 1);
    assert.match(issues[0]!, /^spec\.template\.spec\.containers\[0\]\.command: image ghcr\.io\/acme\/enc:1 cannot run locally .*set command/);
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
            spec: { containers: [{ command: ['x'], env: [{ name: 'SECRET', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }] }] },
          },
        }),
      ),
    );
    assert.ok(issues.some((i) => i.startsWith('spec.template.spec.containers.0.env.0') && /valueFrom/.test(i)), issues.join('\n'));
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
    const unknown = issuesOf(() => serviceConfigFrom(service({ template: { spec: { containers: [{ command: ['x'], livenessProbe: {} }] } }, traffic: [] })));
    assert.ok(unknown.some((i) => /livenessProbe/.test(i)));
    assert.ok(unknown.some((i) => /traffic/.test(i)));
    assert.ok(issuesOf(() => serviceConfigFrom(service({ template: { spec: { containers: [] } } }))).some((i) => /exactly one container/.test(i)));
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
