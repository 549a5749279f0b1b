import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { startSluice, waitUntil } from '../helpers/sluice.js';

// The Jobs view of the inspector page, in the system Chromium (as inspector-browser.test.ts).
const CANDIDATES = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].filter((p): p is string => !!p);
const executablePath = CANDIDATES.find((p) => existsSync(p));
const WAIT = { timeout: 15_000 };

/** A JobSink whose job is a local Node process running `script`. */
function jobSinkYaml(name: string, script: string): string {
  return `---
apiVersion: sinks.knative.dev/v1alpha1
kind: JobSink
metadata:
  name: ${name}
  annotations: {"sluice.dev/job-backoff-seconds": "0.02"}
spec:
  job:
    spec:
      completions: 1
      parallelism: 1
      backoffLimit: 0
      template:
        spec:
          restartPolicy: Never
          containers:
            - name: main
              command: ${JSON.stringify([process.execPath, '-e', script])}
`;
}

// The stderr line is markup on purpose: the page must show it as text.
const FAILING = `console.error('starting'); console.error('<b id="injected">disk full</b>'); process.exit(3);`;

async function post(url: string, id: string, type: string): Promise<void> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'ce-specversion': '1.0', 'ce-id': id, 'ce-source': '/test/jobs', 'ce-type': type },
    body: JSON.stringify({ id }),
  });
  assert.equal(res.status, 202);
}

describe('inspector page: Jobs view', { skip: executablePath ? false : 'no Chromium (set CHROMIUM_PATH)' }, () => {
  let browser: Browser;
  let sluice: Awaited<ReturnType<typeof startSluice>>;
  const pageErrors: string[] = [];

  before(async () => {
    sluice = await startSluice(jobSinkYaml('exporter', 'process.exit(0)') + jobSinkYaml('importer', FAILING), { adminToken: 'jobs-token' });
    await post(`${sluice.url}/jobsinks/default/exporter`, 'ok-1', 'com.example.export');
    await post(`${sluice.url}/jobsinks/default/importer`, 'bad-1', 'com.example.import');
    const headers = { authorization: 'Bearer jobs-token' };
    const finished = async (name: string) => {
      const body = (await (await fetch(`${sluice.adminUrl}/api/v1/jobsinks/default/${name}/jobs`, { headers })).json()) as { counts: { succeeded: number; failed: number } };
      return body.counts.succeeded + body.counts.failed === 1;
    };
    await waitUntil(async () => (await finished('exporter')) && (await finished('importer')), 10_000, 'both jobs finished');
    browser = await chromium.launch({ executablePath: executablePath!, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  });
  after(async () => {
    await browser?.close();
    await sluice?.close();
  });

  test('lists the JobSinks with their counts, and a selected one its jobs: state, exit code, duration, reason, stderr', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('console', (msg) => {
      if (msg.type() === 'error') pageErrors.push(msg.text());
    });
    await page.goto(`${sluice.adminUrl}/?token=jobs-token`);
    await page.click('#nav-jobs');

    // Both JobSinks, with their counts.
    const exporter = await page.waitForSelector('#jobsinks tbody tr[data-name="exporter"]', WAIT);
    const importer = await page.waitForSelector('#jobsinks tbody tr[data-name="importer"]', WAIT);
    const cells = async (row: typeof exporter) => (await row.$$eval('td', (tds) => tds.map((t) => (t.textContent ?? '').trim()))).slice(0, 7);
    assert.deepEqual(await cells(exporter), ['default/exporter', 'process', 'True', '0', '0', '1', '0']);
    assert.deepEqual(await cells(importer), ['default/importer', 'process', 'True', '0', '0', '0', '1']);

    // The succeeded job of the first JobSink.
    await page.click('#jobsinks tbody tr[data-name="exporter"] button.show-jobs');
    await page.waitForSelector('#jobs-selected:has-text("default/exporter")', WAIT);
    const ok = await page.waitForSelector('#jobs tbody tr[data-event-id="ok-1"][data-state="succeeded"]', WAIT);
    assert.equal((await ok.$eval('td.exit-code', (t) => t.textContent)) ?? '', '0');
    assert.equal(await ok.$eval('td.state .badge', (t) => t.className), 'badge state succeeded ok');
    assert.match((await ok.$eval('td.duration', (t) => t.textContent)) ?? '', /^\d+(\.\d+)? m?s$/);
    assert.equal(await ok.$eval('td.reason', (t) => t.textContent), 'Completed');
    assert.match((await ok.$eval('td.event', (t) => t.textContent)) ?? '', /com\.example\.export.*ok-1/);
    assert.equal(await page.locator('#jobs tbody tr').count(), 1);
    await page.waitForSelector('#jobs-status:has-text("1 succeeded, 0 failed")', WAIT);

    // The failed one of the other: exit code 3, its reason and last stderr line (as text).
    await page.click('#jobsinks tbody tr[data-name="importer"] button.show-jobs');
    const bad = await page.waitForSelector('#jobs tbody tr[data-event-id="bad-1"][data-state="failed"]', WAIT);
    assert.equal(await page.locator('#jobs tbody tr[data-event-id="ok-1"]').count(), 0);
    assert.equal((await bad.$eval('td.exit-code', (t) => t.textContent)) ?? '', '3');
    assert.equal(await bad.$eval('td.state .badge', (t) => t.className), 'badge state failed bad');
    assert.equal(await bad.$eval('td.reason', (t) => t.textContent), 'Error');
    assert.equal(await bad.$eval('td.stderr', (t) => t.textContent), 'exit code 3: <b id="injected">disk full</b>');
    assert.equal(await page.locator('#injected').count(), 0, 'stderr is shown as text');
    assert.equal(await page.getAttribute('#jobsinks tbody tr[data-name="importer"]', 'aria-selected'), 'true');

    // It refreshes: a new event's job shows up without a reload.
    await post(`${sluice.url}/jobsinks/default/importer`, 'bad-2', 'com.example.import');
    await page.waitForSelector('#jobs tbody tr[data-event-id="bad-2"][data-state="failed"]', WAIT);
    await page.waitForSelector('#jobsinks tbody tr[data-name="importer"] td:nth-child(7):has-text("2")', WAIT);
    assert.deepEqual(await page.$$eval('#jobs tbody tr', (rows) => rows.map((r) => r.getAttribute('data-event-id'))), ['bad-2', 'bad-1']);
    assert.deepEqual(pageErrors, [], 'no script errors or CSP violations');
  });
});
