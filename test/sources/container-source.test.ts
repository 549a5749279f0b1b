import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import type { Logger } from '../../src/observability/logger.js';
import { ContainerRuntimeError, InvalidOptionError, NotReadyError, ResourceValidationError } from '../../src/errors.js';
import { ContainerSource, expandVars, type ContainerSourceSpecInput } from '../../src/sources/container/index.js';
import { waitUntil } from '../helpers/fake-kube-api.js';
import { startSink, type RecordingSink } from '../helpers/sink.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/container-emitter.mjs', import.meta.url));

function spec(then: string, extra: Partial<{ env: unknown[]; workingDir: string; args: string[] }> = {}): ContainerSourceSpecInput {
  return {
    template: {
      spec: {
        containers: [
          {
            name: 'emitter',
            image: 'ghcr.io/example/heartbeats:latest',
            command: [process.execPath, FIXTURE],
            args: [`--then=${then}`, ...(extra.args ?? [])],
            ...(extra.env ? { env: extra.env as never } : {}),
            ...(extra.workingDir ? { workingDir: extra.workingDir } : {}),
          },
        ],
      },
    },
    sink: { ref: { apiVersion: 'eventing.knative.dev/v1', kind: 'Broker', name: 'default' } },
    ceOverrides: { extensions: { team: 'blue', region: 'eu1' } },
  };
}

function captureLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: pino({ level: 'info' }, stream) as Logger, lines };
}

