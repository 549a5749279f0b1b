import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './run-cli.js';

function dockerEngineAnswers(): Promise<boolean> {
  return new Promise((resolve) => execFile('docker', ['version', '--format', '{{.Server.Version}}'], { timeout: 15_000 }, (err) => resolve(!err)));
}

test('--container-runtime: a bad value, or a named runtime that does not work, stops sluice start with the reason', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-runtime-flag-'));
  try {
    const common = ['start', '--port', '0', '--admin-port', '0', '--data-dir', join(dir, 'data')];
    const bad = await runCli([...common, '--container-runtime', 'lxc']);
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(bad.stderr, /--container-runtime: "lxc" is not one of auto, docker, podman, none/);
    if (await dockerEngineAnswers()) {
      t.diagnostic('a Docker engine answers here: the "does not work" case is not checked');
      return;
    }
    const docker = await runCli([...common, '--container-runtime', 'docker']);
    assert.equal(docker.code, 1, docker.stderr);
    assert.match(docker.stderr, /--container-runtime docker does not work here \(docker: /);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
