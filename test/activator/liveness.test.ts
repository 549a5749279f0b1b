import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { startSluice, waitUntil } from '../helpers/sluice.js';
import { resourceStatus } from './e2e-helpers.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/liveness-service.mjs', import.meta.url));

test('a replica failing its livenessProbe failureThreshold times is restarted; the Service keeps a ready replica', async () => {
  const yaml = `apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: wedged}
spec:
  template:
    metadata:
      annotations: {autoscaling.knative.dev/min-scale: "1"}
    spec:
      containers:
        - command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(FIXTURE)}]
          env: [{name: LIVE_FOR_MS, value: "300"}]
          livenessProbe:
            httpGet: {path: /live}
            periodSeconds: 1
            failureThreshold: 2
`;
  const sluice = await startSluice(yaml);
  try {
    const pids = new Set<string>();
    await waitUntil(
      async () => {
        const res = await fetch(`${sluice.url}/services/default/wedged/`).catch(() => undefined);
        const pid = res?.headers.get('x-replica-pid');
        if (pid) pids.add(pid);
        return pids.size >= 2;
      },
      20_000,
      'a second replica process after the first failed its liveness probe',
    );
    // The status is refreshed every 250 ms: wait for it to catch up with the restart.
    let st = await resourceStatus(sluice, 'Service', 'wedged');
    await waitUntil(async () => ((st = await resourceStatus(sluice, 'Service', 'wedged')).replicas as { restarts: number }).restarts >= 1, 5000, 'the restart in the status');
    assert.match(String(st.lastError), /liveness probe failed 2 times/, JSON.stringify(st));
  } finally {
    await sluice.close();
  }
});

test('a startupProbe gates readiness: the replica takes requests only once it passed', async () => {
  // The fixture's /live answers 200 only for its first 300 ms: a startupProbe on a path
  // that never succeeds keeps the replica out of rotation, the held request times out.
  const yaml = `apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: slow-start}
spec:
  template:
    metadata:
      annotations: {activator.sluice.dev/timeout: "1500ms"}
    spec:
      containers:
        - command: [${JSON.stringify(process.execPath)}, ${JSON.stringify(FIXTURE)}]
          env: [{name: LIVE_FOR_MS, value: "0"}]
          startupProbe:
            httpGet: {path: /live}
`;
  const sluice = await startSluice(yaml);
  try {
    const res = await fetch(`${sluice.url}/services/default/slow-start/`);
    assert.equal(res.status, 503, 'never ready: the startupProbe never passed');
    const st = await resourceStatus(sluice, 'Service', 'slow-start');
    assert.equal((st.replicas as { ready: number }).ready, 0);
  } finally {
    await sluice.close();
  }
});