/** Running (a zombie left for an init that is slow to reap counts as gone: it runs nothing). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

function bodyOf(sink: RecordingSink, i: number): Record<string, unknown> {
  return JSON.parse(sink.requests[i]!.body.toString()) as Record<string, unknown>;
}

describe('ContainerSource', () => {
  test('runs the command with K_SINK, K_CE_OVERRIDES, env (values, secrets, $(VAR)) and workingDir; logs its output', async () => {
    const sink = await startSink();
    const dir = realpathSync(mkdtempSync(join(tmpdir(), 'sluice-cs-')));
    const { logger, lines } = captureLogger();
    const secretsAsked: unknown[] = [];
    const source = new ContainerSource({
      name: 'heartbeats',
      namespace: 'demo',
      spec: spec('stay', {
        workingDir: dir,
        args: ['--who=$(GREETING)', '--literal=$$(GREETING)'],
        env: [
          { name: 'WHO', value: 'world' },
          { name: 'GREETING', value: 'hello $(WHO)' },
          { name: 'API_TOKEN', valueFrom: { secretKeyRef: { name: 'api', key: 'token' } } },
          { name: 'OPTIONAL', valueFrom: { secretKeyRef: { name: 'nope', key: 'x', optional: true } } },
        ],
      }),
      sinkUrl: sink.url,
      logger,
      resolveSecret: (ref) => {
        secretsAsked.push(ref);
        return ref.name === 'api' && ref.key === 'token' ? Buffer.from('s3cr3t') : undefined;
      },
    });
    try {
      await source.start(async () => {});
      await sink.waitFor(1, 15_000);
      const r = sink.requests[0]!;
      assert.equal(r.headers['ce-type'], 'dev.sluice.test.started');
      assert.equal(r.headers['ce-team'], 'blue', 'ceOverrides reached the process as K_CE_OVERRIDES');
      assert.equal(r.headers['ce-region'], 'eu1');
      const body = bodyOf(sink, 0);
      assert.ok(source.pid && source.pid > 0);
      assert.ok(alive(body.pid as number), 'the command is running');
      assert.equal(body.cwd, dir);
      assert.equal(body.greeting, 'hello world');
      assert.equal(body.token, 's3cr3t');
      assert.deepEqual(body.argv, ['--then=stay', '--who=hello world', '--literal=$(GREETING)']);
      assert.deepEqual(secretsAsked, [{ namespace: 'demo', name: 'api', key: 'token' }, { namespace: 'demo', name: 'nope', key: 'x' }]);
      await waitUntil(() => lines.some((l) => typeof l.msg === 'string' && l.msg.startsWith('posted ')), 10_000, () => 'the stdout line in the log');
      const out = lines.find((l) => typeof l.msg === 'string' && l.msg.startsWith('posted '))!;
      assert.match(String(out.source), /ContainerSource demo\/heartbeats/);
      await waitUntil(() => lines.some((l) => l.msg === 'a line on stderr'), 10_000, () => 'the stderr line in the log');
    } finally {
      await source.stop();
      await sink.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('restarts the process with backoff each time it exits', async () => {
    const sink = await startSink();
    const source = new ContainerSource({ name: 'crashy', namespace: 'demo', spec: spec('exit:3'), sinkUrl: sink.url, restartInitialMs: 50, restartMaxMs: 200 });
    try {
      await source.start(async () => {});
      await sink.waitFor(3, 20_000);
      const pids = new Set([0, 1, 2].map((i) => bodyOf(sink, i).pid));
      assert.equal(pids.size, 3, 'three distinct processes');
      await waitUntil(() => source.restarts >= 2, 10_000, () => 'two restarts');
      await waitUntil(() => source.lastExit !== undefined, 10_000, () => 'an exit');
      assert.equal(source.lastExit?.code, 3);
    } finally {
      await source.stop();
      await sink.close();
    }
    const count = sink.requests.length;
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(sink.requests.length, count, 'no restart after stop()');
  });

  test('stop() leaves no process behind: SIGTERM, or SIGKILL after the grace period', async () => {
    const sink = await startSink();
    try {
      for (const then of ['stay', 'stay-ignoring-term']) {
        const source = new ContainerSource({ name: then, namespace: 'demo', spec: spec(then), sinkUrl: sink.url, stopGraceMs: 300, restartInitialMs: 50 });
        const before = sink.requests.length;
        await source.start(async () => {});
        await sink.waitFor(before + 1, 15_000);
        const group = source.pid!;
        const pid = bodyOf(sink, before).pid as number;
        assert.ok(alive(pid) && alive(group));
        const t0 = Date.now();
        await source.stop();
        const took = Date.now() - t0;
        // A SIGKILLed grandchild stays a zombie (still "alive" to kill(pid, 0)) until
        // init reaps it, a moment after its supervisor is gone: allow for that.
        await waitUntil(() => !alive(pid), 3000, () => `${then}: process ${pid} is gone`);
        await waitUntil(() => !alive(group), 3000, () => `${then}: its supervisor ${group} is gone`);
        if (then === 'stay-ignoring-term') assert.ok(took >= 250, `SIGKILL came only after the grace period (${took} ms)`);
        assert.equal(source.pid, undefined);
        if (then === 'stay-ignoring-term') assert.equal(source.lastExit, undefined, 'an exit caused by stop() is not a crash');
      }
    } finally {
      await sink.close();
    }
  });

  test('no orphan: the process goes when Sluice is SIGKILLed', async () => {
    const sink = await startSink();
    const runner = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./fixtures/run-container-source.ts', import.meta.url)), sink.url, FIXTURE], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await sink.waitFor(1, 30_000);
      const pid = bodyOf(sink, 0).pid as number;
      assert.ok(alive(pid));
      runner.kill('SIGKILL');
      await waitUntil(() => !alive(pid), 20_000, () => `container process ${pid} to end after its parent was SIGKILLed`);
    } finally {
      runner.kill('SIGKILL');
      await sink.close();
    }
  });

  test('refuses what it cannot run, with messages that say why', async () => {
    const base = { sinkUrl: 'http://127.0.0.1:9/', name: 'x', namespace: 'demo' };
    // An image alone runs as a container now; without a container runtime its start says so.
    const imageOnly = { template: { spec: { containers: [{ image: 'ghcr.io/example/adapter:1' }] } }, sink: { uri: 'http://s' } };
    const noRuntime = new ContainerSource({ ...base, spec: imageOnly });
    assert.equal(noRuntime.runner, 'container');
    await assert.rejects(noRuntime.start(async () => {}), (err: unknown) => {
      assert.ok(err instanceof ContainerRuntimeError);
      assert.match(err.message, /image ghcr\.io\/example\/adapter:1 cannot run: no container runtime \(no container runtime configured\); set command \(and args\) to run it as a local process, or install Docker or Podman/);
      assert.equal(noRuntime.failureReason(err), 'ContainerRuntimeUnavailable');
      return true;
    });
    // The sluice.dev/runner annotation decides when set: `process` needs a command.
    assert.throws(() => new ContainerSource({ ...base, spec: imageOnly, annotations: { 'sluice.dev/runner': 'process' } }), (err: unknown) => {
      assert.ok(err instanceof ResourceValidationError);
      assert.match(err.message, /spec\.template\.spec\.containers\[0\]\.command: is required: sluice\.dev\/runner: process runs the command as a local process, not image "ghcr\.io\/example\/adapter:1"/);
      return true;
    });
    const nothing = { template: { spec: { containers: [{ name: 'x' }] } }, sink: { uri: 'http://s' } };
    assert.throws(() => new ContainerSource({ ...base, spec: nothing }), /containers\[0\]\.command: is required: the program to run \(with args\), or give an image to run as a container/);
    // Ports are accepted (Knative YAML has them) and reported as ignored: nothing probes a ContainerSource.
    const withPorts = { template: { spec: { containers: [{ command: ['true'], ports: [{ containerPort: 80 }] }] } }, sink: { uri: 'http://s' } };
    assert.deepEqual(new ContainerSource({ ...base, spec: withPorts }).ignored, ['spec.template.spec.containers[0].ports']);
    const volumes = { template: { spec: { containers: [{ command: ['true'], volumeMounts: [] }] } }, sink: { uri: 'http://s' } };
    assert.throws(() => new ContainerSource({ ...base, spec: volumes as never }), /containers\[0\]\.volumeMounts: unknown field "volumeMounts"/);
    const two = { template: { spec: { containers: [{ command: ['true'] }, { command: ['true'] }] } }, sink: { uri: 'http://s' } };
    assert.throws(() => new ContainerSource({ ...base, spec: two }), /one container per ContainerSource/);
    const kSink = { template: { spec: { containers: [{ command: ['true'], env: [{ name: 'K_SINK', value: 'x' }] }] } }, sink: { uri: 'http://s' } };
    assert.throws(() => new ContainerSource({ ...base, spec: kSink }), /K_SINK is set by Sluice/);

    const missingSecret = new ContainerSource({ ...base, spec: spec('stay', { env: [{ name: 'API_TOKEN', valueFrom: { secretKeyRef: { name: 'api', key: 'token' } } }] }), resolveSecret: () => undefined });
    await assert.rejects(missingSecret.start(async () => {}), (err: unknown) => err instanceof NotReadyError && /secret demo\/api has no key "token"/.test(err.message));
    const noSuchCommand = new ContainerSource({ ...base, spec: { template: { spec: { containers: [{ command: ['sluice-no-such-program-xyz'] }] } }, sink: { uri: 'http://s' } } });
    await assert.rejects(noSuchCommand.start(async () => {}), (err: unknown) => err instanceof InvalidOptionError && /"sluice-no-such-program-xyz" was not found on PATH/.test(err.message));
    const badDir = new ContainerSource({ ...base, spec: spec('stay', { workingDir: '/nonexistent/dir' }) });
    await assert.rejects(badDir.start(async () => {}), /workingDir "\/nonexistent\/dir" is not a directory/);
  });

  test('$(VAR) expansion follows Kubernetes', () => {
    assert.equal(expandVars('$(A)-$(B)-$$(A)-$(MISSING)', { A: '1', B: '2' }), '1-2-$(A)-$(MISSING)');
  });
});
