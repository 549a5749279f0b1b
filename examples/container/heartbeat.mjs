#!/usr/bin/env node
// A heartbeat emitter for the ContainerSource examples: every INTERVAL_MS (2 s by
// default, the first one right away) it POSTs a binary-mode CloudEvent to $K_SINK, the
// address Sluice (or Knative) gives a ContainerSource or a SinkBinding subject, adding
// the extensions of $K_CE_OVERRIDES when it is set. It stops cleanly on SIGTERM (what
// Sluice sends when the source is deleted, changed or shut down). No dependencies: plain
// node, with the global fetch.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';

const sink = process.env.K_SINK;
if (!sink) {
  console.error('heartbeat: K_SINK is not set (run me as a ContainerSource or a SinkBinding subject)');
  process.exit(1);
}
const intervalMs = Number(process.env.INTERVAL_MS ?? 2000);
const message = process.env.MESSAGE ?? 'hello from a ContainerSource';
const source = process.env.CE_SOURCE ?? `/examples/heartbeat/${hostname()}/${process.pid}`;

// K_CE_OVERRIDES is {"extensions": {"name": "value", ...}}: each one becomes a ce-<name> header.
let extensions = {};
if (process.env.K_CE_OVERRIDES) {
  try {
    extensions = JSON.parse(process.env.K_CE_OVERRIDES).extensions ?? {};
  } catch (err) {
    console.error(`heartbeat: ignoring K_CE_OVERRIDES, not JSON: ${err.message}`);
  }
}

const stopping = new AbortController();
let sequence = 0;
let inFlight = Promise.resolve();
let busy = false;

async function beat() {
  const id = ++sequence;
  const headers = {
    'ce-specversion': '1.0',
    'ce-id': randomUUID(),
    'ce-source': source,
    'ce-type': 'dev.sluice.example.heartbeat',
    'ce-time': new Date().toISOString(),
    'content-type': 'application/json',
  };
  for (const [name, value] of Object.entries(extensions)) headers[`ce-${name.toLowerCase()}`] = String(value);
  try {
    const res = await fetch(sink, {
      method: 'POST',
      headers,
      body: JSON.stringify({ sequence: id, message, pid: process.pid }),
      signal: AbortSignal.any([stopping.signal, AbortSignal.timeout(5000)]),
    });
    await res.arrayBuffer();
    if (res.ok) console.log(`heartbeat #${id} sent to ${sink}: ${res.status}`);
    else console.error(`heartbeat #${id} refused by ${sink}: ${res.status}`);
  } catch (err) {
    if (!stopping.signal.aborted) console.error(`heartbeat #${id} not sent to ${sink}: ${err.cause?.message ?? err.message}`);
  }
}

console.log(`heartbeat: sending to ${sink} every ${intervalMs} ms${Object.keys(extensions).length ? ` with extensions ${JSON.stringify(extensions)}` : ''}`);
function tick() {
  if (busy) return; // the previous POST is still waiting (at most 5 s): skip this beat
  busy = true;
  inFlight = beat().finally(() => (busy = false));
}
tick();
const timer = setInterval(tick, intervalMs);

function stop(signal) {
  console.log(`heartbeat: stopping (${signal}) after ${sequence} event(s)`);
  clearInterval(timer);
  stopping.abort();
  void inFlight.finally(() => process.exit(0));
}
process.once('SIGTERM', () => stop('SIGTERM'));
process.once('SIGINT', () => stop('SIGINT'));
