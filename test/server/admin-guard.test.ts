import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSluice, waitUntil } from '../helpers/sluice.js';
import { startSink, type RecordingSink } from '../helpers/sink.js';
import type { SluiceServer } from '../../src/server/sluice-server.js';
import { InvalidOptionError } from '../../src/errors.js';
import { createAdminApp } from '../../src/server/admin.js';
import { Metrics } from '../../src/observability/metrics.js';
import { silentLogger } from '../../src/observability/logger.js';

// The admin API refuses what a web page can send it: cross-site "simple" requests
// (text/plain, no CORS preflight), foreign Origins, and DNS rebinding (a foreign Host).
// Requests go out over node:http so Host, Origin and Content-Type are exactly as a
// browser would send them.

let sluice: SluiceServer & { url: string };
let sink: RecordingSink;
let dir: string;
let port: number;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-admin-guard-'));
  sink = await startSink();
  sluice = await startSluice('');
  port = Number(new URL(sluice.adminUrl).port);
});
after(async () => {
  await sluice.close();
  await sink.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  json: { error?: string; reason?: string; items?: Array<Record<string, unknown>> };
}

/** One raw HTTP request to the admin port; `host` replaces the Host header (DNS rebinding). */
function send(method: string, path: string, headers: Record<string, string> = {}, body?: string, streamFirstChunkOnly = false): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers: { ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}), ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      const done = () => {
        let json = {};
        try {
          json = text ? JSON.parse(text) : {};
        } catch {
          // not JSON (the page, an event stream)
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, json });
      };
      if (streamFirstChunkOnly && res.statusCode === 200) {
        // An event stream never ends: its headers are the answer.
        req.destroy();
        done();
        return;
      }
      res.on('data', (c: string) => (text += c));
      res.on('end', done);
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

const own = () => `http://127.0.0.1:${port}`;

function containerSource(name: string, marker: string): string {
  return `apiVersion: sources.knative.dev/v1
kind: ContainerSource
metadata: {name: ${name}}
spec:
  template:
    spec:
      containers:
        - name: pwn
          command: ["sh", "-c", "touch ${marker} && exec sleep 30"]
  sink:
    uri: ${sink.url}
`;
}

async function resourceNames(): Promise<string[]> {
  const r = await send('GET', '/api/v1/resources');
  assert.equal(r.status, 200, r.body);
  return (r.json.items ?? []).map((i) => `${i.kind}/${(i.metadata as { name: string }).name}`);
}

