/**
 * Paged search Collections in Mirador (issue 13 item 1): a search with more than 100 hits is a
 * Collection of page Collections (`…&page=N`, 100 manifests each). Reproduced in the browser: page 1
 * could not be reached (its link served the top collection again, so clicking "1–100" showed the
 * top list once more). Here a generated store of 230 records (one small generated image, shared) is
 * served by its own archive process; Mirador opens the search's collection, goes to page 1, back, and
 * to page 2, and each time lists exactly that page's manifests; a manifest of page 2 opens; no
 * console errors on the way.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadConfig } from '../../src/lib/config.ts';
import { openStore } from '../../src/lib/search/open.ts';
import { ARTIFACTS, hasChromium, launchBrowser, NO_CHROMIUM_REASON, STATE_TIMEOUT } from '../helpers/browser.ts';
import { startServer, type RunningServer } from '../helpers/server.ts';

const RECORDS = 230;
const QUERY = 'survey';
if (!hasChromium) console.warn(`collection paging browser test ${NO_CHROMIUM_REASON}`);

let dataDir: string;
let server: RunningServer | undefined;

beforeAll(async () => {
  if (!hasChromium) return;
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'archive-paging-'));
  mkdirSync(path.join(dataDir, 'images', 'P01'), { recursive: true });
  await sharp({ create: { width: 640, height: 480, channels: 3, background: { r: 90, g: 120, b: 150 } } })
    .jpeg()
    .toFile(path.join(dataDir, 'images', 'P01', 'sheet.jpg'));
  const store = await openStore(loadConfig({ DATA_DIR: dataDir }, dataDir));
  await store.init();
  const pad = (n: number) => String(n).padStart(4, '0');
  await store.upsert(
    Array.from({ length: RECORDS }, (_, i) => ({
      id: `P01-${pad(i + 1)}`,
      batch: 'P01',
      title: { en: `Harbour survey sheet ${i + 1}`, ja: `港湾調査図 ${i + 1}` },
      images: [{ id: `P01-${pad(i + 1)}`, file: 'P01/sheet.jpg' }],
    })),
  );
  await store.close();
  server = await startServer({ DEMO: 'false' }, { dataDir, timeoutMs: 600_000 });
}, 900_000);

afterAll(async () => {
  await server?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

const enLabel = (r: { label: Record<string, string[]> }) => r.label.en?.[0] ?? r.label.none?.[0] ?? '';

/** The labels of the list Mirador's collection dialog shows, and the dialog's heading. */
async function dialog(page: Page): Promise<{ heading: string; items: string[] }> {
  return page.evaluate(() => {
    const box = document.querySelector('[role=dialog]');
    if (!box) return { heading: '', items: [] };
    const heading = box.querySelector('#select-collection')?.textContent ?? '';
    const items = [...box.querySelectorAll('li, [role=menuitem], [role=button]')]
      .filter((el) => el.closest('ul, [role=menu], [role=list]'))
      .map((el) => (el.textContent ?? '').trim())
      .filter(Boolean);
    return { heading, items };
  });
}

describe.skipIf(!hasChromium)('paged search collection in Mirador (browser)', { timeout: 600_000 }, () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
  });

  test(`${RECORDS} hits: page 1 and page 2 reachable, each listing its own manifests, 0 console errors`, async () => {
    const base = server!.baseUrl;
    // What the server says the pages are (the browser must show the same).
    const topUrl = `${base}/api/iiif/collection?q=${QUERY}`;
    const top = await (await fetch(topUrl)).json();
    expect(top.items.map(enLabel)).toEqual(['1–100', '101–200', '201–230']);
    const pages = await Promise.all(top.items.slice(0, 2).map(async (p: { id: string }) => (await fetch(p.id)).json()));
    for (const [i, p] of pages.entries()) {
      expect(p.id).toBe(top.items[i].id);
      expect(p.items).toHaveLength(100);
    }
    const page1 = pages[0].items.map(enLabel) as string[];
    const page2 = pages[1].items.map(enLabel) as string[];
    expect(new Set([...page1, ...page2]).size).toBe(200);

    const page = await browser.newPage({ viewport: { width: 1300, height: 900 }, locale: 'en-GB' });
    const errors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(e.message));
    const fetched: string[] = [];
    page.on('response', (r) => {
      if (r.url().includes('/api/iiif/collection')) fetched.push(`${r.status()} ${decodeURI(r.url())}`);
    });

    await page.goto(`${base}/?q=${QUERY}&lang=en`);
    await page.locator('[data-testid=open-collection]').click();
    await page.waitForURL(/\/view\?collection=/);

    // The top collection: its three page collections.
    const show = page.getByRole('button', { name: /show collection/i });
    const first = page.getByText('1–100', { exact: true });
    await expect.poll(async () => (await show.count()) + (await first.count()), { timeout: STATE_TIMEOUT }).toBeGreaterThan(0);
    if ((await first.count()) === 0) await show.click();
    await expect.poll(async () => (await dialog(page)).items, { timeout: STATE_TIMEOUT }).toEqual(['1–100', '101–200', '201–230']);

    // Page 1: its own 100 manifests (before the fix: the top collection again).
    await first.first().click();
    await expect.poll(async () => (await dialog(page)).items.slice(-100), { timeout: STATE_TIMEOUT }).toEqual(page1);
    expect((await dialog(page)).heading).toContain('1/3');
    expect(fetched).toContain(`200 ${decodeURI(top.items[0].id)}`);

    // Back to the top (the dialog's button named after the parent collection), then page 2.
    await page.getByRole('button', { name: new RegExp(`Search results: ${QUERY}`) }).first().click();
    await expect.poll(async () => (await dialog(page)).items.slice(-3), { timeout: STATE_TIMEOUT }).toEqual(['1–100', '101–200', '201–230']);
    await page.getByText('101–200', { exact: true }).first().click();
    await expect.poll(async () => (await dialog(page)).items.slice(-100), { timeout: STATE_TIMEOUT }).toEqual(page2);
    expect((await dialog(page)).heading).toContain('2/3');
    expect(fetched).toContain(`200 ${decodeURI(top.items[1].id)}`);

    // A manifest of page 2 opens in the window.
    await page.getByText(page2[5]!, { exact: true }).first().click();
    await expect
      .poll(() => page.evaluate(() => Object.values((window as any).archiveViewers?.[0]?.store.getState().windows ?? {}).map((w: any) => w.manifestId)), { timeout: STATE_TIMEOUT })
      .toContain(pages[1].items[5].id);

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'collection-page-2.png') });
    expect(errors).toEqual([]);
    await page.close();
  });
});
