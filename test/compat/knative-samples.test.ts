import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, stringify } from 'yaml';
import { ContainerSupport } from '../../src/container/index.js';
import { createSluiceKinds } from '../../src/kinds.js';
import { silentLogger } from '../../src/observability/logger.js';
import { parseResourcesText } from '../../src/resources/index.js';
import { resourceStatus } from '../activator/e2e-helpers.js';
import { testContainerRuntime, withHeavyContainerLock } from '../helpers/container-image.js';
import { startNatsServer } from '../helpers/nats-server.js';
import { startSluice, waitUntil } from '../helpers/sluice.js';

// A compatibility corpus: sample documents from Knative's own documentation (knative/docs,
// knative/eventing, knative-extensions/eventing-natss), copied as written into
// test/fixtures/knative-samples/ (each names its source). A Knative user should be able
// to hand them to Sluice unchanged: they must validate, and once running, every Broker,
// Trigger, source, Service, channel and Subscription among them must become Ready.

const DIR = fileURLToPath(new URL('../fixtures/knative-samples/', import.meta.url));
const FILES = readdirSync(DIR)
  .filter((f) => f.endsWith('.yaml'))
  .sort();

const text = (file: string) => readFileSync(DIR + file, 'utf8');
const parse = (yaml: string, file: string) => parseResourcesText(yaml, file, { registry: createSluiceKinds() });

test('every Knative sample document validates with Sluice\'s loader', async (t) => {
  for (const file of FILES) {
    await t.test(file, () => {
      const { errors } = parse(text(file), file);
      assert.equal(errors.length, 0, `${file}:\n${errors.map((e) => e.message).join('\n')}`);
    });
  }
});

// The kinds whose Ready condition the second test checks (ConfigMaps have none).
const CHECKED_KINDS = new Set(['Broker', 'Trigger', 'PingSource', 'Service', 'Subscription', 'InMemoryChannel', 'Channel', 'NatsJetStreamChannel', 'ContainerSource']);

// Samples that point at something outside the corpus, as the docs write them, so they
// cannot become Ready anywhere, Knative included: the Ready assertion leaves them out.
const OUTSIDE_THE_CORPUS: Record<string, string> = {
  // Its dead letter sink is a Kubernetes core Service in namespace `example-namespace`
  // (a placeholder of the docs page); Sluice has no core Services. (The ConfigMap it
  // names is checked through Broker `imc-backed`.)
  'Broker/default/configured': 'deadLetterSink is a Kubernetes core Service',
  // The docs' "custom path on a Kubernetes Service" example: a core Service subscriber.
  'Trigger/default/my-service-trigger-path': 'subscriber is a Kubernetes core Service',
  // eventing-natss's CESQL example delivers to a core Service `priority-order-processor`.
  'Trigger/default/cesql-filter-trigger': 'subscriber is a Kubernetes core Service',
  // The older ContainerSource page sinks to a core Service (the Deployment's `event-display`).
  'ContainerSource/default/test-heartbeats': 'sink is a Kubernetes core Service',
};

type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
type Condition = { type: string; status: string; reason?: string; message?: string };

/**
 * The document as this machine can run it. No image registry is reachable here, so every
 * image of a Service or ContainerSource becomes the locally built test image: its default
 * command (CMD, there is no ENTRYPOINT) is an HTTP echo server on $PORT, what a Service
 * needs. A ContainerSource runs its `/bin/emit` instead, which posts CloudEvents to
 * $K_SINK: given as `args`, which replace the image's CMD as in Kubernetes (a `command`
 * would make Sluice run it as a local process). The sample's own args were for its real
 * image.
 */
function runnableHere(doc: Doc, image: string): Doc {
  const containers: Doc[] | undefined =
    doc.kind === 'Service' && String(doc.apiVersion).startsWith('serving.knative.dev/')
      ? doc.spec?.template?.spec?.containers
      : doc.kind === 'ContainerSource'
        ? doc.spec?.template?.spec?.containers
        : undefined;
  for (const c of containers ?? []) {
    c.image = image;
    if (doc.kind === 'ContainerSource') c.args = ['/bin/emit'];
  }
  return doc;
}

// Longer than the runner's default per-test timeout (3 min): nothing is pulled (the test
// image is local), but starting a dozen replica containers can take minutes on a slow machine.
test('the Knative samples reach Ready with images run by the container runtime', { timeout: 300_000 }, async (t) => {
  const rt = await testContainerRuntime();
  if ('skip' in rt) {
    t.skip(`no container runtime: ${rt.skip}`);
    return;
  }
  // Not side by side with the flows corpus: each would queue its container starts behind the other's.
  await withHeavyContainerLock(async () => {

  // Every document, made runnable here. One that does not validate is left out (the test
  // above names it and why): the rest still gets checked, and whatever needs the missing
  // one shows up below as not Ready.
  const docs: Array<{ where: string; yaml: string; doc: Doc }> = [];
  const invalid: string[] = [];
  for (const file of FILES) {
    parseAllDocuments(text(file)).forEach((d, i) => {
      const doc = d.toJS() as Doc | null;
      if (!doc) return;
      const where = `${file}#${i + 1}`;
      const yaml = stringify(runnableHere(doc, rt.image));
      if (parse(yaml, where).errors.length > 0) invalid.push(`${where} ${doc.kind} ${doc.metadata?.name}`);
      else docs.push({ where, yaml, doc });
    });
  }

  const nats = await startNatsServer();
  t.after(() => nats.dispose());
  // Listening on every interface: replicas join the runtime's bridge network and reach
  // Sluice (K_SINK, replies) through the host; their ports are published on loopback.
  const sluice = await startSluice(docs.map((d) => d.yaml).join('---\n'), {
    host: '0.0.0.0',
    containers: new ContainerSupport({ choice: rt.cli, logger: silentLogger() }),
    nats: { servers: nats.url },
  });
  try {
    const expected = docs
      .filter(({ doc }) => CHECKED_KINDS.has(doc.kind))
      .map(({ where, doc }) => ({ where, kind: doc.kind as string, namespace: (doc.metadata?.namespace as string | undefined) ?? 'default', name: doc.metadata.name as string }))
      .filter((r) => !(`${r.kind}/${r.namespace}/${r.name}` in OUTSIDE_THE_CORPUS));

    let notReady: string[] = [];
    const check = async () => {
      const states = await Promise.all(
        expected.map(async (r) => {
          const conditions: Condition[] = await resourceStatus(sluice, r.kind, r.name, r.namespace).then(
            (st) => st?.conditions ?? [],
            (err: Error) => [{ type: 'Ready', status: 'Unknown', message: err.message }],
          );
          const ready = conditions.find((c) => c.type === 'Ready');
          return ready?.status === 'True' ? undefined : `${r.where} ${r.kind} ${r.namespace}/${r.name}: ${ready ? `${ready.status} ${ready.reason ?? ''} ${ready.message ?? ''}`.trim() : 'no Ready condition'}`;
        }),
      );
      notReady = states.filter((s): s is string => s !== undefined);
      if (notReady.length > 0) await new Promise((r) => setTimeout(r, 500));
      return notReady.length === 0;
    };
    // Replica containers of a dozen Services and the ContainerSources start in parallel.
    await waitUntil(check, 150_000, 'every sample Ready').catch(() => {});
    assert.deepEqual(notReady, [], `not Ready after 150 s:\n${notReady.join('\n')}${invalid.length ? `\n(left out as invalid: ${invalid.join('; ')})` : ''}`);
    assert.deepEqual(invalid, [], 'documents left out because they do not validate (see the test above)');
  } finally {
    await sluice.close();
  }
  });
});
