import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { startSluice, waitUntil } from '../helpers/sluice.js';
import { startSink, type RecordingSink } from '../helpers/sink.js';
import type { SluiceServer } from '../../src/server/sluice-server.js';
import { runCli } from './run-cli.js';

// `sluice apply/get/describe/delete/validate` as real child processes against a broker
// running in this process.

let sluice: SluiceServer & { url: string };
let sink: RecordingSink;
let dir: string;
const TOKEN = 'cli-t0ken';

before(async () => {
  sink = await startSink();
  sluice = await startSluice('', { adminToken: TOKEN });
  dir = mkdtempSync(join(tmpdir(), 'sluice-cli-'));
  mkdirSync(join(dir, 'config'));
  writeFileSync(
    join(dir, 'config', '10-channel.yaml'),
    `apiVersion: messaging.knative.dev/v1
kind: InMemoryChannel
metadata: {name: orders}
`,
  );
  writeFileSync(
    join(dir, 'config', '20-subs.yaml'),
    `apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata: {name: orders-sub}
spec:
  channel: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: orders}
  subscriber: {uri: "${sink.url}"}
---
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata: {name: dangling}
spec:
  channel: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: nowhere}
  subscriber: {uri: "${sink.url}"}
`,
  );
  writeFileSync(
    join(dir, 'bad.yaml'),
    `apiVersion: messaging.knative.dev/v1
kind: InMemoryChannel
metadata: {name: fine}
---
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata: {name: broken}
spec:
  channel: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: fine}
  subscriber: {uri: "http://127.0.0.1:1/"}
  delivery: {backoffDelay: 5s}
`,
  );
});
after(async () => {
  await sluice.close();
  await sink.close();
  rmSync(dir, { recursive: true, force: true });
});

const env = () => ({ SLUICE_SERVER: sluice.adminUrl, SLUICE_ADMIN_TOKEN: TOKEN });

function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

