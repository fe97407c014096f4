import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { ARTIFACTS, hasChromium, launchBrowser, NO_CHROMIUM_REASON, STATE_TIMEOUT, waitForIslands } from '../helpers/browser.ts';

const base = inject('baseUrl');
if (!hasChromium) console.warn(`browser tests ${NO_CHROMIUM_REASON}`);

describe.skipIf(!hasChromium)('search → compare → Mirador (browser)', { timeout: 180_000 }, () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
  });

  test('search a Japanese substring, mark two results, open them side by side with tiles loading', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));

    await page.goto(`${base}/?q=${encodeURIComponent('東京')}`);
    await waitForIslands(page);
    const results = page.locator('[data-testid=results] > li');
    expect(await results.count()).toBeGreaterThanOrEqual(2);
    const ids = await results.evaluateAll((els) => els.slice(0, 2).map((e) => e.getAttribute('data-item-id')!));

    for (const id of ids) {
      const toggle = page.locator(`[data-testid=compare-toggle][data-id="${id}"]`);
      await toggle.click();
      await expect.poll(() => toggle.getAttribute('aria-pressed'), { timeout: STATE_TIMEOUT }).toBe('true');
    }
    // The selection survives a new search (kept in localStorage).
    await page.goto(`${base}/?q=${encodeURIComponent('写真')}`);
    const open = page.locator('[data-testid=compare-open]');
    await waitForIslands(page);
    await expect.poll(() => open.getAttribute('href'), { timeout: STATE_TIMEOUT }).toBe(`/view?items=${ids.join(',')}`);

    // Collect tile responses per image while the comparison loads.
    const tiles = new Map<string, number>();
    page.on('response', (r) => {
      const m = /\/iiif\/3\/([A-Za-z0-9._-]+)\/(?!info\.json)[^/]+\/[^/]+\/[^/]+\/default\.jpg$/.exec(new URL(r.url()).pathname);
      if (m && r.status() === 200 && r.headers()['content-type'] === 'image/jpeg') tiles.set(m[1]!, (tiles.get(m[1]!) ?? 0) + 1);
    });
    await open.click();
    await page.waitForURL(/\/view\?items=/);

    const windows = page.locator('.mirador-window');
    await expect.poll(() => windows.count(), { timeout: STATE_TIMEOUT }).toBe(2);

    // The first image of each item must have had tiles delivered to the viewer.
    const manifests = await Promise.all(ids.map(async (id) => (await fetch(`${base}/api/iiif/${id}/manifest.json`)).json()));
    const imageIds = manifests.map((m: any) => m.items[0].items[0].items[0].body.service[0].id.split('/').pop());
    await expect.poll(() => imageIds.every((img: string) => (tiles.get(img) ?? 0) > 0), { timeout: STATE_TIMEOUT }).toBe(true);

    // OpenSeadragon painted something: its canvases are not blank (polled: drawing follows the tiles).
    const painted = () => page.evaluate(() =>
      [...document.querySelectorAll('.openseadragon-canvas canvas')].map((c) => {
        const canvas = c as HTMLCanvasElement;
        const ctx = canvas.getContext('2d');
        if (!ctx || canvas.width === 0) return 0;
        const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
        let nonBlank = 0;
        for (let i = 0; i < data.length; i += 4 * 97) if (data[i + 3]! > 0) nonBlank++;
        return nonBlank;
      }),
    );
    await expect.poll(async () => (await painted()).length, { timeout: STATE_TIMEOUT }).toBe(2);
    await expect.poll(async () => (await painted()).every((n) => n > 100), { timeout: STATE_TIMEOUT }).toBe(true);

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'compare.png') });
    expect(errors).toEqual([]);

    // The /view URL alone reproduces the same workspace in a fresh page.
    const fresh = await browser.newPage();
    await fresh.goto(page.url());
    await expect.poll(() => fresh.locator('.mirador-window').count(), { timeout: STATE_TIMEOUT }).toBe(2);
  });
});
