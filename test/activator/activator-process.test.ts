import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { Activator } from '../../src/activator/index.js';
import { ActivatorQueueFullError, ActivatorTimeoutError, ServiceUnavailableError } from '../../src/errors.js';
import { silentLogger } from '../../src/observability/logger.js';
import { alive, call, echoService, waitUntil } from './helpers.js';

const logger = silentLogger();
const activators: Activator[] = [];
function newActivator(registry?: Registry): Activator {
  const a = new Activator({ logger, ...(registry ? { registry } : {}), process: { stopGraceMs: 2000 } });
  activators.push(a);
  return a;
}
after(async () => {
  await Promise.all(activators.map((a) => a.close()));
});

const never = new AbortController().signal;

describe('Activator with local processes', () => {
  test('cold start on the first request: held, service started, request served, metrics and status', async () => {
    const registry = new Registry();
    const activator = newActivator(registry);
    const svc = await activator.apply(echoService('cold', { env: { START_DELAY_MS: '150' } }));
    assert.equal(svc.status().replicas.desired, 0);
    assert.equal(svc.status().replicas.ready, 0);
    const t0 = Date.now();
    const lease = await activator.resolver('default/cold').acquire(never);
    const waited = Date.now() - t0;
    assert.ok(waited >= 150, `waited for the service to listen (${waited} ms)`);
    const echo = await call(lease.url, '/hello', 'payload');
    lease.release();
    assert.equal(echo.body, 'payload');
    assert.equal(echo.url, '/hello');
    const st = activator.status()['default/cold']!;
    assert.equal(st.replicas.ready, 1);
    assert.equal(st.replicas.desired, 1);
    assert.equal(st.inFlight, 0);
    assert.ok(st.lastColdStart && st.lastColdStart.durationMs >= 150);
    const text = await registry.metrics();
    assert.match(text, /sluice_activator_cold_starts_total\{namespace_name="default",resource="cold"\} 1/);
    assert.match(text, /sluice_activator_cold_start_duration_seconds_count\{namespace_name="default",resource="cold"\} 1/);
    assert.match(text, /sluice_activator_replicas\{namespace_name="default",resource="cold",state="ready"\} 1/);
    // Warm: acquire resolves without waiting on anything.
    const warm = await activator.resolver('default/cold').acquire(never);
    assert.equal(warm.url, lease.url);
    warm.release();
    warm.release(); // idempotent
    assert.equal(svc.status().inFlight, 0);
  });

  test('held requests are released in order of arrival once the service is ready', async () => {
    const activator = newActivator();
    await activator.apply(
      echoService('order', { containerConcurrency: 1, annotations: { 'autoscaling.knative.dev/max-scale': '1' }, env: { START_DELAY_MS: '200' } }),
    );
    const resolver = activator.resolver('default/order');
    const seen: number[] = [];
    await Promise.all(
      [0, 1, 2, 3, 4].map(async (i) => {
        const lease = await resolver.acquire(never);
        try {
          const echo = await call(lease.url, '/slow?ms=10', String(i));
          seen.push(Number(echo.body));
        } finally {
          lease.release();
        }
      }),
    );
    assert.deepEqual(seen, [0, 1, 2, 3, 4]);
  });

  test('queue limit and hold timeout answer retryable 503 errors; an abort leaves the queue', async () => {
    const activator = newActivator();
    // Never ready: the probe path answers 503 for a very long time.
    const svc = await activator.apply(
      echoService('stuck', {
        readinessPath: '/healthz',
        env: { READY_AFTER_MS: '600000' },
        annotations: { 'activator.sluice.dev/queue-size': '2', 'activator.sluice.dev/timeout': '400ms' },
      }),
    );
    const resolver = activator.resolver('default/stuck');
    const first = resolver.acquire(never);
    const aborter = new AbortController();
    const second = resolver.acquire(aborter.signal);
    await assert.rejects(resolver.acquire(never), (err: unknown) => err instanceof ActivatorQueueFullError && err.statusCode === 503);
    aborter.abort(new Error('caller gave up'));
    await assert.rejects(second, /caller gave up/);
    assert.equal(svc.status().queued, 1);
    await assert.rejects(first, (err: unknown) => err instanceof ActivatorTimeoutError && err.statusCode === 503);
    assert.equal(svc.status().queued, 0);
    assert.equal(svc.status().replicas.ready, 0);
    assert.ok(svc.status().replicas.starting >= 1, 'a replica is starting');
    await assert.rejects(activator.resolver('default/none').acquire(never), ServiceUnavailableError);
  });

  test('scales up under concurrent load (target x replicas), spreads requests, and back down after the window', async () => {
    const activator = newActivator();
    const svc = await activator.apply(
      echoService('load', {
        containerConcurrency: 1,
        annotations: {
          'autoscaling.knative.dev/target': '1',
          'autoscaling.knative.dev/min-scale': '1',
          'autoscaling.knative.dev/max-scale': '3',
          'autoscaling.knative.dev/window': '400ms',
        },
      }),
    );
    await waitUntil(() => svc.status().replicas.ready === 1, 15_000, 'min-scale replica');
    const resolver = activator.resolver('default/load');
    // Three leases held at once: with containerConcurrency 1 each needs its own replica
    // (a request that finished early would otherwise free its slot for the next one).
    const leases = await Promise.all([0, 1, 2].map(() => resolver.acquire(never)));
    const replies = await Promise.all(leases.map((lease) => call(lease.url, '/slow?ms=50')));
    for (const lease of leases) lease.release();
    assert.equal(new Set(replies.map((r) => r.pid)).size, 3, 'each request had its own replica (containerConcurrency 1)');
    assert.equal(svc.status().replicas.desired, 3);
    await waitUntil(() => svc.status().replicas.desired === 1 && svc.status().replicas.ready === 1, 15_000, 'scale back down to min-scale');
    await waitUntil(() => replies.filter((r) => alive(r.pid)).length === 1, 15_000, 'extra replicas to stop');
  });

  test('scales to zero after the idle period and wakes again', async () => {
    const activator = newActivator();
    const svc = await activator.apply(
      echoService('idle', {
        annotations: { 'autoscaling.knative.dev/window': '300ms', 'autoscaling.knative.dev/scale-to-zero-pod-retention-period': '500ms' },
      }),
    );
    const resolver = activator.resolver('default/idle');
    const lease = await resolver.acquire(never);
    const { pid } = await call(lease.url);
    lease.release();
    const releasedAt = Date.now();
    await waitUntil(() => svc.status().replicas.desired === 0, 15_000, 'scale to zero');
    assert.ok(Date.now() - releasedAt >= 450, 'kept for the retention period');
    await waitUntil(() => !alive(pid) && svc.status().replicas.ready === 0, 15_000, 'replica to stop');
    const again = await resolver.acquire(never);
    const second = await call(again.url);
    again.release();
    assert.notEqual(second.pid, pid);
    assert.ok(svc.status().lastColdStart);
  });

  test('a replica that crashes mid-request fails its in-flight request and is replaced', async () => {
    const activator = newActivator();
    const svc = await activator.apply(echoService('crashy', { annotations: { 'autoscaling.knative.dev/min-scale': '1' } }));
    const resolver = activator.resolver('default/crashy');
    const a = await resolver.acquire(never);
    const { pid } = await call(a.url);
    a.release();
    const b = await resolver.acquire(never);
    await assert.rejects(call(b.url, '/crash'), (err: Error & { code?: string }) => typeof err.code === 'string' && err.code.startsWith('UND_ERR'));
    b.release();
    await waitUntil(() => svc.status().replicas.restarts === 1 && svc.status().replicas.ready === 1, 15_000, 'replacement replica');
    assert.match(svc.status().replicas.lastError ?? '', /exited unexpectedly/);
    const c = await resolver.acquire(never);
    const after = await call(c.url);
    c.release();
    assert.notEqual(after.pid, pid);
    assert.equal(alive(pid), false);
  });

  test('min-scale keeps replicas through idle windows', async () => {
    const activator = newActivator();
    const window = { 'autoscaling.knative.dev/window': '200ms' };
    const svc = await activator.apply(echoService('floor', { annotations: { 'autoscaling.knative.dev/min-scale': '2', ...window } }));
    await waitUntil(() => svc.status().replicas.ready === 2, 15_000, 'two replicas');
    // The same idle windows, without the floor, scale a younger control service to zero:
    // once it is down, the autoscaler has had every chance to scale `floor` down too.
    const control = await activator.apply(echoService('floor-control', { annotations: { 'autoscaling.knative.dev/initial-scale': '2', ...window } }));
    await waitUntil(() => control.status().replicas.desired === 0 && control.status().replicas.ready === 0, 15_000, 'the control scaled to zero');
    assert.equal(svc.status().replicas.ready, 2);
    assert.equal(svc.status().replicas.desired, 2);
  });

  test('close() stops every replica (no processes left) and rejects held requests', async () => {
    const activator = new Activator({ logger });
    const svc = await activator.apply(echoService('bye', { containerConcurrency: 1, annotations: { 'autoscaling.knative.dev/min-scale': '2', 'autoscaling.knative.dev/max-scale': '2' } }));
    await waitUntil(() => svc.status().replicas.ready === 2, 15_000, 'two replicas');
    const resolver = activator.resolver('default/bye');
    const l1 = await resolver.acquire(never);
    const l2 = await resolver.acquire(never);
    const pids = [(await call(l1.url)).pid, (await call(l2.url)).pid];
    const held = assert.rejects(resolver.acquire(never), ServiceUnavailableError); // both replicas busy
    await activator.close();
    await held;
    for (const pid of pids) assert.equal(alive(pid), false, `replica ${pid} stopped`);
    await assert.rejects(resolver.acquire(never), ServiceUnavailableError);
  });
});
