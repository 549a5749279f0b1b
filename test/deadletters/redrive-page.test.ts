import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { CloudEvent, emitterFor, httpTransport, Mode } from 'cloudevents';
import { chromium, type Browser } from 'playwright-core';
import { channelYaml, startSluice, subscriptionYaml, waitUntil } from '../helpers/sluice.js';
import { startSink, type RecordingSink } from '../helpers/sink.js';

// The system Chromium, as test/inspector/inspector-browser.test.ts drives it.
const CANDIDATES = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].filter((p): p is string => !!p);
const executablePath = CANDIDATES.find((p) => existsSync(p));
const WAIT = { timeout: 15_000 };

describe('inspector page: Redrive buttons', { skip: executablePath ? false : 'no Chromium (set CHROMIUM_PATH)' }, () => {
  let browser: Browser;
  let sluice: Awaited<ReturnType<typeof startSluice>>;
  let subscriber: RecordingSink;
  let dls: RecordingSink;
  let failing = true;
  const pageErrors: string[] = [];

  before(async () => {
    subscriber = await startSink((_req, res) => {
      res.statusCode = failing ? 500 : 202;
      res.end();
    });
    dls = await startSink();
    sluice = await startSluice(
      channelYaml('orders') + subscriptionYaml('payments', 'orders', subscriber.url, `  delivery: {retry: 0, deadLetterSink: {uri: "${dls.url}"}}\n`),
      { adminToken: 'page-token' },
    );
    const emit = emitterFor(httpTransport(`${sluice.url}/channels/default/orders`), { mode: Mode.BINARY });
    for (const id of ['p-1', 'p-2', 'p-3']) await emit(new CloudEvent({ id, source: '/shop', type: 'order.created', data: { id } }));
    await dls.waitFor(3);
    // The dead-letter sink has each event before its answer reaches Sluice, which records the entry then.
    await waitUntil(async () => {
      const res = await fetch(`${sluice.adminUrl}/api/v1/deadletters`, { headers: { authorization: 'Bearer page-token' } });
      return ((await res.json()) as { items: unknown[] }).items.length === 3;
    }, 5000, 'three dead letters listed');
    browser = await chromium.launch({ executablePath: executablePath!, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  });
  after(async () => {
    await browser?.close();
    await sluice?.close();
    await subscriber?.close();
    await dls?.close();
  });

  test('one Redrive button per dead letter, and Redrive all shown; both send with the page token', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('console', (msg) => {
      if (msg.type() === 'error') pageErrors.push(msg.text());
    });
    await page.goto(`${sluice.adminUrl}/?token=page-token`);
    await page.waitForSelector('#deadletters tbody tr[data-event-id="p-3"] button.redrive', WAIT);
    assert.equal(await page.locator('#deadletters button.redrive').count(), 3);

    failing = false;
    await page.click('#deadletters tbody tr[data-event-id="p-2"] button.redrive');
    await page.waitForSelector('#redrive-status:has-text("redriven: 1 delivered")', WAIT);
    assert.deepEqual(subscriber.requests.slice(3).map((r) => r.headers['ce-id']), ['p-2']);
    await page.waitForSelector('#deadletters tbody tr[data-event-id="p-2"] td.redriven', WAIT);

    await page.click('#deadletters-redrive-all');
    await page.waitForSelector('#redrive-status:has-text("redriven: 2 delivered")', WAIT);
    assert.deepEqual(subscriber.requests.slice(4).map((r) => String(r.headers['ce-id'])).sort(), ['p-1', 'p-3']);
    assert.ok(subscriber.requests.slice(3).every((r) => r.headers['ce-sluiceredrivecount'] === '1'));
    for (const id of ['p-1', 'p-3']) await page.waitForSelector(`#deadletters tbody tr[data-event-id="${id}"] td.redriven`, WAIT);
    assert.equal(await page.locator('#deadletters button.redrive').count(), 0);
    assert.deepEqual(pageErrors, [], 'no script errors or CSP violations');
  });
});
