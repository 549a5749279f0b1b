// The baseline: a minimal fastify server that forwards each request body and headers
// with undici to the sink and answers with the sink's status: the two HTTP hops alone.
import Fastify from 'fastify';
import { Pool } from 'undici';
import { URL } from 'node:url';

const [port, sinkUrl] = [Number(process.argv[2]), process.argv[3]];
const pool = new Pool(new URL(sinkUrl).origin, { connections: 100 });
const app = Fastify({ logger: false });
app.removeAllContentTypeParsers();
app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
app.post('/*', async (req, reply) => {
  const headers = {};
  for (const [k, v] of Object.entries(req.headers)) if (k.startsWith('ce-') || k === 'content-type') headers[k] = v;
  const res = await pool.request({ method: 'POST', path: new URL(sinkUrl).pathname, headers, body: req.body });
  await res.body.dump();
  return reply.code(res.statusCode === 202 ? 202 : res.statusCode).send();
});
await app.listen({ port, host: '127.0.0.1' });
console.log('forwarder ready');
process.on('SIGTERM', () => app.close().then(() => process.exit(0)));
