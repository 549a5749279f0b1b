import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { InvalidOptionError } from '../../src/errors.js';
import {
  createCoreKinds,
  destinationSchema,
  defaultDestinationNamespace,
  loadResources,
  parseResourcesText,
  ResourceKindRegistry,
  type Destination,
  type KindDefinition,
} from '../../src/resources/index.js';

// A later feature's kind, written the way such a feature would: one definition reusing
// the shared sub-schemas, one register() line.
interface PingLikeSpec {
  schedule: string;
  data?: string;
  sink: Destination;
}
const pingLikeKind: KindDefinition<PingLikeSpec> = {
  apiVersion: ['sources.knative.dev/v1', 'sources.knative.dev/v1beta2'],
  kind: 'PingSource',
  spec: z.strictObject({ schedule: z.string().default('* * * * *'), data: z.string().optional(), dataBase64: z.string().optional(), sink: destinationSchema }),
  defaults(r) {
    defaultDestinationNamespace(r.spec.sink, r.metadata.namespace);
  },
  validate(r) {
    const spec = r.spec as PingLikeSpec & { dataBase64?: string };
    return spec.data !== undefined && spec.dataBase64 !== undefined ? [{ path: 'spec.dataBase64', message: 'set data or dataBase64, not both' }] : [];
  },
};

describe('ResourceKindRegistry', () => {
  test('a feature adds a kind with one registration line; several apiVersions are accepted and kept', () => {
    const registry = createCoreKinds().register(pingLikeKind);
    const r = parseResourcesText(
      `apiVersion: sources.knative.dev/v1
kind: PingSource
metadata: {name: every-minute, namespace: jobs}
spec:
  sink: {ref: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: ticks}}
---
apiVersion: sources.knative.dev/v1beta2
kind: PingSource
metadata: {name: old-style}
spec: {schedule: "*/5 * * * *", sink: {uri: "http://x/"}}
---
apiVersion: sources.knative.dev/v1
kind: PingSource
metadata: {name: both}
spec: {data: a, dataBase64: YQ==, sink: {uri: "http://x/"}}
---
apiVersion: sources.knative.dev/v1
kind: ApiServerSource
metadata: {name: k}
`,
      'ping.yaml',
      { registry },
    );
    assert.deepEqual(r.resources[0]!.resource.spec, {
      schedule: '* * * * *',
      sink: { ref: { apiVersion: 'messaging.knative.dev/v1', kind: 'InMemoryChannel', name: 'ticks', namespace: 'jobs' } },
    });
    assert.equal(r.resources[1]!.resource.apiVersion, 'sources.knative.dev/v1beta2');
    assert.deepEqual(
      r.errors.map((e) => e.message),
      [
        'ping.yaml#3 PingSource default/both: spec.dataBase64: set data or dataBase64, not both',
        'ping.yaml#4 ApiServerSource default/k: kind: unknown kind "ApiServerSource" for sources.knative.dev/v1; supported kinds in sources.knative.dev: PingSource',
      ],
    );
    // The default registry does not know the feature's kind.
    assert.match(parseResourcesText('apiVersion: sources.knative.dev/v1\nkind: PingSource\nmetadata: {name: p}\n', 'p.yaml').errors[0]!.message, /unknown apiVersion "sources.knative.dev\/v1"/);
  });

  test('introspection and misuse', () => {
    const registry = createCoreKinds();
    assert.deepEqual(registry.kindsInGroup('messaging.knative.dev'), ['Channel', 'InMemoryChannel', 'Subscription']);
    assert.deepEqual(registry.apiVersions(), ['messaging.knative.dev/v1', 'v1']);
    assert.ok(registry.has('v1', 'Secret'));
    assert.equal(registry.get('messaging.knative.dev/v1', 'Broker'), undefined);
    assert.throws(() => registry.register({ apiVersion: 'messaging.knative.dev/v1', kind: 'Channel', spec: z.strictObject({}) }), InvalidOptionError);
    assert.throws(() => new ResourceKindRegistry().register({ apiVersion: [], kind: 'X', spec: z.strictObject({}) }), InvalidOptionError);
  });

  test('a kind whose rules throw yields an error, not a crash', () => {
    const registry = new ResourceKindRegistry().register({
      apiVersion: 'example.dev/v1',
      kind: 'Fragile',
      spec: z.strictObject({}),
      validate() {
        throw new Error('boom');
      },
    });
    const r = parseResourcesText('apiVersion: example.dev/v1\nkind: Fragile\nmetadata: {name: f}\n', 'f.yaml', { registry });
    assert.equal(r.errors[0]!.message, 'f.yaml#1 Fragile default/f: could not validate Fragile: boom');
  });

  test('a bad defaultChannelTemplate option is refused when loading starts', async () => {
    await assert.rejects(loadResources([], { defaultChannelTemplate: { apiVersion: '', kind: 'X' } }), InvalidOptionError);
    assert.throws(() => parseResourcesText('', 'x.yaml', { defaultChannelTemplate: { apiVersion: 'messaging.knative.dev/v1', kind: 'Channel' } }), InvalidOptionError);
  });
});

