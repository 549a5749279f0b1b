/**
 * Attributes a V8 CPU profile (`node --cpu-prof`) of Sluice under the channel load to
 * the stages of the event path: each sample goes to the stage of its innermost frame.
 * Idle time and module loading (start-up) are left out, so shares are of the busy time.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
}

/** The stages the README's table names, in its order. */
export const STAGES = [
  'socket writes (the 202 and the POST to the subscriber: syscalls)',
  'HTTP post (request headers, undici)',
  'node HTTP parsing, streams, timers, event loop',
  'ingress HTTP (fast path, fastify, connection governor)',
  'garbage collection',
  'dispatch (dispatcher, channel queues, pacing)',
  'publish (routing, auth, accept, channel)',
  'parse (ce- headers, attribute checks)',
  'tracing (ids, `traceparent`)',
  'metrics',
  'inspector and dead-letter observers',
] as const;
export type Stage = (typeof STAGES)[number];

function stageOf(frame: ProfileNode['callFrame']): Stage | undefined {
  const f = frame.functionName;
  const u = frame.url;
  if (f === '(idle)') return undefined;
  if (f === '(garbage collector)') return 'garbage collection';
  if (/^(writeLatin1String|writev|writeBuffer|writeUtf8String|writeAsciiString)$/.test(f)) return STAGES[0];
  if (u.includes('node_modules/undici') || /dispatcher\/(http-post|post-handler)\./.test(u)) return STAGES[1];
  if (/node_modules\/(fastify|find-my-way|@fastify)/.test(u) || /server\/(event-fast-path|accepted-answers|connection-governor|ingress|event-target|reply-error)\./.test(u)) return STAGES[3];
  if (/dispatcher\/(dispatcher|local-delivery)\.|channels\/memory\//.test(u)) return STAGES[5];
  if (/server\/(accept-events|sluice-server|ingress-auth|bearer-token)\.|runtime\//.test(u)) return STAGES[6];
  if (/events\/(parse-http|attributes|binary|media-type|structured|percent-encoding)\./.test(u)) return STAGES[7];
  if (/observability\/(trace-context|tracing|trace-hops)\.|events\/trace-context\.|trace-hops\./.test(u) || f === 'hexSlice' || f === 'randomFillSync') return STAGES[8];
  if (u.includes('node_modules/prom-client') || /observability\/(metrics|tallied-histogram)\./.test(u)) return STAGES[9];
  if (/\/(inspector|deadletters)\//.test(u)) return STAGES[10];
  return STAGES[2];
}

const STARTUP = /node:internal\/modules\/|node:internal\/deps\/cjs-module-lexer/;
const STARTUP_FUNCTIONS = /^(compileSourceTextModule|wrapSafe|internalModuleStat|readFileUtf8)$/;

/** Samples per stage of the busy, non-start-up time. */
export function stageSamples(file: string): Map<Stage, number> {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const startup = new Map<number, boolean>();
  const isStartup = (id: number): boolean => {
    const known = startup.get(id);
    if (known !== undefined) return known;
    const n = byId.get(id)!;
    const own = STARTUP.test(n.callFrame.url) || STARTUP_FUNCTIONS.test(n.callFrame.functionName);
    const up = parent.get(id);
    const r = own || (up !== undefined && isStartup(up));
    startup.set(id, r);
    return r;
  };
  const counts = new Map<number, number>();
  for (const s of p.samples) counts.set(s, (counts.get(s) ?? 0) + 1);
  const out = new Map<Stage, number>();
  for (const [id, c] of counts) {
    const stage = stageOf(byId.get(id)!.callFrame);
    if (!stage || isStartup(id)) continue;
    out.set(stage, (out.get(stage) ?? 0) + c);
  }
  return out;
}
