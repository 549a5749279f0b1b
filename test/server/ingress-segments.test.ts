import { test } from 'node:test';
import assert from 'node:assert/strict';
import { channelOfHost, segments } from '../../src/runtime/ingress-address.js';

/** The plain definition the ingress's fast path must agree with. */
function reference(pathname: string): string[] {
  return pathname
    .split('/')
    .filter((p) => p.length > 0)
    .map((p) => {
      try {
        return decodeURIComponent(p);
      } catch {
        return p;
      }
    });
}

test('segments splits like split/filter/decode, with and without percent-encoding', () => {
  const paths = ['/', '', '//', '/channels/default/orders', 'channels/default/orders/', '///a//b///', '/a%20b/c', '/%', '/x/%E2%82%AC', '/a/b/c/d/e', 'a'];
  for (let i = 0; i < 500; i++) {
    let p = '';
    const n = Math.floor(Math.random() * 8);
    for (let j = 0; j < n; j++) p += ['/', 'a', 'bc', '%2F', '-', '.'][Math.floor(Math.random() * 6)];
    paths.push(p);
  }
  for (const p of paths) assert.deepEqual(segments(p), reference(p), JSON.stringify(p));
});

test('channelOfHost still reads Knative channel hosts in any case, and nothing else', () => {
  assert.deepEqual(channelOfHost('orders-kn-channel.shop.svc.cluster.local'), { kind: 'channel', namespace: 'shop', name: 'orders' });
  assert.deepEqual(channelOfHost('Orders-KN-Channel.Shop.svc:8080'), { kind: 'channel', namespace: 'shop', name: 'orders' });
  assert.equal(channelOfHost('127.0.0.1:8080'), undefined);
  assert.equal(channelOfHost('kn-channel.example.com'), undefined);
});
