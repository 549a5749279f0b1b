import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { SluiceServer, type KindDefinition, type ReconciledKind, type ReconcileContext, type Reconciler } from '../../src/index.js';
import { silentLogger } from '../../src/observability/logger.js';
import { readyStatus } from '../../src/resources/status.js';
import { waitUntil } from '../helpers/sluice.js';

// A kind brings its own reconciler in its module: the server adds it, and the kind is
// accepted everywhere the server takes resources (admin API, kinds listing, aliases).
interface GreetingSpec {
  message: string;
}

const greetingDefinition: KindDefinition<GreetingSpec> = {
  apiVersion: 'example.sluice.dev/v1alpha1',
  kind: 'Greeting',
  shortNames: ['greet'],
  spec: z.strictObject({ message: z.string().min(1) }),
};

function greetingKind(seen: string[]): ReconciledKind<GreetingSpec> {
  return {
    definition: greetingDefinition,
    reconciler: (): Reconciler => ({
      phase: 'consumer',
      async reconcile(ctx: ReconcileContext) {
        for (const { resource } of ctx.list<GreetingSpec>('Greeting')) {
          seen.push(resource.spec.message);
          ctx.setStatus(resource, readyStatus(true, 'Greeted', `said ${JSON.stringify(resource.spec.message)}`));
        }
      },
    }),
  };
}

test('an extra kind with its own reconciler: applied through the admin API, reconciled, listed with its short name', async () => {
  const seen: string[] = [];
  const server = new SluiceServer({ logger: silentLogger(), port: 0, adminPort: 0, host: '127.0.0.1', kinds: [greetingKind(seen)] });
  await server.listen();
  try {
    const post = await fetch(`${server.adminUrl}/api/v1/resources`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ apiVersion: 'example.sluice.dev/v1alpha1', kind: 'Greeting', metadata: { name: 'hi' }, spec: { message: 'hello' } }),
    });
    assert.equal(post.status, 200, await post.text());
    await waitUntil(() => seen.includes('hello'), 5000, 'the reconciler to run');
    const res = await fetch(`${server.adminUrl}/api/v1/resources/greet/default/hi`);
    assert.equal(res.status, 200);
    const view = (await res.json()) as { status: { conditions: Array<{ type: string; status: string; reason: string; message: string }> } };
    const ready = view.status.conditions.find((c) => c.type === 'Ready');
    assert.deepEqual([ready?.status, ready?.reason, ready?.message], ['True', 'Greeted', 'said "hello"']);
    const kinds = (await (await fetch(`${server.adminUrl}/api/v1/kinds`)).json()) as { items: Array<{ kind: string; aliases: string[] }> };
    assert.deepEqual(kinds.items.find((k) => k.kind === 'Greeting')?.aliases, ['greeting', 'greetings', 'greet']);
    // The spec is validated by the kind's own schema.
    const bad = await fetch(`${server.adminUrl}/api/v1/resources`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ apiVersion: 'example.sluice.dev/v1alpha1', kind: 'Greeting', metadata: { name: 'bad' }, spec: { message: '' } }),
    });
    assert.equal(bad.status, 400);
  } finally {
    await server.close();
  }
});