/** A marker file must not appear within a bounded wait (a started process would create it at once). */
async function assertNoMarker(marker: string): Promise<void> {
  const until = Date.now() + 1500;
  while (Date.now() < until) {
    assert.equal(existsSync(marker), false, `${marker} was created: the command ran`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('a cross-site simple request (text/plain, foreign Origin) cannot apply a ContainerSource: 403, nothing applied, nothing run', async () => {
  const marker = join(dir, 'cross-site');
  const r = await send('POST', '/api/v1/resources', { 'content-type': 'text/plain', origin: 'http://evil.example' }, containerSource('pwn', marker));
  assert.equal(r.status, 403, r.body);
  assert.equal(r.json.reason, 'SLUICE_ERR_FORBIDDEN_ORIGIN');
  assert.match(r.json.error!, /Origin "http:\/\/evil\.example"/);
  assert.ok(!(await resourceNames()).includes('ContainerSource/pwn'));
  await assertNoMarker(marker);
});

test('text/plain and other non-YAML/JSON bodies are refused with 415 even without an Origin; the JSON error body names the types', async () => {
  const marker = join(dir, 'text-plain');
  for (const type of ['text/plain', 'text/plain; charset=utf-8', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/octet-stream']) {
    const r = await send('POST', '/api/v1/resources', { 'content-type': type }, containerSource('pwn-plain', marker));
    assert.equal(r.status, 415, `${type}: ${r.body}`);
    assert.equal(r.json.reason, 'SLUICE_ERR_UNSUPPORTED_MEDIA_TYPE');
    assert.match(r.json.error!, /application\/yaml/);
  }
  const put = await send('PUT', '/api/v1/resources', { 'content-type': 'text/plain' }, containerSource('pwn-plain', marker));
  assert.equal(put.status, 415);
  const putOne = await send('PUT', '/api/v1/resources/ContainerSource/default/pwn-plain', { 'content-type': 'text/plain' }, containerSource('pwn-plain', marker));
  assert.equal(putOne.status, 415);
  const noType = await send('POST', '/api/v1/resources', {}, containerSource('pwn-plain', marker));
  assert.equal(noType.status, 415, noType.body);
  const delBody = await send('DELETE', '/api/v1/resources', { 'content-type': 'text/plain' }, 'kind: InMemoryChannel\nmetadata: {name: x}\n');
  assert.equal(delBody.status, 415);
  assert.ok(!(await resourceNames()).includes('ContainerSource/pwn-plain'));
  await assertNoMarker(marker);
});

test('DNS rebinding: a foreign Host (no Origin, YAML body) is refused with 403 on writes, reads, the stream and the page', async () => {
  const marker = join(dir, 'rebinding');
  const host = { host: 'evil.example:9090' };
  const w = await send('POST', '/api/v1/resources', { ...host, 'content-type': 'application/yaml' }, containerSource('rebound', marker));
  assert.equal(w.status, 403, w.body);
  assert.equal(w.json.reason, 'SLUICE_ERR_FORBIDDEN_ORIGIN');
  assert.match(w.json.error!, /Host "evil\.example:9090"/);
  for (const path of ['/api/v1/resources', '/api/v1/stream', '/api/v1/deliveries', '/', '/inspector.js', '/no-such-page']) {
    const r = await send('GET', path, host);
    assert.equal(r.status, 403, `${path}: ${r.body}`);
    assert.equal(r.json.reason, 'SLUICE_ERR_FORBIDDEN_ORIGIN');
  }
  // Names that merely start like loopback ones are not loopback.
  for (const h of ['127.0.0.1.evil.example', 'localhost.evil.example:80', '127.1', 'evil.example@127.0.0.1']) {
    assert.equal((await send('GET', '/api/v1/resources', { host: h })).status, 403, h);
  }
  assert.ok(!(await resourceNames()).includes('ContainerSource/rebound'));
  await assertNoMarker(marker);
});

test('loopback Hosts are served: 127.x.x.x, localhost and [::1], any port', async () => {
  for (const h of [`127.0.0.1:${port}`, '127.0.0.2', `localhost:${port}`, 'LOCALHOST', `[::1]:${port}`, '[0:0:0:0:0:0:0:1]:9090']) {
    const r = await send('GET', '/api/v1/resources', { host: h });
    assert.equal(r.status, 200, `${h}: ${r.body}`);
  }
  const page = await send('GET', '/', { host: `localhost:${port}` });
  assert.equal(page.status, 200);
  assert.match(page.headers['content-type'] ?? '', /text\/html/);
});

test('the page\'s own origin may apply (YAML, JSON with charset); DELETE by path needs no content type', async () => {
  const marker = join(dir, 'same-origin');
  const r = await send('POST', '/api/v1/resources', { origin: own(), 'sec-fetch-site': 'same-origin', 'content-type': 'application/yaml' }, 'apiVersion: messaging.knative.dev/v1\nkind: InMemoryChannel\nmetadata: {name: own-origin}\n');
  assert.equal(r.status, 200, r.body);
  assert.equal(r.json.items?.[0]?.result, 'created');
  const viaLocalhost = await send('PUT', '/api/v1/resources', { host: `localhost:${port}`, origin: `http://localhost:${port}`, 'content-type': 'application/json; charset=utf-8' }, JSON.stringify({ apiVersion: 'messaging.knative.dev/v1', kind: 'InMemoryChannel', metadata: { name: 'own-origin-json' } }));
  assert.equal(viaLocalhost.status, 200, viaLocalhost.body);
  for (const type of ['application/x-yaml', 'text/yaml', 'Application/YAML; charset=utf-8']) {
    const again = await send('POST', '/api/v1/resources', { 'content-type': type }, 'apiVersion: messaging.knative.dev/v1\nkind: InMemoryChannel\nmetadata: {name: own-origin}\n');
    assert.equal(again.status, 200, `${type}: ${again.body}`);
  }
  const names = await resourceNames();
  assert.ok(names.includes('InMemoryChannel/own-origin') && names.includes('InMemoryChannel/own-origin-json'), names.join());
  const del = await send('DELETE', '/api/v1/resources/imc/default/own-origin-json');
  assert.equal(del.status, 200, del.body);
  // The control: applied from the page's own origin, the same ContainerSource does run.
  const ok = await send('POST', '/api/v1/resources', { origin: own(), 'content-type': 'application/yaml' }, containerSource('allowed', marker));
  assert.equal(ok.status, 200, ok.body);
  await waitUntil(() => existsSync(marker), 10_000, 'the allowed ContainerSource to run');
  assert.equal((await send('DELETE', '/api/v1/resources/ContainerSource/default/allowed')).status, 200);
});

test('foreign Origins are refused on reads and on the live stream; Origin null and Sec-Fetch-Site cross-site too', async () => {
  const stream = await send('GET', '/api/v1/stream', { origin: 'http://evil.example', accept: 'text/event-stream' }, undefined, true);
  assert.equal(stream.status, 403, stream.body);
  assert.equal(stream.json.reason, 'SLUICE_ERR_FORBIDDEN_ORIGIN');
  const ownStream = await send('GET', '/api/v1/stream', { origin: own(), accept: 'text/event-stream' }, undefined, true);
  assert.equal(ownStream.status, 200);
  assert.match(ownStream.headers['content-type'] ?? '', /text\/event-stream/);
  const foreign: Array<Record<string, string>> = [
    { origin: 'http://evil.example' },
    { origin: 'null' },
    { origin: `http://127.0.0.1:${port + 1}` },
    { origin: `http://localhost:${port}` }, // a different origin than the Host (127.0.0.1) names
    { 'sec-fetch-site': 'cross-site' },
    { 'sec-fetch-site': 'same-site' },
  ];
  for (const headers of foreign) {
    const r = await send('GET', '/api/v1/resources', headers);
    assert.equal(r.status, 403, `${JSON.stringify(headers)}: ${r.body}`);
    assert.equal(r.json.reason, 'SLUICE_ERR_FORBIDDEN_ORIGIN');
  }
  // A typed URL (Sec-Fetch-Site: none) and the page's own fetches are served.
  assert.equal((await send('GET', '/api/v1/resources', { 'sec-fetch-site': 'none' })).status, 200);
  assert.equal((await send('GET', '/api/v1/deliveries', { origin: own(), 'sec-fetch-site': 'same-origin' })).status, 200);
  // Navigating to the page from a link on another site is fine: the page holds nothing.
  assert.equal((await send('GET', '/', { 'sec-fetch-site': 'cross-site' })).status, 200);
});

test('probes and metrics stay open to any Host (kubelets send the pod IP)', async () => {
  for (const path of ['/healthz', '/readyz', '/metrics']) {
    const r = await send('GET', path, { host: 'evil.example:9090', origin: 'http://evil.example' });
    assert.equal(r.status, 200, `${path}: ${r.body}`);
  }
  assert.equal((await send('GET', '/healthz', { host: '10.1.2.3:9090' })).status, 200);
});

test('--admin-host (specific) and --admin-allowed-hosts add names, any port; entries with a port or a scheme are refused', async () => {
  const s = await startSluice('', { adminHost: '127.0.0.1', adminAllowedHosts: ['sluice-admin', 'Sluice-Admin.sluice.svc', '10.0.0.7', 'fd00::1'] });
  const p = Number(new URL(s.adminUrl).port);
  const get = (host: string, origin?: string) =>
    new Promise<number>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: p, path: '/api/v1/resources', headers: { host, ...(origin ? { origin } : {}) } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
  try {
    assert.equal(await get('sluice-admin:9090'), 200);
    assert.equal(await get('sluice-admin.sluice.svc'), 200);
    assert.equal(await get('10.0.0.7:9090'), 200);
    assert.equal(await get('[fd00::1]:9090'), 200);
    assert.equal(await get('sluice-admin:9090', 'http://sluice-admin:9090'), 200);
    assert.equal(await get('sluice-admin:9090', 'http://evil.example'), 403);
    assert.equal(await get('other-name:9090'), 403);
  } finally {
    await s.close();
  }
  await assert.rejects(startSluice('', { adminAllowedHosts: ['sluice-admin:9090'] }), InvalidOptionError);
  await assert.rejects(startSluice('', { adminAllowedHosts: ['http://x/'] }), InvalidOptionError);
});

test('with an admin token the guard still applies first: a foreign Origin gets 403, not a 401 hint', async () => {
  const s = await startSluice('', { adminToken: 'secret-token' });
  try {
    const base = s.adminUrl;
    const foreign = await fetch(`${base}/api/v1/resources`, { headers: { authorization: 'Bearer secret-token', origin: 'http://evil.example' } });
    assert.equal(foreign.status, 403);
    const ok = await fetch(`${base}/api/v1/resources`, { headers: { authorization: 'Bearer secret-token' } });
    assert.equal(ok.status, 200);
    const noToken = await fetch(`${base}/api/v1/resources`);
    assert.equal(noToken.status, 401);
  } finally {
    await s.close();
  }
});

test('a bind-all admin host (0.0.0.0, ::) is not a name: only loopback and --admin-allowed-hosts are served', async () => {
  for (const adminHost of ['0.0.0.0', '::']) {
    const app = await createAdminApp({
      runtime: { listResources: () => [], readiness: () => ({ ready: true, pending: [] }) },
      metrics: new Metrics({ defaultMetrics: false }),
      logger: silentLogger(),
      adminHost,
      allowedHosts: ['sluice-admin'],
    });
    try {
      const get = async (host: string, url = '/api/v1/resources') => (await app.inject({ method: 'GET', url, headers: { host } })).statusCode;
      assert.equal(await get('127.0.0.1:9090'), 200);
      assert.equal(await get('sluice-admin:9090'), 200);
      assert.equal(await get('0.0.0.0:9090'), 403);
      assert.equal(await get('[::]:9090'), 403);
      assert.equal(await get('192.168.1.5:9090'), 403);
      assert.equal(await get('192.168.1.5:9090', '/healthz'), 200);
    } finally {
      await app.close();
    }
  }
});

test('a specific --admin-host is served as Host (IPv6 in brackets too)', async () => {
  for (const [adminHost, host] of [['10.0.0.9', '10.0.0.9:9090'], ['admin.internal', 'Admin.Internal:9090'], ['fd00::9', '[fd00::9]:9090']] as const) {
    const app = await createAdminApp({
      runtime: { listResources: () => [], readiness: () => ({ ready: true, pending: [] }) },
      metrics: new Metrics({ defaultMetrics: false }),
      logger: silentLogger(),
      adminHost,
    });
    try {
      assert.equal((await app.inject({ method: 'GET', url: '/api/v1/resources', headers: { host } })).statusCode, 200, host);
      assert.equal((await app.inject({ method: 'GET', url: '/api/v1/resources', headers: { host: 'localhost:9090' } })).statusCode, 200);
      assert.equal((await app.inject({ method: 'GET', url: '/api/v1/resources', headers: { host: 'evil.example:9090' } })).statusCode, 403);
    } finally {
      await app.close();
    }
  }
});
