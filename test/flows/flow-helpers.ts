import type { ServerResponse } from 'node:http';
import { startSink, type ReceivedRequest, type RecordingSink, type SinkResponder } from '../helpers/sink.js';
import { startSluice } from '../helpers/sluice.js';

export type Sluice = Awaited<ReturnType<typeof startSluice>>;

export interface Status {
  conditions?: Array<{ type: string; status: string; reason?: string; message?: string }>;
  address?: { url: string };
  [key: string]: unknown;
}

/** Starts sinks and Sluice servers, and closes them all in `close()`. */
export class Fixture {
  readonly sinks: RecordingSink[] = [];
  readonly servers: Sluice[] = [];

  async sink(responder?: SinkResponder): Promise<RecordingSink> {
    const s = await startSink(responder);
    this.sinks.push(s);
    return s;
  }

  async sluice(yaml: string): Promise<Sluice> {
    const s = await startSluice(yaml);
    this.servers.push(s);
    return s;
  }

  async close(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.close()));
    await Promise.all(this.sinks.map((s) => s.close()));
  }
}

/** The JSON data of a binary-mode request. */
export function dataOf(req: ReceivedRequest): { steps?: string[]; n?: number } {
  return req.body.length ? (JSON.parse(req.body.toString()) as { steps?: string[] }) : {};
}

/** Answers 200 with the event it got (binary mode), `step` appended to `data.steps`. */
export function appendStep(step: string): SinkResponder {
  return (req, res) => {
    const data = dataOf(req);
    reply(res, req, { ...data, steps: [...(data.steps ?? []), step] });
  };
}

/** Answers 200 with an event: the request's attributes, the given data. */
export function reply(res: ServerResponse, req: ReceivedRequest, data: unknown): void {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  for (const [k, v] of Object.entries(req.headers)) if (k.startsWith('ce-') && typeof v === 'string' && !k.startsWith('ce-knative')) headers[k] = v;
  res.writeHead(200, headers);
  res.end(JSON.stringify(data));
}

/** POSTs a binary-mode CloudEvent; resolves to the HTTP status. */
export async function send(url: string, id: string, data: unknown = {}, type = 'dev.test'): Promise<number> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'ce-specversion': '1.0', 'ce-id': id, 'ce-source': '/test', 'ce-type': type, 'content-type': 'application/json' },
    body: JSON.stringify(data),
  });
  await res.arrayBuffer();
  return res.status;
}

export async function statusOf(s: Sluice, kind: string, name: string, ns = 'default'): Promise<Status | undefined> {
  const res = await fetch(`${s.adminUrl}/api/v1/resources/${kind}/${ns}/${name}`);
  return res.status === 200 ? ((await res.json()) as { status?: Status }).status : undefined;
}

export function readyOf(st: Status | undefined): { status: string; reason?: string; message?: string } | undefined {
  return st?.conditions?.find((c) => c.type === 'Ready');
}
