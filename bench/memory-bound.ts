/**
 * Memory bound benchmark (issue 10, item 4): how much memory an InMemoryChannel at its
 * default bounds costs. A subscriber that never answers, 1 MiB events sent until the
 * channel answers 429; the Sluice process's RSS is read before (idle, after a warm-up
 * with the same events delivered) and once the channel is full. The baseline is the
 * idle RSS of the same process in the same run; the figure is the growth against what
 * the channel says it holds.
 */
import { createServer, type Server } from 'node:http';
import { readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { freePort, median, spawnUntil, stop, SLUICE_BIN } from './lib/processes.js';

const MiB = 1024 * 1024;

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

async function metric(adminUrl: string, name: string): Promise<number> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  // Summed over the series (one per channel).
  return text
    .split('\n')
    .filter((l) => l.startsWith(name + ' ') || l.startsWith(name + '{'))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

async function send(url: string, id: string, body: Buffer): Promise<number> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'ce-specversion': '1.0', 'ce-id': id, 'ce-source': '/bench', 'ce-type': 'bench.big', 'content-type': 'application/octet-stream' },
    body,
  });
  await res.arrayBuffer();
  return res.status;
}

export async function benchMemoryBound(options: { rounds?: number; eventBytes?: number } = {}) {
  const rounds = options.rounds ?? 3;
  const size = options.eventBytes ?? MiB - 4096;
  const body = Buffer.alloc(size, 7);
  // The subscriber: `/ok` answers at once (warm-up), anything else hangs until the end.
  const hung: Array<() => void> = [];
  const sink: Server = createServer((req, res) => {
    req.resume();
    if (req.url === '/ok') return req.on('end', () => res.writeHead(202).end());
    hung.push(() => res.destroy());
  });
  await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
  const sinkUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}/`;
  const runs: Array<Record<string, number>> = [];
  try {
    for (let round = 0; round < rounds; round++) {
      const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-mem-'));
      // Defaults on purpose: no capacity or capacityBytes in the spec.
      writeFileSync(
        join(dir, 'mem.yaml'),
        ['warm', 'full']
          .map(
            (name) => `---
apiVersion: messaging.knative.dev/v1
kind: InMemoryChannel
metadata: {name: ${name}}
---
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata: {name: ${name}-sub}
spec:
  channel: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: ${name}}
  subscriber: {uri: "${sinkUrl}${name === 'warm' ? 'ok' : 'hang'}"}
  delivery: {timeout: PT300S, retry: 0}
`,
          )
          .join(''),
      );
      const port = await freePort();
      const adminPort = await freePort();
      const adminUrl = `http://127.0.0.1:${adminPort}`;
      const sluice = await spawnUntil(
        [...SLUICE_BIN, 'start', '-f', dir, '--port', String(port), '--admin-port', String(adminPort), '--log-level', 'error', '--log-format', 'json', '--max-body', '2MiB', '--data-dir', join(dir, 'data')],
        async () => (await fetch(`${adminUrl}/readyz`)).ok,
      );
      try {
        // Warm-up: the same events through a channel whose subscriber answers, so the idle
        // figure includes buffers, JIT and pools that any traffic brings.
        for (let i = 0; i < 64; i++) await send(`http://127.0.0.1:${port}/channels/default/warm`, `w${i}`, body);
        await new Promise((r) => setTimeout(r, 500));
        global.gc?.();
        const idle = rssBytes(sluice.pid!);
        let accepted = 0;
        let refused = 0;
        for (let i = 0; refused < 20 && i < 20_000; i++) {
          const status = await send(`http://127.0.0.1:${port}/channels/default/full`, `e${i}`, body);
          if (status === 202) accepted++;
          else if (status === 429) refused++;
          else throw new Error(`unexpected status ${status}`);
        }
        await new Promise((r) => setTimeout(r, 500));
        const full = rssBytes(sluice.pid!);
        const held = await metric(adminUrl, 'sluice_channel_buffered_bytes');
        runs.push({ idleMiB: idle / MiB, fullMiB: full / MiB, growthMiB: (full - idle) / MiB, accepted, heldMiB: held / MiB, growthPerHeldByte: (full - idle) / held });
      } finally {
        for (const h of hung.splice(0)) h();
        await stop(sluice);
        rmSync(dir, { recursive: true, force: true });
      }
    }
  } finally {
    await new Promise<void>((r) => sink.close(() => r()));
  }
  const m = (k: string) => median(runs.map((r) => r[k]!));
  return {
    name: 'memory-bound',
    eventBytes: size,
    rounds,
    defaults: { capacity: 10_000, capacityBytes: '64 MiB' },
    median: { idleRssMiB: m('idleMiB'), fullRssMiB: m('fullMiB'), growthMiB: m('growthMiB'), accepted: m('accepted'), heldMiB: m('heldMiB'), growthPerHeldByte: m('growthPerHeldByte') },
    runs,
  };
}
