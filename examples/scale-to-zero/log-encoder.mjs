#!/usr/bin/env node
// A "log encoder" service for the scale-to-zero example: it receives CloudEvents whose
// data is one or more log lines (text, or JSON {"line": "..."} / {"lines": [...]}),
// encodes each line as a JSON-lines record {seq, level, base64}, and answers with a
// reply CloudEvent (binary mode) of type dev.sluice.example.log.encoded.
// It listens on $PORT, as Knative (and Sluice's activator) tells it to, and answers
// /healthz once it is ready. No dependencies: plain node.
import { createServer } from 'node:http';
import { randomUUID } from 'node:crypto';

const port = Number(process.env.PORT ?? 8080);
const startedAt = Date.now();
let seq = 0;

function linesOf(contentType, body) {
  const text = body.toString('utf8');
  if (contentType.includes('json')) {
    try {
      const v = JSON.parse(text);
      if (typeof v === 'string') return [v];
      if (Array.isArray(v?.lines)) return v.lines.map(String);
      if (typeof v?.line === 'string') return [v.line];
      return [JSON.stringify(v)];
    } catch {
      // not JSON after all: treat as text
    }
  }
  return text.split(/\r?\n/).filter((l) => l.length > 0);
}

function levelOf(line) {
  const m = /\b(TRACE|DEBUG|INFO|WARN(?:ING)?|ERROR|FATAL)\b/i.exec(line);
  return m ? m[1].toUpperCase().replace('WARNING', 'WARN') : 'INFO';
}

const server = createServer((req, res) => {
  if (req.url === '/healthz') {
    res.statusCode = 200;
    return res.end('ok');
  }
  if (req.method !== 'POST') {
    res.statusCode = 405;
    res.setHeader('allow', 'POST');
    return res.end();
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const contentType = String(req.headers['content-type'] ?? 'text/plain');
    const lines = linesOf(contentType, Buffer.concat(chunks));
    const records = lines.map((line) => JSON.stringify({ seq: ++seq, level: levelOf(line), base64: Buffer.from(line).toString('base64') }));
    console.log(`encoded ${records.length} line(s) from event ${req.headers['ce-id'] ?? '(no id)'}`);
    // Binary-mode CloudEvent reply: Sluice routes it to the Subscription's reply.
    res.writeHead(200, {
      'ce-specversion': '1.0',
      'ce-id': randomUUID(),
      'ce-source': `/services/${process.env.K_SERVICE ?? 'log-encoder'}`,
      'ce-type': 'dev.sluice.example.log.encoded',
      ...(req.headers['ce-id'] ? { 'ce-subject': String(req.headers['ce-id']) } : {}),
      'content-type': 'application/x-ndjson',
    });
    res.end(records.join('\n') + '\n');
  });
});

server.listen(port, () => console.log(`log-encoder listening on ${port} (started in ${Date.now() - startedAt} ms)`));
process.on('SIGTERM', () => {
  console.log('log-encoder stopping (SIGTERM)');
  server.close(() => process.exit(0));
  server.closeIdleConnections();
});
