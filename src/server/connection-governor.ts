import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** A connection younger than this in its current phase is never evicted for a newcomer. */
const DEFAULT_MIN_PHASE_MS = 1000;

interface Phase {
  /** When the connection's current phase began: connected, request started, or last response sent. */
  since: number;
  /** The request in progress; once it has arrived whole it is being worked on and never evicted. */
  req: IncomingMessage | undefined;
}

/**
 * Caps the ingress's open connections without letting slow clients lock everyone out.
 * Node's own `maxConnections` refuses every newcomer once the cap is reached, so a
 * thousand slowloris sockets (headers or a body trickling in) would refuse every normal
 * client until their timeouts fire. Here, at the cap, the connection that has been in its
 * current phase the longest gives its place to the newcomer: a request still arriving
 * (since its connect, or since its headers), or an idle keep-alive connection (since its
 * last response). A request that has arrived whole is being worked on (e.g. a Service
 * waking from zero) and is never evicted. Only when every other connection is younger
 * than `minPhaseMs` in its phase, or working, is the newcomer refused. Normal requests
 * take milliseconds, so they are never the oldest; attackers evict each other. The scan
 * happens only at the cap.
 *
 * Returns what the server's request handler calls first for every request: a second
 * 'request' listener would make node copy its listener array on every request, and a
 * `once('finish')` closure per request would add two more objects; per request the cost
 * is now a map lookup and a field update.
 */
export function governConnections(server: Server, maxConnections: number, minPhaseMs = DEFAULT_MIN_PHASE_MS): (req: IncomingMessage, res: ServerResponse) => void {
  const phases = new Map<Socket, Phase>();
  server.on('connection', (socket: Socket) => {
    const now = Date.now();
    if (phases.size >= maxConnections) {
      let victim: Socket | undefined;
      let oldest = now - minPhaseMs;
      for (const [s, p] of phases) {
        if (p.since <= oldest && !(p.req && p.req.complete)) {
          oldest = p.since;
          victim = s;
        }
      }
      if (!victim) {
        socket.destroy();
        return;
      }
      phases.delete(victim);
      victim.destroy();
    }
    const phase: Phase = { since: now, req: undefined };
    phases.set(socket, phase);
    socket.once('close', () => phases.delete(socket));
  });
  // One listener for every response: idle (keep-alive) from its end on. node has detached
  // the socket from the response by now, but not from its request.
  function markIdle(this: ServerResponse): void {
    const phase = phases.get(this.req.socket);
    if (!phase || phase.req !== this.req) return;
    phase.since = Date.now();
    phase.req = undefined;
  }
  return (req, res) => {
    const phase = phases.get(req.socket);
    if (!phase) return;
    phase.since = Date.now();
    phase.req = req;
    res.on('finish', markIdle);
  };
}
