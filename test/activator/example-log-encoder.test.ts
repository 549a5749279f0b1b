import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { CloudEvent, HTTP } from 'cloudevents';
import { request } from 'undici';
import { Activator, serviceConfigFrom } from '../../src/activator/index.js';
import { silentLogger } from '../../src/observability/logger.js';
import type { Resource } from '../../src/resources/types.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

test('examples/scale-to-zero: the Service from the YAML cold-starts and answers with an encoded CloudEvent', async () => {
  const docs = parseAllDocuments(readFileSync(`${root}examples/scale-to-zero/scale-to-zero.yaml`, 'utf8')).map((d) => d.toJS() as Resource<unknown>);
  const svcDoc = docs.find((d) => d.kind === 'Service')!;
  const config = serviceConfigFrom(svcDoc);
  assert.equal(config.autoscale.initialScale, 0);
  const activator = new Activator({ logger: silentLogger(), process: { baseDir: root } });
  try {
    // `workingDir: .` is the YAML file's folder (as the ServiceReconciler resolves it).
    assert.equal(config.container.workingDir, '.');
    await activator.apply({ ...config, container: { ...config.container, workingDir: `${root}examples/scale-to-zero` } });
    const lease = await activator.resolver('default/log-encoder').acquire(new AbortController().signal);
    const event = new CloudEvent({ id: 'log-1', source: '/my/app', type: 'dev.example.log', datacontenttype: 'text/plain', data: 'INFO started\nERROR disk full' });
    const msg = HTTP.binary(event);
    const res = await request(lease.url, { method: 'POST', headers: msg.headers as Record<string, string>, body: msg.body as string });
    const body = await res.body.text();
    lease.release();
    assert.equal(res.statusCode, 200);
    const reply = HTTP.toEvent({ headers: res.headers as Record<string, string>, body }) as CloudEvent<string>;
    assert.equal(reply.type, 'dev.sluice.example.log.encoded');
    assert.equal(reply.subject, 'log-1');
    const records = body.trim().split('\n').map((l) => JSON.parse(l) as { level: string; base64: string });
    assert.deepEqual(records.map((r) => [r.level, Buffer.from(r.base64, 'base64').toString()]), [
      ['INFO', 'INFO started'],
      ['ERROR', 'ERROR disk full'],
    ]);
  } finally {
    await activator.close();
  }
});