describe('v1 Secret', () => {
  test('data is base64-decoded, stringData wins, type defaults to Opaque', async () => {
    const r = await loadResources([fileURLToPath(new URL('./fixtures/github-secret.yaml', import.meta.url))]);
    assert.deepEqual(r.errors, []);
    assert.equal(r.resources.length, 0, 'Secrets are kept apart from reconciled resources');
    const [gh, hmac] = r.secrets;
    assert.deepEqual(gh!.metadata, { name: 'githubsecret', namespace: 'default' });
    assert.equal(gh!.type, 'Opaque');
    assert.equal(gh!.data.accessToken!.toString(), 'personal_access_token_value');
    assert.equal(gh!.data.secretToken!.toString(), 'asdfasfdsaf');
    assert.equal(hmac!.metadata.namespace, 'shop');
    assert.equal(hmac!.data.secretToken!.toString(), 'from-string-data');
    assert.equal(hmac!.data.longToken!.toString(), 'a'.repeat(63));
    assert.ok(Buffer.isBuffer(hmac!.data.longToken));
  });

  test('invalid base64, bad keys and non-string values are errors that never echo the value', () => {
    const r = parseResourcesText(
      `apiVersion: v1
kind: Secret
metadata: {name: tokens}
type: kubernetes.io/basic-auth
data:
  password: "hunter2!"
  short: "YQ="
  "bad key": YQ==
stringData:
  pin: 123456
immutable: yes
`,
      'secret.yaml',
    );
    assert.deepEqual(r.secrets, []);
    const lines = r.errors[0]!.message.split('\n');
    assert.deepEqual(lines, [
      'secret.yaml#1 Secret default/tokens: data.password: value is not valid base64 (use stringData for plain text)',
      'secret.yaml#1 Secret default/tokens: data.short: value is not valid base64 (use stringData for plain text)',
      `secret.yaml#1 Secret default/tokens: data["bad key"]: key: "bad key" is not a valid key: use letters, digits, '-', '_' and '.'`,
      'secret.yaml#1 Secret default/tokens: stringData.pin: expected string, got number (quote the value)',
      'secret.yaml#1 Secret default/tokens: immutable: expected boolean, got string "yes"',
    ]);
    assert.ok(!r.errors[0]!.message.includes('hunter2') && !r.errors[0]!.message.includes('123456'));
  });

  test('a kept type and an empty Secret', () => {
    const r = parseResourcesText('apiVersion: v1\nkind: Secret\nmetadata: {name: e}\ntype: kubernetes.io/tls\n', 's.yaml');
    assert.deepEqual(r.secrets, [{ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'e', namespace: 'default' }, data: {}, type: 'kubernetes.io/tls' }]);
  });
});
