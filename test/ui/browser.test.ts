import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ociImage, randomBlob } from '../helpers/oci.ts';
import { useWithReceiver } from '../notify/support.ts';

/** Debian's chromium (installed by .ci/run); Playwright's own browser download cannot work here. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Without the background-networking flags Chromium keeps dialling Google's hosts on a closed network (FIELD-NOTES). */
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
/** Where the screenshot goes: a test artifact, ignored by git. */
export const SCREENSHOT = fileURLToPath(new URL('../../artifacts/ui/testbed.png', import.meta.url));
const STEP_MS = 10_000;

describe('the test bed in a real browser', { timeout: 90_000 }, () => {
  const h = useWithReceiver({ endpoint: { timeout: '2s' } });
  let browser: Browser;
  let page: Page;

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)`);
    // Playwright gives the browser a fresh, empty profile of its own (and removes it at close).
    browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
    page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
    page.setDefaultTimeout(STEP_MS);
    await page.goto(`${h.registry.url}/ui/`);
    await page.locator('#live-state', { hasText: 'live' }).waitFor();
  });
  after(async () => {
    await browser?.close();
  });

  it('shows an image’s push events as they happen, each expandable to its JSON', async () => {
    const image = await h.client.pushImage('ui/browser', 'v1', ociImage({ layers: 1 }));
    await h.receiver.waitFor(3); // config, layer, manifest
    const pushes = page.locator('li.event[data-action="push"]');
    await pushes.nth(2).waitFor();
    const manifest = page.locator('li.event', { hasText: 'ui/browser:v1' });
    await manifest.locator('.summary').click();
    const json = await manifest.locator('pre').textContent();
    assert.ok((json ?? '').includes(image.digest), json ?? '');
    // The filter keeps what matches.
    await page.fill('#filter input[name="repository"]', 'no/such/repo');
    assert.equal(await page.locator('li.event').count(), 0);
    await page.fill('#filter input[name="repository"]', 'ui/browser');
    assert.equal(await page.locator('li.event').count(), 3);
    await page.fill('#filter input[name="repository"]', '');
  });

  it('lists an endpoint’s deliveries, and a redelivery shows as a new attempt that reached the consumer', async () => {
    await page.locator('tr[data-endpoint="hook"]').click();
    const rows = page.locator('#deliveries tr.delivery');
    await rows.nth(2).waitFor();
    const before = await rows.count();
    const received = h.receiver.events().length;
    await rows.first().locator('button.redeliver').click();
    await page.locator('#detail-message', { hasText: 'queued 1 event' }).waitFor();
    await page.waitForFunction((n) => document.querySelectorAll('#deliveries tr.delivery').length > n, before, { timeout: STEP_MS });
    const events = await h.receiver.waitFor(received + 1);
    assert.equal(new Set(events.map((e) => e.id)).size, received, 'the redelivery carries an event id already delivered');
  });

  it('creates an inbox with one click and shows a delivery arriving in it, signature checked', async () => {
    await page.click('#create-inbox');
    const inbox = page.locator('.inbox').first();
    await inbox.waitFor();
    await page.locator('tr[data-endpoint^="inbox-"]').waitFor();
    const blob = randomBlob(4096);
    assert.equal((await h.client.pushBlob('ui/inbox', blob.data, blob.digest)).status, 201);
    const request = inbox.locator('li.request').first();
    await request.waitFor();
    assert.equal(await request.locator('.signature.ok').count(), 1, await request.textContent() ?? '');
    await request.locator('.summary').click();
    const raw = (await request.locator('pre').textContent()) ?? '';
    assert.match(raw, /webhook-signature: v1,/);
    assert.match(raw, new RegExp(blob.digest));
    // The live view's event shows the request as the inbox received it: headers and signature.
    const live = page.locator('li.event', { hasText: 'ui/inbox@' });
    await live.locator('.summary').click();
    await live.locator('.received .signature.ok').waitFor();
    assert.match((await live.locator('.received pre').textContent()) ?? '', /webhook-id: /);
    await live.locator('.summary').click(); // folded again: the screenshot shows the whole list
  });

  it('writes a screenshot of the page with events, deliveries and an inbox', async () => {
    await page.locator('li.event', { hasText: 'ui/browser:v1' }).locator('.summary').click();
    await mkdir(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    assert.ok((await stat(SCREENSHOT)).size > 20_000);
  });
});
