import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, symlink, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigFileError, ResourceValidationError } from '../../src/errors.js';
import { loadResources, parseResourcesText, type ChannelSpec, type SubscriptionSpec } from '../../src/resources/index.js';

const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
const fx = (name: string) => join(fixtures, name);

describe('loadResources: Knative samples', () => {
  test('InMemoryChannel + Subscription with delivery and dead-letter sink', async () => {
    const r = await loadResources([fx('imc-subscription.yaml')]);
    assert.deepEqual(r.errors, []);
    assert.deepEqual(
      r.resources.map((x) => [x.resource.kind, x.resource.metadata.name, x.origin?.document]),
      [
        ['InMemoryChannel', 'my-channel', 1],
        ['Subscription', 'my-subscription', 2],
        ['InMemoryChannel', 'my-reply-channel', 3],
      ],
    );
    const sub = r.resources[1]!.resource.spec as unknown as SubscriptionSpec;
    assert.deepEqual(sub.channel, { apiVersion: 'messaging.knative.dev/v1', kind: 'InMemoryChannel', name: 'my-channel' });
    assert.deepEqual(sub.delivery, {
      // Knative's defaulting: refs without a namespace point into the Subscription's.
      deadLetterSink: { ref: { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'dlq-service', namespace: 'default' } },
      backoffDelay: 'PT0.5S',
      backoffPolicy: 'exponential',
      retry: 5,
    });
    assert.equal(sub.subscriber.ref?.namespace, 'default');
    assert.equal(sub.reply?.ref?.name, 'my-reply-channel');
    assert.equal(r.resources[1]!.origin?.file, fx('imc-subscription.yaml'));
  });

  test('Channel: channelTemplate defaults to InMemoryChannel, an explicit one is kept', async () => {
    const r = await loadResources([fx('channel-template.yaml')]);
    assert.deepEqual(r.errors, []);
    const [plain, orders, sub] = r.resources.map((x) => x.resource);
    assert.deepEqual((plain!.spec as ChannelSpec).channelTemplate, { apiVersion: 'messaging.knative.dev/v1', kind: 'InMemoryChannel' });
    assert.deepEqual(orders!.metadata, { name: 'orders', namespace: 'shop', labels: { 'app.kubernetes.io/part-of': 'shop' } });
    assert.deepEqual((orders!.spec as ChannelSpec).channelTemplate?.spec, { delivery: { retry: 3, backoffPolicy: 'linear', backoffDelay: 'PT1S' } });
    assert.equal((orders!.spec as ChannelSpec).delivery?.deadLetterSink?.uri, 'http://dead-letters.shop.svc.cluster.local/orders');
    assert.deepEqual((sub!.spec as unknown as SubscriptionSpec).delivery, { timeout: 'PT10S', retryAfterMax: 'PT2M' });
  });

  test('defaultChannelTemplate option overrides the Channel default (for --default-channel)', async () => {
    const tpl = { apiVersion: 'messaging.sluice.dev/v1alpha1', kind: 'JetStreamChannel', spec: { replicas: 3 } };
    const r = await loadResources([fx('channel-template.yaml')], { defaultChannelTemplate: tpl });
    assert.deepEqual((r.resources[0]!.resource.spec as ChannelSpec).channelTemplate, tpl);
    // An explicit template still wins.
    assert.equal((r.resources[1]!.resource.spec as ChannelSpec).channelTemplate?.kind, 'InMemoryChannel');
    // The option's object is copied, never shared with a resource.
    (r.resources[0]!.resource.spec as ChannelSpec).channelTemplate!.spec!.replicas = 1;
    assert.equal(tpl.spec.replicas, 3);
  });

  test('kubectl output: server-set metadata, status and a v1 List are accepted and dropped', async () => {
    const r = await loadResources([fx('kubectl-output.yaml')]);
    assert.deepEqual(r.errors, []);
    const [sub, ch] = r.resources.map((x) => x.resource);
    assert.deepEqual(sub!.metadata, {
      name: 'my-subscription',
      namespace: 'default',
      annotations: { 'messaging.knative.dev/creator': 'kubernetes-admin', 'messaging.knative.dev/lastModifier': 'kubernetes-admin' },
    });
    assert.equal('status' in sub!, false);
    assert.deepEqual(ch!.metadata, { name: 'listed-channel', namespace: 'default' });
    assert.deepEqual(ch!.spec, { delivery: { retry: 2 } });
    assert.equal(r.resources[1]!.origin?.document, 2);
  });

  test('an invalid item of a List is reported under items[i]', () => {
    const r = parseResourcesText(
      `apiVersion: v1
kind: List
items:
- apiVersion: messaging.knative.dev/v1
  kind: InMemoryChannel
  metadata: {name: good}
- apiVersion: messaging.knative.dev/v1
  kind: InMemoryChannel
  metadata: {name: bad}
  spec: {capacity: many}
`,
      'list.yaml',
    );
    assert.equal(r.resources.length, 1);
    assert.equal(r.errors[0]!.message, 'list.yaml#1 InMemoryChannel default/bad: items[1].spec.capacity: expected number, got string "many"');
  });
});