test('validate and a rejected apply name file, document, kind, name and field; errors say how to fix; exit codes', async () => {
  const port = await closedPort();
  const [valid, invalid, rejected, unreachable, noToken, empty] = await Promise.all([
    runCli(['validate', '-f', join(dir, 'config')]),
    runCli(['validate', '-f', join(dir, 'config'), '-f', join(dir, 'bad.yaml')]),
    runCli(['apply', '-f', join(dir, 'bad.yaml')], { env: env() }),
    runCli(['get', 'channels', '--server', `http://127.0.0.1:${port}`]),
    runCli(['get', 'channels'], { env: { SLUICE_SERVER: sluice.adminUrl } }),
    runCli(['get', 'all', '-n', 'nothing-here'], { env: env() }),
  ]);
  assert.equal(empty.code, 0, empty.stderr);
  assert.match(empty.stderr, /No resources found in nothing-here namespace/);
  assert.equal(valid.code, 0, valid.stderr);
  assert.match(valid.stdout, /3 resource document\(s\) valid/);
  assert.equal(invalid.code, 1);
  assert.match(invalid.stderr, /bad\.yaml#2 Subscription default\/broken: spec\.delivery\.backoffDelay: "5s" is not an ISO-8601 duration/);
  assert.equal(rejected.code, 1);
  assert.match(rejected.stderr, /bad\.yaml#2 Subscription default\/broken: spec\.delivery\.backoffDelay/);
  assert.match(rejected.stderr, /nothing applied/);
  assert.equal((await fetch(`${sluice.adminUrl}/api/v1/resources/InMemoryChannel/default/fine`, { headers: { authorization: `Bearer ${TOKEN}` } })).status, 404);
  assert.equal(unreachable.code, 1);
  assert.match(unreachable.stderr, new RegExp(`cannot reach sluice admin at http://127\\.0\\.0\\.1:${port}: is \`sluice start\` running.*\\(ECONNREFUSED\\)`));
  assert.equal(noToken.code, 1);
  assert.match(noToken.stderr, /bearer token.*--token or set SLUICE_ADMIN_TOKEN/);
});

test('apply a folder, get (table, yaml, aliases), describe with recent deliveries, delete by name and by file', async () => {
  const applied = await runCli(['apply', '-f', join(dir, 'config')], { env: env() });
  assert.equal(applied.code, 0, applied.stderr);
  assert.match(applied.stdout, /^inmemorychannel\.messaging\.knative\.dev\/orders created$/m);
  assert.match(applied.stdout, /^subscription\.messaging\.knative\.dev\/orders-sub created$/m);
  assert.match(applied.stderr, /warning: Subscription default\/dangling is not ready: ChannelNotFound/);

  const ev = await fetch(`${sluice.url}/channels/default/orders`, {
    method: 'POST',
    headers: { 'ce-specversion': '1.0', 'ce-id': 'described-1', 'ce-source': '/cli-test', 'ce-type': 'dev.cli.test' },
  });
  assert.equal(ev.status, 202);
  await waitUntil(() => sink.requests.length > 0, 5000, 'the delivery');

  const [channels, subsYaml, described, allNs, unknownKind] = await Promise.all([
    runCli(['get', 'channels'], { env: env() }),
    runCli(['get', 'subs', 'orders-sub', '-o', 'yaml'], { env: env() }),
    runCli(['describe', 'sub', 'orders-sub'], { env: env() }),
    runCli(['--token', TOKEN, 'get', 'Subscription', '-A', '--server', sluice.adminUrl]),
    runCli(['get', 'gizmos'], { env: env() }),
  ]);
  assert.equal(channels.code, 0, channels.stderr);
  const lines = channels.stdout.trim().split('\n');
  assert.match(lines[0]!, /^NAME\s+READY\s+REASON\s+ADDRESS\s+AGE$/);
  assert.match(lines[1]!, new RegExp(`^orders\\s+True\\s+${sluice.url.replace(/[.]/g, '\\.')}/channels/default/orders\\s+\\d+s$`));

  assert.equal(subsYaml.code, 0, subsYaml.stderr);
  assert.match(subsYaml.stdout, /^kind: Subscription$/m);
  assert.match(subsYaml.stdout, /subscriberUri: http:\/\/127\.0\.0\.1/);

  assert.equal(described.code, 0, described.stderr);
  assert.match(described.stdout, /^Name:\s+orders-sub$/m);
  assert.match(described.stdout, /Ready\s+True\s+SubscriptionReady/);
  assert.match(described.stdout, /Recent deliveries:\n.*EVENT ID.*\n.*orders-sub\s+described-1\s+dev\.cli\.test\s+delivered\s+1\s+202/);
  assert.match(described.stdout, /Dead letters:\n\s+<none>/);

  assert.equal(allNs.code, 0, allNs.stderr);
  assert.match(allNs.stdout, /^NAMESPACE\s+NAME\s+READY\s+REASON\s+ADDRESS\s+AGE$/m);
  assert.match(allNs.stdout, /^default\s+dangling\s+False\s+ChannelNotFound\s+\d+s$/m);

  assert.equal(unknownKind.code, 1);
  assert.match(unknownKind.stderr, /unknown kind "gizmos": use one of .*channels.*subscriptions/);

  const [byName, missing] = await Promise.all([runCli(['delete', 'subs', 'dangling'], { env: env() }), runCli(['delete', 'imc', 'nope'], { env: env() })]);
  assert.equal(byName.code, 0, byName.stderr);
  assert.match(byName.stdout, /subscription\/dangling deleted/);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /InMemoryChannel "nope" not found in namespace default/);

  const byFile = await runCli(['delete', '-f', join(dir, 'config'), '--ignore-not-found'], { env: env() });
  assert.equal(byFile.code, 0, byFile.stderr);
  assert.match(byFile.stdout, /inmemorychannel\/orders deleted/);
  const left = await fetch(`${sluice.adminUrl}/api/v1/resources?namespace=default`, { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.deepEqual(((await left.json()) as { items: unknown[] }).items, []);
});
