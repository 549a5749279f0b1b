import type { FastifyInstance } from 'fastify';

const PROTOBUF = 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf';

/**
 * `/openapi/v2`: a Swagger 2.0 document with no definitions. kubectl before 1.27 (Debian's
 * `kubernetes-client` is 1.20) validates `apply` and `create` on the client against this
 * document, and refuses to send anything when it is missing; a kind without a definition
 * is not checked there. Sluice validates every write itself (422 naming each field), and
 * newer kubectl finds server-side validation in `/openapi/v3`. Listing no definitions also
 * keeps kubectl from building strategic merge patches for Sluice's kinds.
 *
 * kubectl reads this document only as gnostic protobuf; it is small enough to encode here.
 */
export function openApiV2Routes(version: string) {
  const json = { swagger: '2.0', info: { title: 'Sluice', version }, paths: {} };
  const protobuf = Buffer.concat([field(1, Buffer.from('2.0')), field(2, Buffer.concat([field(1, Buffer.from('Sluice')), field(2, Buffer.from(version))])), field(8, Buffer.alloc(0))]);
  return async (app: FastifyInstance): Promise<void> => {
    app.get('/openapi/v2', async (req, reply) => {
      if ((req.headers.accept ?? '').includes('protobuf')) return reply.type(PROTOBUF).send(protobuf);
      return reply.type('application/json').send(json);
    });
  };
}

/** One length-delimited protobuf field (wire type 2). */
function field(n: number, payload: Buffer): Buffer {
  return Buffer.concat([varint((n << 3) | 2), varint(payload.length), payload]);
}

function varint(value: number): Buffer {
  const out: number[] = [];
  let v = value;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return Buffer.from(out);
}
