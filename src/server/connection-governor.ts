import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** A connection younger than this in its current phase is never evicted for a newcomer. */
const DEFAULT_MIN_PHASE_MS = 1000;

/**
 * Caps the ingress's open connections without letting slow clients lock everyone out.
 * Node's own `maxConnections` refuses every newcomer once the cap is reached, so a
 * thousand slowloris sockets (headers or a body trickling in) would refuse every normal
 * client until their timeouts fire. Here, at the cap, the connection that has been in its
 * current phase the longest gives its place to the newcomer: a request still arriving
 * (since its connect, or since its headers), or an idle keep-alive connection (since its
 * last response). A request whose body has arrived is being worked on (e.g. a Service
 * waking from zero) and is never evicted. Only when every connection is younger than
 * `minPhaseMs` in its phase, or working, is the newcomer refused. Normal requests take
 * milliseconds, so they are never the oldest; attackers evict each other.
 */
export function governConnections(server: Server, maxConnections: number, minPhaseMs = DEFAULT_MIN_PHASE_MS): void {
  /** Socket -> when its current phase began; absent while a received request is being worked on. */
  const phase = new Map<Socket, number>();
  const working = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    const now = Date.now();
    socket.once('close', () => {
      phase.delete(socket);
      working.delete(socket);
    });
    if (phase.size + working.size >= maxConnections) {
      let victim: Socket | undefined;
      let oldest = now - minPhaseMs;
      for (const [s, since] of phase) {
        if (since <= oldest) {
          oldest = since;
          victim = s;
        }
      }
      if (!victim) {
        socket.destroy();
        return;
      }
      phase.delete(victim);
      victim.destroy();
    }
    phase.set(socket, now);
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    if (!phase.has(socket) && !working.has(socket)) return;
    const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
    if (hasBody) {
      phase.set(socket, Date.now());
      req.once('end', () => {
        if (!phase.delete(socket)) return;
        working.add(socket);
      });
    } else {
      // Nothing more to arrive: the request is being worked on from now.
      phase.delete(socket);
      working.add(socket);
    }
    res.once('finish', () => {
      if (!working.delete(socket) && !phase.has(socket)) return;
      // Idle (keep-alive) from now on.
      phase.set(socket, Date.now());
    });
  });
}
