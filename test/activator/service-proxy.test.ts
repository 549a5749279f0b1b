import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Fastify, { type FastifyInstance } from 'fastify';
import { request } from 'undici';
import { Activator, createServiceProxy, type ServiceProxy } from '../../src/activator/index.js';
import { silentLogger } from '../../src/observability/logger.js';
import { echoService, type EchoReply } from './helpers.js';

const logger = silentLogger();

describe('createServiceProxy', () => {
  let activator: Activator;
  let app: FastifyInstance;
  let proxy: ServiceProxy;
  let base = '';
  before(async () => {
    activator = new Activator({ logger, process: { stopGraceMs: 2000 } });
    await activator.apply(echoService('echo', { env: { START_DELAY_MS: '100' } }));
    await activator.apply(echoService('stuck', { readinessPath: '/healthz', env: { READY_AFTER_MS: '600000' }, annotations: { 'activator.sluice.dev/timeout': '300ms' } }));
    proxy = createServiceProxy(
      {
        acquire: (signal) => activator.resolver(currentKey).acquire(signal),
      },
      { logger, requestTimeoutMs: 10_000 },
    );
    app = Fastify();
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    // As the lead mounts it: /services/<ns>/<name>/<rest>
    app.all('/services/:ns/:name/*', async (req, reply) => {
      const { ns, name } = req.params as { ns: string; name: string };
      currentKey = `${ns}/${name}`;
      const rest = '/' + ((req.params as { '*': string })['*'] ?? '');
      await proxy.handle(req, reply, rest);
      return reply;
    });
    base = await app.listen({ port: 0, host: '127.0.0.1' });
  });
  after(async () => {
    await app.close();
    await proxy.close();
    await activator.close();
  });
  let currentKey = '';

  test('forwards method, path, query, headers and body through a cold start', async () => {
    const res = await request(`${base}/services/default/echo/api/items?x=1&y=2`, {
      method: 'POST',
      headers: { 'x-test': 'yes', 'content-type': 'text/plain' },
      body: 'hello body',
    });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['x-replica-pid']), /^\d+$/);
    const echo = (await res.body.json()) as EchoReply;
    assert.equal(echo.method, 'POST');
    assert.equal(echo.url, '/api/items?x=1&y=2');
    assert.equal(echo.body, 'hello body');
    assert.equal(echo.header, 'yes');
    const get = await request(`${base}/services/default/echo/`);
    assert.equal(((await get.body.json()) as EchoReply).method, 'GET');
    assert.equal(activator.status()['default/echo']!.inFlight, 0, 'slots released after the responses');
  });

  test('a replica that dies mid-request gives 502; an activator timeout gives 503 with Retry-After', async () => {
    const crashed = await request(`${base}/services/default/echo/crash`, { method: 'POST', body: 'x' });
    assert.equal(crashed.statusCode, 502);
    assert.match(((await crashed.body.json()) as { error: string }).error, /replica failed/);
    const held = await request(`${base}/services/default/stuck/`);
    assert.equal(held.statusCode, 503);
    assert.equal(held.headers['retry-after'], '1');
    assert.equal(((await held.body.json()) as { reason: string }).reason, 'SLUICE_ERR_ACTIVATOR_TIMEOUT');
    assert.equal(activator.status()['default/echo']!.inFlight, 0);
  });
});
