// Baseline for the NATS JetStream channel: a minimal fastify server that publishes each
// request straight to JetStream (awaiting the PubAck, msgID = ce-id for dedup, as the
// channel does) and answers 202, plus a raw pull consumer that forwards each message to
// the sink with undici and acks on 2xx. JetStream without Sluice, behind the same HTTP load.
// argv: port sinkUrl natsUrl
import { URL } from 'node:url';
import Fastify from 'fastify';
import { Pool } from 'undici';
import { connect, headers as natsHeaders } from '@nats-io/transport-node';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';

const [port, sinkUrl, natsUrl] = [Number(process.argv[2]), process.argv[3], process.argv[4]];
const STREAM = 'BENCH_RAW';
const SUBJECT = 'bench.raw';
const nc = await connect({ servers: natsUrl });
const jsm = await jetstreamManager(nc);
await jsm.streams.delete(STREAM).catch(() => undefined);
await jsm.streams.add({ name: STREAM, subjects: [SUBJECT] });
await jsm.consumers.add(STREAM, { durable_name: 'raw', ack_policy: AckPolicy.Explicit, max_ack_pending: 100 });
const js = jetstream(nc);

const pool = new Pool(new URL(sinkUrl).origin, { connections: 100 });
const path = new URL(sinkUrl).pathname;
const consumer = await js.consumers.get(STREAM, 'raw');
const messages = await consumer.consume({ max_messages: 100 });
(async () => {
  for await (const m of messages) {
    void (async () => {
      const h = {};
      for (const [k, v] of m.headers ?? []) h[k] = v[0];
      try {
        const res = await pool.request({ method: 'POST', path, headers: h, body: m.data });
        await res.body.dump();
        if (res.statusCode < 300) m.ack();
        else m.nak();
      } catch {
        m.nak();
      }
    })();
  }
})();

const app = Fastify({ logger: false });
app.removeAllContentTypeParsers();
app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
app.post('/*', async (req, reply) => {
  const h = natsHeaders();
  for (const [k, v] of Object.entries(req.headers)) if (k.startsWith('ce-') || k === 'content-type') h.set(k, String(v));
  await js.publish(SUBJECT, req.body, { msgID: String(req.headers['ce-id']), headers: h });
  return reply.code(202).send();
});
await app.listen({ port, host: '127.0.0.1' });
console.log('raw jetstream ready');
process.on('SIGTERM', async () => {
  await app.close();
  messages.stop();
  await jsm.streams.delete(STREAM).catch(() => undefined);
  await nc.close();
  process.exit(0);
});
