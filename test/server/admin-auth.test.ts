import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { startSluice } from '../helpers/sluice.js';
import type { SluiceServer } from '../../src/server/sluice-server.js';

// Bearer tokens: the admin API's (--admin-token) and the per-address ingress token named
// by the sluice.dev/ingress-token-secret annotation on a channel or broker.

const ADMIN_TOKEN = 'admin-t0ken';
let sluice: SluiceServer & { url: string };

before(async () => {
  sluice = await startSluice(
    `apiVersion: messaging.knative.dev/v1
kind: InMemoryChannel
metadata:
  name: locked
  annotations: {sluice.dev/ingress-token-secret: ingress-token}
---
apiVersion: messaging.knative.dev/v1
kind: InMemoryChannel
metadata: {name: open}
---
apiVersion: messaging.knative.dev/v1
kind: InMemoryChannel
metadata:
  name: misconfigured
  annotations: {sluice.dev/ingress-token-secret: no-such-secret}
---
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata:
  name: locked-broker
  annotations: {sluice.dev/ingress-token-secret: ingress-token}
---
apiVersion: v1
kind: Secret
metadata: {name: ingress-token}
stringData: {token: let-me-in}
`,
    { adminToken: ADMIN_TOKEN },
  );
});
after(() => sluice.close());

function send(path: string, headers: Record<string, string> = {}) {
  return fetch(sluice.url + path, {
    method: 'POST',
    headers: { 'ce-specversion': '1.0', 'ce-id': '1', 'ce-source': '/t', 'ce-type': 't', ...headers },
  });
}

/** fetch() does not let a caller set Host; Knative addresses channels by it. */
function sendByHost(host: string): Promise<number> {
  const u = new URL(sluice.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, method: 'POST', path: '/', headers: { host, 'ce-specversion': '1.0', 'ce-id': '1', 'ce-source': '/t', 'ce-type': 't' } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

test('the admin API needs the token (401 JSON otherwise); health, readiness and metrics stay open', async () => {
  const none = await fetch(`${sluice.adminUrl}/api/v1/resources`);
  assert.equal(none.status, 401);
  assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/);
  const body = (await none.json()) as { error: string; reason: string };
  assert.equal(body.reason, 'SLUICE_ERR_UNAUTHORIZED');
  assert.match(body.error, /bearer token/);
  // The router decodes percent-escapes; the check looks at the matched route, not the raw URL.
  assert.equal((await fetch(`${sluice.adminUrl}/%61pi/v1/resources`)).status, 401);
  const wrong = await fetch(`${sluice.adminUrl}/api/v1/resources`, { headers: { authorization: 'Bearer nope' } });
  assert.equal(wrong.status, 401);
  const write = await fetch(`${sluice.adminUrl}/api/v1/resources`, { method: 'POST', headers: { 'content-type': 'application/yaml' }, body: 'apiVersion: messaging.knative.dev/v1\nkind: InMemoryChannel\nmetadata: {name: sneaky}\n' });
  assert.equal(write.status, 401);
  const ok = await fetch(`${sluice.adminUrl}/api/v1/resources`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  assert.equal(ok.status, 200);
  assert.doesNotMatch(await ok.text(), /sneaky/);
  // EventSource cannot send headers: the RFC 6750 query parameter works too.
  assert.equal((await fetch(`${sluice.adminUrl}/api/v1/resources?access_token=${ADMIN_TOKEN}`)).status, 200);
  for (const open of ['/healthz', '/readyz', '/metrics']) assert.equal((await fetch(sluice.adminUrl + open)).status, 200, open);
});

test('the public ingress never serves admin routes', async () => {
  for (const [method, path] of [
    ['GET', '/api/v1/resources'],
    ['POST', '/api/v1/resources'],
    ['DELETE', '/api/v1/resources/InMemoryChannel/default/open'],
    ['GET', '/metrics'],
    ['GET', '/api/v1/stream'],
  ] as const) {
    const res = await fetch(sluice.url + path, { method, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.ok(res.status === 404 || res.status === 405, `${method} ${path} answered ${res.status}`);
    const text = await res.text();
    assert.doesNotMatch(text, /"items"|# HELP|sluice_/, `${method} ${path} leaked admin content`);
  }
  assert.equal((await send('/channels/default/open')).status, 202);
});

test('a channel or broker annotated with an ingress token Secret needs that bearer token', async () => {
  const missing = await send('/channels/default/locked');
  assert.equal(missing.status, 401);
  assert.equal(((await missing.json()) as { reason: string }).reason, 'SLUICE_ERR_UNAUTHORIZED');
  assert.equal((await send('/channels/default/locked', { authorization: 'Bearer wrong' })).status, 401);
  assert.equal((await send('/channels/default/locked', { authorization: 'Bearer let-me-in' })).status, 202);
  // Knative's Host-based channel address is guarded the same way.
  assert.equal(await sendByHost('locked-kn-channel.default.svc.cluster.local'), 401);
  assert.equal((await send('/default/locked-broker')).status, 401);
  assert.equal((await send('/default/locked-broker', { authorization: 'Bearer let-me-in' })).status, 202);
  // A Secret that does not exist fails closed.
  assert.equal((await send('/channels/default/misconfigured', { authorization: 'Bearer let-me-in' })).status, 401);
});

test('rotating the Secret through the admin API takes effect at once', async () => {
  const res = await fetch(`${sluice.adminUrl}/api/v1/resources`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/yaml' },
    body: 'apiVersion: v1\nkind: Secret\nmetadata: {name: ingress-token}\nstringData: {token: rotated}\n',
  });
  assert.equal(res.status, 200);
  assert.equal((await send('/channels/default/locked', { authorization: 'Bearer let-me-in' })).status, 401);
  assert.equal((await send('/channels/default/locked', { authorization: 'Bearer rotated' })).status, 202);
});

test('annotating a live channel, or removing its annotation, applies from the next request on either ingress path', async () => {
  const apply = async (yaml: string) => {
    const res = await fetch(`${sluice.adminUrl}/api/v1/resources`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/yaml' },
      body: yaml,
    });
    assert.equal(res.status, 200, await res.text());
  };
  await apply('apiVersion: messaging.knative.dev/v1\nkind: InMemoryChannel\nmetadata: {name: later}\n');
  // With a Content-Type the request takes the ingress fast path; without one, fastify's route.
  const json = { 'content-type': 'application/json' };
  assert.equal((await send('/channels/default/later', json)).status, 202);
  assert.equal((await send('/channels/default/later')).status, 202);
  await apply('apiVersion: messaging.knative.dev/v1\nkind: InMemoryChannel\nmetadata:\n  name: later\n  annotations: {sluice.dev/ingress-token-secret: ingress-token}\n');
  assert.equal((await send('/channels/default/later', json)).status, 401);
  assert.equal((await send('/channels/default/later')).status, 401);
  await apply('apiVersion: messaging.knative.dev/v1\nkind: InMemoryChannel\nmetadata: {name: later}\n');
  assert.equal((await send('/channels/default/later', json)).status, 202);
  assert.equal((await send('/channels/default/later')).status, 202);
});
