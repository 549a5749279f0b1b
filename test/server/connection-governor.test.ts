import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { governConnections } from '../../src/server/connection-governor.js';

interface RawClient {
  socket: Socket;
  received: () => string;
  closed: Promise<void>;
  isClosed: () => boolean;
}

async function rawClient(port: number, request?: string): Promise<RawClient> {
  const socket = connect(port, '127.0.0.1');
  let data = '';
  let closedYet = false;
  socket.setEncoding('latin1');
  socket.on('data', (d: string) => (data += d));
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => ((closedYet = true), resolve())));
  await once(socket, 'connect');
  if (request) socket.write(request);
  return { socket, received: () => data, closed, isClosed: () => closedYet };
}

const until = async (what: string, check: () => boolean, ms = 2000): Promise<void> => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

test('at the cap, an idle keep-alive connection makes room once idle past minPhaseMs, counted from its last response; a request being worked on never does', async () => {
  const held: ServerResponse[] = [];
  const server = createServer((req, res) => {
    governed(req, res);
    if (req.url === '/hold') held.push(res);
    else res.end('ok');
  });
  const governed = governConnections(server, 2, 300);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  const clients: RawClient[] = [];
  try {
    // A: a whole request the server is still working on.
    const working = await rawClient(port, 'GET /hold HTTP/1.1\r\nHost: x\r\n\r\n');
    clients.push(working);
    await until('the held request', () => held.length === 1);
    // B: an old connection whose request ends now: idle from its response on, not from its connect.
    const idle = await rawClient(port);
    clients.push(idle);
    await new Promise((r) => setTimeout(r, 350));
    idle.socket.write('GET /quick HTTP/1.1\r\nHost: x\r\n\r\n');
    await until('the quick response', () => idle.received().includes('ok'));

    // Idle for less than 300 ms and the other one working: the newcomer is refused.
    const early = await rawClient(port, 'GET /quick HTTP/1.1\r\nHost: x\r\n\r\n');
    clients.push(early);
    await early.closed;
    assert.equal(early.received(), '', 'the newcomer over the cap is closed unanswered');
    assert.equal(idle.isClosed(), false, 'a connection idle for less than minPhaseMs keeps its place');

    // Past 300 ms of idleness the idle one makes room; the working one never does.
    await new Promise((r) => setTimeout(r, 350));
    const late = await rawClient(port, 'GET /quick HTTP/1.1\r\nHost: x\r\n\r\n');
    clients.push(late);
    await until('the newcomer to be answered', () => late.received().includes('ok'));
    await idle.closed;
    assert.equal(working.isClosed(), false, 'the request being worked on keeps its connection');
    held[0]!.end('done');
    await until('the held response', () => working.received().includes('done'));
  } finally {
    for (const c of clients) c.socket.destroy();
    server.close();
  }
});