describe('loadResources: folders and files', () => {
  test('a folder: every .yaml/.yml recursively, sorted; empty documents, other files and dot-folders skipped', async () => {
    const r = await loadResources([fx('folder')]);
    assert.deepEqual(
      r.resources.map((x) => `${x.origin?.file.slice(fixtures.length)}#${x.origin?.document} ${x.resource.kind} ${x.resource.metadata.name}`),
      [
        'folder/10-channels.yaml#1 InMemoryChannel events',
        'folder/10-channels.yaml#3 InMemoryChannel audit',
        'folder/nested/20-subscriptions.yml#1 Subscription events-to-display',
      ],
    );
    // One invalid document never stops the valid ones.
    assert.equal(r.errors.length, 1);
    assert.equal(
      r.errors[0]!.message,
      `${fx('folder/nested/20-subscriptions.yml')}#2 Subscription default/broken: spec.subscriber.uri: "/relative" is not an absolute http(s) URL (a relative uri needs a ref)`,
    );
    assert.equal((r.resources[1]!.resource.spec as { capacity?: number }).capacity, 500);
  });

  test('several paths; the same file named twice is read once', async () => {
    const r = await loadResources([fx('folder'), fx('folder/10-channels.yaml'), fx('github-secret.yaml')]);
    assert.equal(r.resources.length, 3);
    assert.equal(r.secrets.length, 2);
    assert.equal(r.errors.length, 1);
  });

  test('a missing path is a ConfigFileError naming it', async () => {
    const missing = fx('no-such-dir/x.yaml');
    await assert.rejects(loadResources([fx('folder'), missing]), (err: unknown) => {
      assert.ok(err instanceof ConfigFileError);
      assert.equal(err.message, `${missing}: no such file or folder`);
      assert.equal(err.code, 'SLUICE_ERR_CONFIG_FILE');
      return true;
    });
  });

  describe('on disk', () => {
    let dir = '';
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'sluice-resources-'));
    });
    after(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    test('a YAML syntax error names file, document and line; the other documents still load', async () => {
      const file = join(dir, 'broken.yaml');
      await writeFile(
        file,
        `apiVersion: messaging.knative.dev/v1
kind: InMemoryChannel
metadata: {name: first}
---
apiVersion: messaging.knative.dev/v1
kind: InMemoryChannel
metadata:
  name: second
   namespace: oops
---
apiVersion: messaging.knative.dev/v1
kind: InMemoryChannel
metadata: {name: third}
`,
      );
      const r = await loadResources([file]);
      assert.deepEqual(r.resources.map((x) => x.resource.metadata.name), ['first', 'third']);
      assert.equal(r.errors.length, 1);
      const e = r.errors[0]!;
      assert.ok(e instanceof ResourceValidationError);
      assert.deepEqual(e.origin, { file, document: 2 });
      assert.equal(e.message.split('\n')[0], `${file}#2: YAML syntax error at line 8, column 9: Nested mappings are not allowed in compact mappings`);
    });

    test('duplicate keys in a mapping and alias bombs are errors, not crashes', async () => {
      const file = join(dir, 'dup.yaml');
      await writeFile(
        file,
        `apiVersion: messaging.knative.dev/v1
kind: InMemoryChannel
kind: Subscription
metadata: {name: x}
---
a: &a [x, x, x, x, x, x, x, x, x, x]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
`,
      );
      const r = await loadResources([file]);
      assert.equal(r.resources.length, 0);
      assert.equal(r.errors.length, 2);
      assert.equal(r.errors[0]!.message, `${file}#1: YAML syntax error at line 3, column 1: Map keys must be unique`);
      assert.match(r.errors[1]!.message, /#2: YAML could not be read: .*alias/i);
    });

    test('a symlink loop in a folder does not hang; .yml and .YAML are read', async () => {
      const root = join(dir, 'tree');
      await mkdir(join(root, 'sub'), { recursive: true });
      await symlink(root, join(root, 'sub', 'loop'));
      await writeFile(join(root, 'a.YAML'), 'apiVersion: messaging.knative.dev/v1\nkind: InMemoryChannel\nmetadata: {name: a}\n');
      await writeFile(join(root, 'sub', 'b.yml'), 'apiVersion: messaging.knative.dev/v1\nkind: InMemoryChannel\nmetadata: {name: b}\n');
      const r = await loadResources([root]);
      assert.deepEqual(r.resources.map((x) => x.resource.metadata.name), ['a', 'b']);
      assert.deepEqual(r.errors, []);
    });

    test('an explicitly named file is read whatever its extension; an empty file yields nothing', async () => {
      const named = join(dir, 'channel.conf');
      const empty = join(dir, 'empty.yaml');
      await writeFile(named, '\uFEFFapiVersion: messaging.knative.dev/v1\nkind: InMemoryChannel\nmetadata: {name: conf}\n');
      await writeFile(empty, '# nothing here yet\n');
      const r = await loadResources([named, empty]);
      assert.deepEqual(r.resources.map((x) => x.resource.metadata.name), ['conf']);
      assert.deepEqual(r.errors, []);
    });
  });
});

