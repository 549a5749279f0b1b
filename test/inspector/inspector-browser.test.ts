import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { CloudEvent, emitterFor, httpTransport, Mode } from 'cloudevents';
import { chromium, type Browser, type Page } from 'playwright-core';
import { channelYaml, startSluice, subscriptionYaml } from '../helpers/sluice.js';
import { startSink, type RecordingSink } from '../helpers/sink.js';

// The system Chromium (Debian package `chromium`), driven by playwright-core: no browser download.
const CANDIDATES = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].filter((p): p is string => !!p);
const executablePath = CANDIDATES.find((p) => existsSync(p));
const skip = !executablePath && process.env.SLUICE_SKIP_BROWSER === '1';
const ARTIFACTS = 'test-artifacts';
const WAIT = { timeout: 15_000 };
// Evaluated in the page (a string: this project's TypeScript has no DOM types).
const TAIL_LIVE = "document.getElementById('tail-status')?.textContent === 'live'";

describe('event inspector page in headless Chromium', { skip: skip ? 'no Chromium and SLUICE_SKIP_BROWSER=1' : false }, () => {
  let browser: Browser;
  let page: Page;
  let sluice: Awaited<ReturnType<typeof startSluice>>;
  let ok: RecordingSink;
  let failing: RecordingSink;
  let dls: RecordingSink;
  const pageErrors: string[] = [];

  before(async () => {
    if (!executablePath) {
      throw new Error(
        `Chromium not found (looked at ${CANDIDATES.join(', ')}). Install it with \`apt-get install -y chromium\`, ` +
          'set CHROMIUM_PATH to the browser binary, or set SLUICE_SKIP_BROWSER=1 to skip this test.',
      );
    }
    ok = await startSink();
    failing = await startSink((_req, res) => {
      res.statusCode = 500;
      res.end('payment service down');
    });
    dls = await startSink();
    sluice = await startSluice(
      channelYaml('orders') +
        subscriptionYaml('billing', 'orders', ok.url) +
        subscriptionYaml('payments', 'orders', failing.url, `  delivery: {retry: 1, backoffDelay: PT0.01S, deadLetterSink: {uri: "${dls.url}"}}\n`),
    );
    // Root in CI containers: Chromium's sandbox needs user namespaces it does not get there.
    browser = await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('console', (msg) => {
      if (msg.type() === 'error') pageErrors.push(msg.text());
    });
  });

  after(async () => {
    await browser?.close();
    await sluice?.close();
    await Promise.all([ok, failing, dls].map((s) => s?.close()));
  });

  test('shows readiness, the live tail, deliveries and dead letters with decoded error data', async () => {
    await page.goto(`${sluice.adminUrl}/`);
    assert.equal(await page.title(), 'Sluice inspector');
    await page.waitForSelector('#resources tbody tr[data-kind="InMemoryChannel"][data-name="orders"][data-ready="True"]', WAIT);
    await page.waitForSelector('#resources tbody tr[data-kind="Subscription"][data-name="payments"]', WAIT);
    await page.waitForFunction(TAIL_LIVE, undefined, WAIT);

    // Untrusted event content: markup must show up as text, never as elements.
    const hostile = '<img src=x onerror="document.title=\'pwned\'"><script>document.title="pwned"</script>';
    await emitterFor(httpTransport(`${sluice.url}/channels/default/orders`), { mode: Mode.BINARY })(
      new CloudEvent({ id: 'order-1', source: '/shop', type: 'com.example.order.created', data: { note: hostile } }),
    );
    await emitterFor(httpTransport(`${sluice.url}/channels/default/orders`), { mode: Mode.STRUCTURED })(
      new CloudEvent({ id: 'order-2', source: '/shop', type: 'com.example.order.cancelled', data: { n: 2 } }),
    );

    const item = await page.waitForSelector('#tail li[data-event-id="order-1"]', WAIT);
    const text = (await item.textContent()) ?? '';
    assert.ok(text.includes('com.example.order.created'), text);
    // (JSON-escaped quotes aside, the markup is there verbatim.)
    assert.ok(text.includes('<img src=x onerror=') && text.includes('<script>document.title='), 'the data is shown as text');
    assert.equal(await page.locator('#tail img, #tail script').count(), 0, 'no element was created from event data');
    await page.waitForSelector('#tail li[data-event-id="order-2"]', WAIT);

    // The filter box: attribute=value and free text.
    await page.fill('#tail-filter', 'type=com.example.order.cancelled');
    assert.deepEqual(await page.locator('#tail li').evaluateAll((els) => els.map((e) => e.getAttribute('data-event-id'))), ['order-2']);
    await page.fill('#tail-filter', 'onerror');
    assert.deepEqual(await page.locator('#tail li').evaluateAll((els) => els.map((e) => e.getAttribute('data-event-id'))), ['order-1']);
    await page.fill('#tail-filter', '');
    assert.equal(await page.locator('#tail li').count(), 2);

    const delivered = await page.waitForSelector('#deliveries tbody tr[data-outcome="delivered"][data-event-id="order-1"]', WAIT);
    const cells = await delivered.$$eval('td', (tds) => tds.map((td) => td.textContent ?? ''));
    assert.ok(cells[1]!.includes('billing'), cells.join(' | '));
    assert.equal(cells[4], '1', 'attempts');
    assert.equal(cells[5], '202', 'status');
    await page.waitForSelector('#deliveries tbody tr[data-outcome="dead-lettered"][data-event-id="order-1"]', WAIT);

    const dead = await page.waitForSelector('#deadletters tbody tr[data-event-id="order-1"]', WAIT);
    assert.equal(await dead.$eval('.knativeerrorcode', (e) => e.textContent), '500');
    assert.equal(await dead.$eval('.knativeerrordest', (e) => e.textContent), failing.url);
    assert.equal(await dead.$eval('.knativeerrordata', (e) => e.textContent), 'payment service down', 'knativeerrordata is decoded from base64');

    await page.waitForSelector('#rates tbody tr[data-kind="channel"][data-name="orders"]', WAIT);
    await page.waitForSelector('#rates tbody tr[data-kind="subscription"][data-name="billing"]', WAIT);

    assert.notEqual(await page.title(), 'pwned');
    assert.deepEqual(pageErrors, [], 'no script errors or CSP violations');
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'inspector.png'), fullPage: true });
  });

  test('with --admin-token: ?token= is kept in sessionStorage, dropped from the address bar, and sent with every request', async (t) => {
    const guarded = await startSluice(channelYaml('orders'), { adminToken: 's3cret' });
    t.after(() => guarded.close());
    const refused = await fetch(`${guarded.adminUrl}/api/v1/resources`);
    assert.equal(refused.status, 401, 'the admin API really requires the token');
    await refused.body?.cancel();
    const tokenPage = await browser.newPage();
    const seen: Array<{ url: string; auth: string | undefined }> = [];
    tokenPage.on('request', (r) => seen.push({ url: r.url(), auth: r.headers()['authorization'] }));
    await tokenPage.goto(`${guarded.adminUrl}/?token=s3cret`);
    await tokenPage.waitForSelector('#resources tbody tr', WAIT);
    await tokenPage.waitForFunction(TAIL_LIVE, undefined, WAIT);
    assert.equal(new URL(tokenPage.url()).search, '', 'the token left the address bar');
    assert.equal(await tokenPage.evaluate("sessionStorage.getItem('sluice.adminToken')"), 's3cret');
    const apiCalls = seen.filter((r) => r.url.includes('/api/v1/') && !r.url.includes('/api/v1/stream'));
    assert.ok(apiCalls.length > 0);
    for (const r of apiCalls) assert.equal(r.auth, 'Bearer s3cret', r.url);
    const stream = seen.find((r) => r.url.includes('/api/v1/stream'));
    assert.equal(new URL(stream!.url).searchParams.get('access_token'), 's3cret', 'EventSource cannot send headers: the token goes in the query');
    await tokenPage.waitForSelector('#resources tbody tr[data-name="orders"][data-ready="True"]', WAIT);
    // A reload keeps the token from sessionStorage.
    seen.length = 0;
    await tokenPage.reload();
    await tokenPage.waitForSelector('#resources tbody tr', WAIT);
    assert.ok(seen.some((r) => r.url.includes('/api/v1/resources') && r.auth === 'Bearer s3cret'));
    await tokenPage.close();
  });
});
