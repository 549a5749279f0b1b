// Baseline for the Redis channel: a minimal fastify server that adds each request as a
// BullMQ job (Queue.add, completed jobs removed, as the channel does) and answers 202,
// plus a BullMQ Worker (concurrency 100) that forwards each job to the sink with undici.
// BullMQ without Sluice, behind the same HTTP load. argv: port sinkUrl redisUrl
import { URL } from 'node:url';
import Fastify from 'fastify';
import { Pool } from 'undici';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';

const [port, sinkUrl, redisUrl] = [Number(process.argv[2]), process.argv[3], process.argv[4]];
const u = new URL(redisUrl);
const base = { host: u.hostname, port: Number(u.port || 6379) };
const QUEUE = 'bench-raw';
const producer = new Redis({ ...base, maxRetriesPerRequest: 1 });
const workerConn = new Redis({ ...base, maxRetriesPerRequest: null });
const queue = new Queue(QUEUE, { connection: producer, prefix: 'benchraw' });
await queue.obliterate({ force: true }).catch(() => undefined);

const pool = new Pool(new URL(sinkUrl).origin, { connections: 100 });
const path = new URL(sinkUrl).pathname;
const worker = new Worker(
  QUEUE,
  async (job) => {
    const res = await pool.request({ method: 'POST', path, headers: job.data.a, body: Buffer.from(job.data.d, 'base64') });
    await res.body.dump();
    if (res.statusCode >= 300) throw new Error(`sink answered ${res.statusCode}`);
  },
  { connection: workerConn, prefix: 'benchraw', concurrency: 100 },
);
worker.on('error', () => undefined);

const app = Fastify({ logger: false });
app.removeAllContentTypeParsers();
app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
app.post('/*', async (req, reply) => {
  const a = {};
  for (const [k, v] of Object.entries(req.headers)) if (k.startsWith('ce-') || k === 'content-type') a[k] = String(v);
  await queue.add('event', { a, d: req.body.toString('base64') }, { removeOnComplete: true, removeOnFail: true });
  return reply.code(202).send();
});
await app.listen({ port, host: '127.0.0.1' });
console.log('raw bullmq ready');
process.on('SIGTERM', async () => {
  await app.close();
  await worker.close();
  await queue.obliterate({ force: true }).catch(() => undefined);
  await queue.close();
  await producer.quit();
  await workerConn.quit();
  process.exit(0);
});