describe('duplicates', () => {
  test('the same kind/namespace/name twice in one load is an error naming both origins; the first is kept', async () => {
    const a = fx('imc-subscription.yaml');
    const r = parseResourcesText(
      `apiVersion: messaging.knative.dev/v1
kind: InMemoryChannel
metadata: {name: orders, namespace: shop}
spec: {capacity: 10}
---
apiVersion: messaging.knative.dev/v1
kind: Channel
metadata: {name: orders, namespace: shop}
---
apiVersion: messaging.knative.dev/v1
kind: InMemoryChannel
metadata: {name: orders, namespace: shop}
`,
      'config/channels.yaml',
    );
    // A Channel and an InMemoryChannel of the same name are different resources here
    // (the runtime reports the address clash as a status).
    assert.deepEqual(r.resources.map((x) => `${x.resource.kind} ${x.resource.metadata.name} ${x.origin?.document}`), ['InMemoryChannel orders 1', 'Channel orders 2']);
    assert.equal(r.errors.length, 1);
    assert.equal(r.errors[0]!.message, 'config/channels.yaml#3 InMemoryChannel shop/orders: duplicate: already defined in config/channels.yaml#1');

    const across = await loadResources([a, a.replace('imc-subscription', 'kubectl-output')]);
    assert.equal(
      across.errors[0]!.message,
      `${fx('kubectl-output.yaml')}#1 Subscription default/my-subscription: duplicate: already defined in ${a}#2`,
    );
  });

  test('Secrets are checked for duplicates too', () => {
    const s = 'apiVersion: v1\nkind: Secret\nmetadata: {name: tok}\nstringData: {t: x}\n';
    const r = parseResourcesText(`${s}---\n${s}`, 's.yaml');
    assert.equal(r.secrets.length, 1);
    assert.equal(r.errors[0]!.message, 's.yaml#2 Secret default/tok: duplicate: already defined in s.yaml#1');
  });
});
