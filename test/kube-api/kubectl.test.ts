// The real kubectl against Sluice's admin port: apply a folder of Knative YAML, get,
// describe, wait, watch, patch, edit and delete, with the admin token as the
// kubeconfig's bearer token. Everything goes through the one store the admin API uses.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { Agent, request } from 'undici';
import { SluiceServer } from '../../src/server/sluice-server.js';
import { silentLogger } from '../../src/observability/logger.js';
import { startSink, type RecordingSink } from '../helpers/sink.js';
import { waitUntil } from '../helpers/sluice.js';
import { HAS_KUBECTL, Kubectl, selfSignedCert } from './kubectl-helpers.js';

const TOKEN = 'kube-test-token';

describe('kubectl against sluice', { skip: HAS_KUBECTL ? false : 'kubectl is not installed' }, () => {
  let server: SluiceServer;
  let kubectl: Kubectl;
  let sink: RecordingSink;
  let other: RecordingSink;
  let dir: string;
  let dataDir: string;
  let tls: ReturnType<typeof selfSignedCert>;
  let admin: Agent;

  before(async () => {
    sink = await startSink();
    other = await startSink();
    dir = mkdtempSync(join(tmpdir(), 'sluice-kube-yaml-'));
    dataDir = mkdtempSync(join(tmpdir(), 'sluice-kube-data-'));
    // The secure setup kubectl users get: a token, so the admin port serves TLS (client-go sends tokens only over TLS).
    tls = selfSignedCert(dataDir);
    server = new SluiceServer({ logger: silentLogger(), port: 0, adminPort: 0, host: '127.0.0.1', drainTimeoutMs: 2000, dataDir, adminToken: TOKEN, adminTls: { cert: tls.cert, key: tls.key } });
    await server.listen();
    await server.liveConfig.start({ paths: [] });
    admin = new Agent({ connect: { ca: tls.cert } });
    // The kubeconfig is the one `sluice kubeconfig` writes.
    const kubeconfig = join(dir, 'kubeconfig');
    const made = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', '--server', server.adminUrl, '--token', TOKEN, 'kubeconfig', '--certificate-authority', tls.certFile, '-o', kubeconfig], { encoding: 'utf8' });
    assert.equal(made.status, 0, made.stderr);
    kubectl = new Kubectl(server.adminUrl, { kubeconfig });
  });

  after(async () => {
    await server.close();
    await Promise.all([sink.close(), other.close(), admin.close()]);
    kubectl.dispose();
    rmSync(dir, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('kubectl apply -f a folder of Knative YAML creates each resource; get shows Knative columns; wait sees Ready', async () => {
    mkdirSync(join(dir, 'app'));
    writeFileSync(
      join(dir, 'app', 'broker.yaml'),
      `apiVersion: eventing.knative.dev/v1
kind: Broker
metadata:
  name: default
  labels: {team: a}
`,
    );
    writeFileSync(
      join(dir, 'app', 'trigger.yaml'),
      `apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: orders
  labels: {team: a}
spec:
  broker: default
  filter:
    attributes: {type: dev.example.order}
  subscriber:
    uri: ${sink.url}orders
`,
    );
    writeFileSync(
      join(dir, 'app', 'channel.yaml'),
      `apiVersion: messaging.knative.dev/v1
kind: InMemoryChannel
metadata: {name: stream}
---
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata: {name: stream-sub, labels: {team: b}}
spec:
  channel: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: stream}
  subscriber: {uri: "${sink.url}stream"}
`,
    );
    writeFileSync(
      join(dir, 'app', 'core.yaml'),
      `apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData: {token: s3cr3t-value}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {mode: fast}
`,
    );
    const out = await kubectl.ok(['apply', '-f', join(dir, 'app')]);
    assert.match(out, /secret\/creds created/);
    assert.match(out, /configmap\/settings created/);
    assert.match(out, /broker\.eventing\.knative\.dev\/default created/);
    assert.match(out, /trigger\.eventing\.knative\.dev\/orders created/);
    assert.match(out, /inmemorychannel\.messaging\.knative\.dev\/stream created/);
    assert.match(out, /subscription\.messaging\.knative\.dev\/stream-sub created/);

    assert.match(await kubectl.ok(['wait', '--for=condition=Ready', 'trigger/orders', 'broker/default', '--timeout=30s']), /trigger\.eventing\.knative\.dev\/orders condition met/);

    const brokers = await kubectl.ok(['get', 'brokers']);
    assert.match(brokers, /^NAME\s+URL\s+AGE\s+READY\s+REASON\s*$/m);
    assert.match(brokers, new RegExp(`^default\\s+${escape(server.ingressUrl)}/default/default\\s+\\d+s\\s+True\\s*$`, 'm'));
    const triggers = await kubectl.ok(['get', 'trig']);
    assert.match(triggers, /^NAME\s+BROKER\s+SUBSCRIBER_URI\s+AGE\s+READY\s+REASON/m);
    assert.match(triggers, new RegExp(`^orders\\s+default\\s+${escape(sink.url)}orders\\s+\\d+s\\s+True`, 'm'));
    assert.match(await kubectl.ok(['get', 'imc', 'stream', '-o', 'jsonpath={.status.address.url}']), /\/channels\/default\/stream$/);

    // The admin API sees what kubectl wrote: one store.
    const res = await request(`${server.adminUrl}/api/v1/resources/Trigger/default/orders`, { headers: { authorization: `Bearer ${TOKEN}` }, dispatcher: admin });
    assert.equal(res.statusCode, 200);
    assert.equal(((await res.body.json()) as { spec: { broker: string } }).spec.broker, 'default');
  });

  test('label selectors, -A, -o yaml with server metadata; a second apply is unchanged, an edited one configured', async () => {
    assert.match(await kubectl.ok(['get', 'brokers,triggers,subscriptions', '-l', 'team=a', '-o', 'name']), /^broker\.eventing\.knative\.dev\/default\ntrigger\.eventing\.knative\.dev\/orders\n$/);
    assert.equal(await kubectl.ok(['get', 'subscriptions', '-l', 'team notin (a)', '-o', 'name']), 'subscription.messaging.knative.dev/stream-sub\n');
    assert.match(await kubectl.ok(['get', 'triggers', '-A']), /^NAMESPACE\s+NAME\s+BROKER/m);
    const yaml = await kubectl.ok(['get', 'trigger', 'orders', '-o', 'json']);
    const obj = JSON.parse(yaml) as { metadata: { uid: string; resourceVersion: string; generation: number; creationTimestamp: string; annotations: Record<string, string> } };
    assert.match(obj.metadata.uid, /^[0-9a-f-]{36}$/);
    assert.match(obj.metadata.resourceVersion, /^\d+$/);
    assert.equal(obj.metadata.generation, 1);
    assert.match(obj.metadata.creationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.ok(obj.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration'], 'client-side apply annotation kept');

    const again = await kubectl.ok(['apply', '-f', join(dir, 'app')]);
    assert.match(again, /trigger\.eventing\.knative\.dev\/orders unchanged/);
    assert.match(again, /configmap\/settings unchanged/);
    // A Secret's values are never shown, not even to kubectl; the stored one keeps its value.
    assert.doesNotMatch(await kubectl.ok(['get', 'secret', 'creds', '-o', 'yaml']), /s3cr3t|czNjcjN0/);
    assert.equal(Buffer.from(server.runtime.getSecret('default', 'creds')!.data.token!).toString(), 's3cr3t-value');
    assert.match(await kubectl.ok(['get', 'secrets']), /^creds\s+Opaque\s+1\s+\d+s$/m);
    writeFileSync(join(dir, 'app', 'trigger.yaml'), `apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: orders
  labels: {team: a}
spec:
  broker: default
  subscriber:
    uri: ${sink.url}orders-v2
`);
    assert.match(await kubectl.ok(['apply', '-f', join(dir, 'app')]), /trigger\.eventing\.knative\.dev\/orders configured/);
    const after = JSON.parse(await kubectl.ok(['get', 'trigger', 'orders', '-o', 'json'])) as { metadata: { generation: number; uid: string }; spec: { filter?: unknown; subscriber: { uri: string } } };
    assert.equal(after.spec.subscriber.uri, `${sink.url}orders-v2`);
    assert.equal(after.spec.filter, undefined, 'the filter removed from the file is removed (three-way merge)');
    assert.equal(after.metadata.generation, 2);
    assert.equal(after.metadata.uid, obj.metadata.uid);
  });

  test('describe shows spec and status; invalid YAML is refused naming the field; errors are Kubernetes Status', async () => {
    const described = await kubectl.ok(['describe', 'broker', 'default']);
    assert.match(described, /^Name:\s+default$/m);
    assert.match(described, /^Namespace:\s+default$/m);
    assert.match(described, /Type:\s+Ready/);

    writeFileSync(join(dir, 'bad.yaml'), 'apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata: {name: bad}\nspec: {subscriber: {uri: "http://x/"}}\n');
    const bad = await kubectl.run(['apply', '-f', join(dir, 'bad.yaml')]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /Trigger "bad" is invalid: .*spec\.broker/);

    const missing = await kubectl.run(['get', 'trigger', 'nope']);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /Error from server \(NotFound\): triggers\.eventing\.knative\.dev "nope" not found/);

    const wrong = new Kubectl(server.adminUrl, { token: 'not-the-token', caFile: tls.certFile });
    try {
      const r = await wrong.run(['get', 'brokers']);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /Unauthorized|must be logged in/);
    } finally {
      wrong.dispose();
    }
  });

  test('kubectl get -w sees a Trigger become Ready when its Broker appears', async () => {
    writeFileSync(join(dir, 'late.yaml'), `apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: late}
spec:
  broker: later
  subscriber: {uri: "${sink.url}late"}
`);
    await kubectl.ok(['apply', '-f', join(dir, 'late.yaml')]);
    const watch = kubectl.spawn(['get', 'trigger', 'late', '-w', '--output-watch-events']);
    try {
      await waitUntil(() => /ADDED\s+late\s+later\s+.*False/.test(watch.output()), 20_000, `the not-Ready Trigger listed: ${watch.output()}`);
      await kubectl.ok(['apply', '-f', '-'], 'apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata: {name: later}\n');
      await waitUntil(() => /MODIFIED\s+late\s+later\s+\S+\s+\S+\s+True/.test(watch.output()), 20_000, `the Trigger seen Ready: ${watch.output()}`);
    } finally {
      watch.child.kill();
    }
  });

  test('kubectl edit changes a Subscription subscriber with no event lost while events flow', async () => {
    let sent = 0;
    let stop = false;
    const channelUrl = `${server.ingressUrl}/channels/default/stream`;
    const producer = (async () => {
      while (!stop) {
        const r = await request(channelUrl, { method: 'POST', headers: { 'ce-specversion': '1.0', 'ce-id': `e-${sent}`, 'ce-source': '/kubectl-test', 'ce-type': 'dev.example.tick' }, body: 'x' });
        await r.body.dump();
        assert.equal(r.statusCode, 202);
        sent++;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();
    try {
      await waitUntil(() => sink.requests.filter((r) => r.url === '/stream').length >= 10, 20_000, 'events reaching the first subscriber');
      // A real `kubectl edit`: the editor is a sed that rewrites the subscriber's URI.
      const editor = `sed -i -e 's#${sink.url}stream#${other.url}stream#'`;
      assert.match(await kubectl.ok(['edit', 'subscription', 'stream-sub'], undefined, { KUBE_EDITOR: editor, EDITOR: editor }), /subscription\.messaging\.knative\.dev\/stream-sub edited/);
      await waitUntil(() => other.requests.length >= 10, 20_000, 'events reaching the new subscriber');
    } finally {
      stop = true;
      await producer;
    }
    const ids = (s: RecordingSink) => s.requests.filter((r) => r.url === '/stream').map((r) => String(r.headers['ce-id']));
    await waitUntil(() => new Set([...ids(sink), ...ids(other)]).size === sent, 20_000, `all ${sent} events delivered`);
    const spec = JSON.parse(await kubectl.ok(['get', 'sub', 'stream-sub', '-o', 'json'])) as { spec: { subscriber: { uri: string } }; metadata: { generation: number } };
    assert.equal(spec.spec.subscriber.uri, `${other.url}stream`);
  });

  test('patch (merge, json), server-side apply, status is read-only, delete waits until gone', async () => {
    await kubectl.ok(['patch', 'broker', 'default', '--type', 'merge', '-p', '{"metadata":{"labels":{"tier":"gold"}}}']);
    assert.equal(await kubectl.ok(['get', 'broker', 'default', '-o', 'jsonpath={.metadata.labels.tier}']), 'gold');
    await kubectl.ok(['patch', 'broker', 'default', '--type', 'json', '-p', '[{"op":"remove","path":"/metadata/labels/tier"}]']);
    assert.equal(await kubectl.ok(['get', 'broker', 'default', '-o', 'jsonpath={.metadata.labels.tier}']), '');
    const failed = await kubectl.run(['patch', 'broker', 'default', '--type', 'json', '-p', '[{"op":"test","path":"/metadata/name","value":"other"}]']);
    assert.notEqual(failed.code, 0);

    const ssa = `apiVersion: messaging.knative.dev/v1
kind: InMemoryChannel
metadata: {name: ssa, labels: {owner: ssa}}
`;
    assert.match(await kubectl.ok(['apply', '--server-side', '-f', '-'], ssa), /inmemorychannel\.messaging\.knative\.dev\/ssa serverside-applied/);
    assert.match(await kubectl.ok(['apply', '--server-side', '-f', '-'], ssa.replace(', labels: {owner: ssa}', '')), /serverside-applied/);
    assert.equal(await kubectl.ok(['get', 'imc', 'ssa', '-o', 'jsonpath={.metadata.labels.owner}']), '', 'a label the manager stopped applying is removed');
    // Two field managers: a different value for a field the other applies is a conflict, until forced.
    await kubectl.ok(['apply', '--server-side', '-f', '-'], ssa.replace('{owner: ssa}', '{team: blue}'));
    const conflict = await kubectl.run(['apply', '--server-side', '--field-manager=ci', '-f', '-'], ssa.replace('{owner: ssa}', '{team: green}'));
    assert.notEqual(conflict.code, 0);
    assert.match(conflict.stderr, /conflict with "kubectl"/);
    assert.equal(await kubectl.ok(['get', 'imc', 'ssa', '-o', 'jsonpath={.metadata.labels.team}']), 'blue');
    await kubectl.ok(['apply', '--server-side', '--field-manager=ci', '--force-conflicts', '-f', '-'], ssa.replace('{owner: ssa}', '{team: green}'));
    assert.equal(await kubectl.ok(['get', 'imc', 'ssa', '-o', 'jsonpath={.metadata.labels.team}']), 'green');
    // The first manager no longer applies the label, but ci owns it now: it stays.
    await kubectl.ok(['apply', '--server-side', '-f', '-'], ssa.replace(', labels: {owner: ssa}', ''));
    assert.equal(await kubectl.ok(['get', 'imc', 'ssa', '-o', 'jsonpath={.metadata.labels.team}']), 'green');

    // Over HTTP: kubectl's --subresource flag is newer than Debian's kubectl 1.20.
    const statusUrl = `${server.adminUrl}/apis/eventing.knative.dev/v1/namespaces/default/brokers/default/status`;
    const read = await request(statusUrl, { headers: { authorization: `Bearer ${TOKEN}` }, dispatcher: admin });
    assert.equal(read.statusCode, 200);
    assert.equal(((await read.body.json()) as { status: { conditions: Array<{ type: string }> } }).status.conditions[0]!.type, 'Ready');
    const write = await request(statusUrl, { method: 'PATCH', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/merge-patch+json' }, body: '{"status":{"x":1}}', dispatcher: admin });
    const refused = (await write.body.json()) as { kind: string; code: number; reason: string; message: string };
    assert.deepEqual([write.statusCode, refused.kind, refused.reason], [405, 'Status', 'MethodNotAllowed']);
    assert.match(refused.message, /set by Sluice/);

    assert.match(await kubectl.ok(['delete', 'trigger', 'late', '--timeout=30s']), /trigger\.eventing\.knative\.dev "late" deleted/);
    assert.match((await kubectl.run(['get', 'trigger', 'late'])).stderr, /NotFound/);
  });

  test('server-side dry run: kubectl diff shows a change, apply --dry-run=server changes nothing', async () => {
    const changed = `apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata: {name: stream-sub, labels: {team: b}}
spec:
  channel: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: stream}
  subscriber: {uri: "http://127.0.0.1:9/dry-run"}
`;
    writeFileSync(join(dir, 'dry.yaml'), changed);
    const before = await kubectl.ok(['get', 'subscription', 'stream-sub', '-o', 'jsonpath={.spec.subscriber.uri} {.metadata.resourceVersion}']);
    const diff = await kubectl.run(['diff', '-f', join(dir, 'dry.yaml')]);
    assert.equal(diff.code, 1, `kubectl diff exits 1 when there are differences: ${diff.stderr}`);
    assert.match(diff.stdout, /^\+\s+uri: http:\/\/127\.0\.0\.1:9\/dry-run$/m);
    assert.match(await kubectl.ok(['apply', '--dry-run=server', '-f', join(dir, 'dry.yaml')]), /subscription\.messaging\.knative\.dev\/stream-sub configured \(server dry run\)/);
    assert.equal(await kubectl.ok(['get', 'subscription', 'stream-sub', '-o', 'jsonpath={.spec.subscriber.uri} {.metadata.resourceVersion}']), before, 'nothing changed');
    const invalid = await kubectl.run(['apply', '--dry-run=server', '-f', '-'], 'apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata: {name: dry-bad}\nspec: {subscriber: {uri: "http://x/"}}\n');
    assert.notEqual(invalid.code, 0);
    assert.match(invalid.stderr, /spec\.broker/);
    assert.match((await kubectl.run(['get', 'trigger', 'dry-bad'])).stderr, /NotFound/);
  });

  test('a watch from a resourceVersion older than the history gets 410 Expired', async () => {
    const r = await request(`${server.adminUrl}/apis/eventing.knative.dev/v1/namespaces/default/triggers?watch=1&resourceVersion=1`, { headers: { authorization: `Bearer ${TOKEN}` }, dispatcher: admin });
    const line = (await r.body.text()).trim().split('\n')[0]!;
    const e = JSON.parse(line) as { type: string; object: { code: number; reason: string } };
    assert.equal(e.type, 'ERROR');
    assert.equal(e.object.code, 410);
    assert.equal(e.object.reason, 'Expired');
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
