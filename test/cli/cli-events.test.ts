import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSluice } from '../helpers/sluice.js';
import { startSink } from '../helpers/sink.js';
import { runCli, spawnCli, waitUntil } from './run-cli.js';

// A broker in this process as `sluice start` sets it up (admin token, a data dir, a
// watched -f folder), driven by `sluice send`, `sluice tail` and `sluice apply` as child
// processes.

const TOKEN = 'events-t0ken';

test('send and tail through a running sluice; apply with the admin token; the -f folder is watched', async () => {
  const sink = await startSink();
  const root = mkdtempSync(join(tmpdir(), 'sluice-cli-events-'));
  const config = join(root, 'config');
  mkdirSync(config);
  writeFileSync(
    join(config, 'flow.yaml'),
    `apiVersion: messaging.knative.dev/v1
kind: InMemoryChannel
metadata: {name: orders}
---
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata: {name: orders-to-sink}
spec:
  channel: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: orders}
  subscriber: {uri: "${sink.url}"}
---
apiVersion: messaging.knative.dev/v1
kind: InMemoryChannel
metadata:
  name: locked
  annotations: {sluice.dev/ingress-token-secret: ingress}
---
apiVersion: v1
kind: Secret
metadata: {name: ingress}
stringData: {token: open-sesame}
`,
  );
  writeFileSync(join(root, 'payload.json'), '{"from":"a file"}');
  const broker = await startSluice('', { adminToken: TOKEN, dataDir: join(root, 'data'), watchDebounceMs: 50 });
  await broker.liveConfig.start({ paths: [config], watch: true });
  const admin = broker.adminUrl;
  const port = new URL(broker.url).port;
  const env = { SLUICE_SERVER: admin, SLUICE_ADMIN_TOKEN: TOKEN };
  let tail: ReturnType<typeof spawnCli> | undefined;
  try {
    assert.equal((await fetch(`${admin}/api/v1/resources`)).status, 401, 'the admin token is required');

    tail = spawnCli(['tail', 'channel', 'orders', '-o', 'json', '--count', '2', '--filter', 'type=dev.cli.*'], env);
    await waitUntil(() => tail!.output().stderr.includes('following channel default/orders'), 20_000, 'tail to attach');

    const [binary, structured, ignored, denied, allowed, direct] = await Promise.all([
      runCli(['send', '--to', 'orders', '--type', 'dev.cli.binary', '--source', '/cli', '--id', 'b-1', '--data', '{"n":1}', '-e', 'tenant=acme'], { env }),
      runCli(['send', '--to', 'channel/default/orders', '--type', 'dev.cli.structured', '--source', '/cli', '--id', 's-1', '--data', `@${join(root, 'payload.json')}`, '--mode', 'structured'], { env }),
      runCli(['send', '--to', 'channel/orders', '--type', 'other.type', '--source', '/cli', '--id', 'o-1'], { env }),
      runCli(['send', '--to', 'locked', '--type', 'dev.x', '--source', '/cli'], { env }),
      runCli(['send', '--to', 'locked', '--type', 'dev.x', '--source', '/cli', '--ingress-token', 'open-sesame'], { env }),
      runCli(['send', '--to', sink.url + 'direct', '--type', 'dev.direct', '--source', '/cli', '--id', 'd-1', '--data', 'plain text']),
    ]);
    for (const r of [binary, structured, ignored, allowed, direct]) assert.equal(r.code, 0, r.stderr);
    assert.match(binary.stdout, new RegExp(`event b-1 sent to http://127\\.0\\.0\\.1:${port}/channels/default/orders \\(HTTP 202\\)`));
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /HTTP 401.*--ingress-token/);

    assert.equal(await tail.exited, 0, tail.output().stderr);
    const seen = tail
      .output()
      .stdout.trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { kind: string; name: string; attributes: Record<string, string>; data?: string });
    assert.deepEqual(seen.map((e) => e.attributes.id).sort(), ['b-1', 's-1']);
    const b = seen.find((e) => e.attributes.id === 'b-1')!;
    assert.equal(b.kind, 'channel');
    assert.equal(b.attributes.tenant, 'acme');
    assert.equal(b.data, '{"n":1}');
    assert.equal(seen.find((e) => e.attributes.id === 's-1')!.data, '{"from":"a file"}');

    await waitUntil(() => ['b-1', 's-1', 'o-1', 'd-1'].every((id) => sink.requests.some((r) => r.headers['ce-id'] === id)), 10_000, 'the sink to get every event');
    const direct1 = sink.requests.find((r) => r.headers['ce-id'] === 'd-1')!;
    assert.equal(direct1.url, '/direct');
    assert.equal(direct1.headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal(direct1.body.toString(), 'plain text');
    assert.equal(sink.requests.find((r) => r.headers['ce-id'] === 'b-1')!.headers['ce-tenant'], 'acme');

    // apply with the token, then a change to the watched folder.
    writeFileSync(join(root, 'extra.yaml'), 'apiVersion: messaging.knative.dev/v1\nkind: InMemoryChannel\nmetadata: {name: applied}\n');
    const applied = await runCli(['apply', '-f', join(root, 'extra.yaml')], { env });
    assert.equal(applied.code, 0, applied.stderr);
    assert.equal(statSync(join(root, 'data', 'admin-resources.json')).mode & 0o777, 0o600);
    writeFileSync(join(config, 'more.yaml'), 'apiVersion: messaging.knative.dev/v1\nkind: InMemoryChannel\nmetadata: {name: watched}\n');
    await waitUntil(
      async () => (await fetch(`${admin}/api/v1/resources/InMemoryChannel/default/watched`, { headers: { authorization: `Bearer ${TOKEN}` } })).status === 200,
      10_000,
      'the new file in the watched folder to be applied',
    );
  } finally {
    tail?.child.kill('SIGKILL');
    await broker.close();
    await sink.close();
    rmSync(root, { recursive: true, force: true });
  }
});
