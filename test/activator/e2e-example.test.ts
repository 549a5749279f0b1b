import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { CloudEvent, HTTP } from 'cloudevents';
import { request } from 'undici';
import { loadResources } from '../../src/resources/index.js';
import { createSluiceKinds } from '../../src/kinds.js';
import { SluiceServer } from '../../src/server/sluice-server.js';
import { silentLogger } from '../../src/observability/logger.js';
import { waitUntil } from '../helpers/sluice.js';

const example = fileURLToPath(new URL('../../examples/scale-to-zero/', import.meta.url));

test('examples/scale-to-zero as `sluice start -f examples/scale-to-zero/` loads it: an event wakes the encoder and its reply reaches the EventDisplay', async () => {
  const loaded = await loadResources([example], { registry: createSluiceKinds() });
  assert.deepEqual(loaded.errors, []);
  const sluice = new SluiceServer({ logger: silentLogger(), port: 0, adminPort: 0, host: '127.0.0.1', drainTimeoutMs: 2000 });
  await sluice.listen();
  try {
    await sluice.runtime.apply(loaded.resources, loaded.secrets);
    const msg = HTTP.binary(new CloudEvent({ id: 'log-1', source: '/my/app', type: 'dev.example.log', datacontenttype: 'text/plain', data: 'INFO service started\nERROR disk almost full' }));
    const res = await request(`${sluice.ingressUrl}/channels/default/logs`, { method: 'POST', headers: msg.headers as Record<string, string>, body: msg.body as string });
    await res.body.dump();
    assert.equal(res.statusCode, 202);
    let items: Array<{ attributes: Record<string, string>; data?: string }> = [];
    await waitUntil(async () => {
      const r = await fetch(`${sluice.adminUrl}/api/v1/displays/default/encoded-logs`);
      items = ((await r.json()) as { items: typeof items }).items;
      return items.length > 0;
    }, 20_000, 'the encoded reply on the EventDisplay');
    assert.equal(items[0]!.attributes.type, 'dev.sluice.example.log.encoded');
    assert.equal(items[0]!.attributes.subject, 'log-1');
    const lines = items[0]!.data!.trim().split('\n').map((l) => JSON.parse(l) as { level: string; base64: string });
    assert.deepEqual(lines.map((l) => [l.level, Buffer.from(l.base64, 'base64').toString()]), [
      ['INFO', 'INFO service started'],
      ['ERROR', 'ERROR disk almost full'],
    ]);
  } finally {
    await sluice.close();
  }
});
