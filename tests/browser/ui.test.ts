/**
 * Issue 19 in the browser, at a phone (390 px) and a desktop (1440 px) width: citations in both
 * languages (page-level too, copy button, exports), the admin page staff act on (states, next
 * commands, bad rows, local times, no sideways scrolling), the compare toggle and tray with its
 * stated maximum, back links that keep the search. Screenshots go to test-results/h5-*.png.
 */
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { ARTIFACTS, hasChromium, launchBrowser, NO_CHROMIUM_REASON, waitForIslands } from '../helpers/browser.ts';

const base = inject('baseUrl');
const dataDir = inject('dataDir');
if (!hasChromium) console.warn(`issue 19 UI browser tests ${NO_CHROMIUM_REASON}`);

const WIDTHS = [390, 1440] as const;

/** The page scrolls sideways: its content is wider than the viewport. */
async function overflowX(page: Page): Promise<number> {
  return page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
}

describe.skipIf(!hasChromium)('issue 19 UI (browser)', () => {
  let browser: Browser;
  let album: string;
  /** The id of the album's second image (a page of it, citable as that page). */
  let albumPage2: string;

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    browser = await launchBrowser();
    const all = await (await fetch(`${base}/api/search.json?size=100`)).json();
    const albumItem = all.items.find((i: { images: string[] }) => i.images.length > 2);
    album = albumItem.id;
    albumPage2 = albumItem.images[1];
  });
  afterAll(async () => {
    await browser?.close();
  });

  for (const width of WIDTHS) {
    test(`citations at ${width} px: right in each language, page-level, copyable, exportable, no sideways scrolling`, async () => {
      const ctx = await browser.newContext({ viewport: { width, height: 900 }, locale: 'en-GB' });
      await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
      const page = await ctx.newPage();
      for (const lang of ['en', 'ja'] as const) {
        await page.goto(`${base}/items/R01-0001?lang=${lang}`);
        await waitForIslands(page);
        const en = (await page.locator('[data-testid=citation-en]').innerText()).replace(/^Chicago:\s*/, '');
        const ja = (await page.locator('[data-testid=citation-ja]').innerText()).replace(/^SIST 02:\s*/, '');
        expect(en).toMatch(/^.*“Tokyo Station, Marunouchi entrance\.” Photograph, 1914\. .*R01-0001\. Private Image Archive\. http:\/\/127\.0\.0\.1:\d+\/items\/R01-0001\. Accessed [A-Z][a-z]+ \d{1,2}, \d{4}\.$/);
        expect(en).not.toMatch(/[（）「」]|大正/);
        expect(ja).toMatch(/^.*"東京駅丸ノ内口"\. 非公開画像アーカイブ\. 1914, 写真\. .*R01-0001\. http:\/\/127\.0\.0\.1:\d+\/items\/R01-0001, \(参照 \d{4}-\d{2}-\d{2}\)\.$/);
        expect(await page.locator('[data-testid=citation-en]').getAttribute('lang')).toBe('en');
        expect(await page.locator('[data-testid=citation-ja]').getAttribute('lang')).toBe('ja');
        expect(await overflowX(page), `${lang} item page at ${width}`).toBeLessThanOrEqual(0);
        await page.screenshot({ path: path.join(ARTIFACTS, `h5-citation-${width}-${lang}.png`), fullPage: true });
      }
      // The copy button copies the citation it stands next to.
      await page.goto(`${base}/items/R01-0001?lang=ja`);
      await waitForIslands(page);
      const sist = (await page.locator('[data-testid=citation-ja]').innerText()).replace(/^SIST 02:\s*/, '');
      await page.locator('.citation .copyline', { has: page.locator('[data-testid=citation-ja]') }).getByRole('button').click();
      await expect.poll(() => page.evaluate(() => navigator.clipboard.readText()), { timeout: 20_000 }).toBe(sist);
      // A page of a multi-image item is cited as that page.
      await page.goto(`${base}/items/${album}?lang=en&canvas=${albumPage2}`);
      const pageCite = await page.locator('[data-testid=citation-en]').innerText();
      expect(pageCite).toMatch(/Image 2 of \d+\./);
      expect(pageCite).toContain(`/items/${album}?canvas=${albumPage2}.`);
      // The export links name the three formats and answer with them.
      const links = page.locator('[data-testid=cite-exports] a');
      expect(await links.allInnerTexts()).toEqual(['RIS', 'BibTeX', 'CSL-JSON']);
      const href = await links.nth(0).getAttribute('href');
      const ris = await (await fetch(base + href)).text();
      expect(ris).toMatch(/^TY {2}- ART/);
      await ctx.close();
    }, 180_000);

    test(`admin page at ${width} px: staff language, states and next commands, bad rows, local times, no sideways scrolling`, async () => {
      const runs = path.join(dataDir, 'ingest-runs.jsonl');
      const saved = existsSync(runs) ? readFileSync(runs, 'utf8') : '';
      // The last index run skipped two rows (what `archive index` records since issue 19.7).
      const fake = {
        stage: 'index',
        startedAt: '2026-11-30T23:59:58.000Z',
        finishedAt: '2026-12-01T00:00:00.123Z',
        seconds: 2.1,
        exitCode: 1,
        summary: 'indexed 38 records from 2 workbooks in 2 batches; 2 rows skipped',
        counts: { records: 38, inserted: 0, updated: 38, skipped: 2, workbooks: 2 },
        problems: [
          { file: 'R01/目録.xlsx', sheet: '目録', row: 7, message: 'no title (タイトル is empty)' },
          { file: 'R02/catalogue.xlsx', sheet: 'Sheet1', row: 12, message: 'image file R02-0012.jpg not found in the batch' },
        ],
      };
      writeFileSync(runs, saved + JSON.stringify(fake) + '\n');
      try {
        const ctx = await browser.newContext({ viewport: { width, height: 900 }, locale: 'ja-JP', timezoneId: 'Asia/Tokyo' });
        const page = await ctx.newPage();
        await page.goto(`${base}/admin?lang=ja`);
        await waitForIslands(page);
        const status = page.locator('[data-testid=ingest-status]');
        await status.waitFor({ state: 'visible', timeout: 30_000 });
        // No S3 here: honest figures (no "not in S3" columns), a state per batch in Japanese.
        expect(await page.locator('[data-testid=s3-line]').innerText()).toContain('アップロード待ちの資料はありません');
        expect(await page.locator('[data-testid=batches] thead').innerText()).not.toContain('S3');
        const states = await page.locator('[data-testid=batches] tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-state')));
        expect(states.length).toBeGreaterThan(0);
        expect(states.every((s) => s === 'local')).toBe(true);
        expect(await page.locator('[data-testid=batches] tbody tr').first().innerText()).toContain('完了');
        // The bad rows of the last index run, with file, sheet and row, and what to run next.
        const bad = await page.locator('[data-testid=bad-rows]').innerText();
        expect(bad).toContain('R01/目録.xlsx [目録] 行 7');
        expect(bad).toContain('R02/catalogue.xlsx [Sheet1] 行 12');
        expect(bad).toContain('npm run index');
        // Stage names and figures in Japanese; times local (Tokyo), minutes, no milliseconds.
        const index = await page.locator('[data-testid=runs] tr[data-stage=index]').innerText();
        expect(index).toContain('索引');
        expect(index).toContain('一部スキップ');
        expect(index).toContain('資料 38 · 新規 0 · 更新 38 · スキップした行 2');
        expect(index).toMatch(/2026年12月1日 09:00/);
        expect(index).not.toMatch(/\.123|T00:00/);
        expect(await overflowX(page), `admin at ${width}`).toBeLessThanOrEqual(0);
        await page.screenshot({ path: path.join(ARTIFACTS, `h5-admin-${width}-ja.png`), fullPage: true });
        await page.goto(`${base}/admin?lang=en`);
        await waitForIslands(page);
        expect(await page.locator('[data-testid=runs] tr[data-stage=index]').innerText()).toContain('38 records · 0 new · 38 updated · 2 rows skipped');
        expect(await overflowX(page), `admin (en) at ${width}`).toBeLessThanOrEqual(0);
        await page.screenshot({ path: path.join(ARTIFACTS, `h5-admin-${width}-en.png`), fullPage: true });
        await ctx.close();
      } finally {
        writeFileSync(runs, saved);
      }
    }, 120_000);
  }

  test('compare: a toggle on item pages, a compact tray that states its maximum, back links that keep the search', async () => {
    const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: 'en-GB' });
    const page = await ctx.newPage();
    // Back link: the search with its query and filter survives a visit to an item.
    const search = `/?q=${encodeURIComponent('東京')}&batch=R01&lang=en`;
    await page.goto(base + search);
    await waitForIslands(page);
    const first = page.locator('ol.results li').first();
    const id = await first.getAttribute('data-item-id');
    await first.locator('h2 a').click();
    await page.waitForURL(`**/items/${id}**`);
    await waitForIslands(page);
    const back = page.locator('[data-testid=back-link]');
    await expect.poll(() => back.getAttribute('href'), { timeout: 20_000 }).toBe(`/?q=${encodeURIComponent('東京')}&batch=R01`);
    // The item page's own compare toggle marks it; the mark shows in the search results.
    const toggle = page.locator(`[data-testid=compare-toggle][data-id="${id}"]`);
    await toggle.click();
    await expect.poll(() => toggle.getAttribute('aria-pressed'), { timeout: 20_000 }).toBe('true');
    await back.click();
    await page.waitForURL('**/?q=**');
    await waitForIslands(page);
    expect(await page.locator(`[data-testid=compare-toggle][data-id="${id}"]`).getAttribute('aria-pressed')).toBe('true');
    // Fill the tray to its maximum: the others are refused with a reason, and the tray stays small.
    const all = await (await fetch(`${base}/api/search.json?size=20&lang=en`)).json();
    await page.goto(`${base}/?size=20&lang=en`);
    await waitForIslands(page);
    const toggles = page.locator('[data-testid=compare-toggle]');
    for (const item of all.items as Array<{ id: string }>) {
      const n = await page.evaluate(() => JSON.parse(localStorage.getItem('archive.compare') ?? '[]').length);
      if (n >= 8) break;
      const tg = page.locator(`[data-testid=compare-toggle][data-id="${item.id}"]`);
      if ((await tg.getAttribute('aria-pressed')) !== 'true') await tg.click();
      await expect.poll(() => tg.getAttribute('aria-pressed'), { timeout: 20_000 }).toBe('true');
    }
    await expect.poll(() => page.locator('[data-testid=compare-count]').innerText(), { timeout: 20_000 }).toContain('8 selected (at most 8)');
    const full = page.locator('[data-testid=compare-full]');
    expect(await full.innerText()).toContain('At most 8 items');
    const refused = toggles.and(page.locator('[aria-pressed=false]')).first();
    expect(await refused.isDisabled()).toBe(true);
    expect(await refused.getAttribute('title')).toContain('At most 8 items');
    // Disabled looks disabled.
    expect(Number(await refused.evaluate((el) => getComputedStyle(el).opacity))).toBeLessThan(0.7);
    const trayHeight = await page.locator('[data-testid=compare-tray]').evaluate((el) => el.getBoundingClientRect().height);
    expect(trayHeight).toBeLessThan(200);
    expect(await overflowX(page)).toBeLessThanOrEqual(0);
    await page.screenshot({ path: path.join(ARTIFACTS, 'h5-compare-tray-390.png') });
    await page.locator('[data-testid=compare-tray] button', { hasText: 'Clear selection' }).click();
    await ctx.close();
  }, 180_000);

  test('Japanese is not broken inside words at 390 px; unknown paths get the site’s 404 page', async () => {
    const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: 'ja-JP' });
    const page = await ctx.newPage();
    await page.goto(`${base}/items/R01-0001?lang=ja`);
    const style = await page.locator('dl.record dd').first().evaluate((el) => ({ wb: getComputedStyle(el).wordBreak, lb: getComputedStyle(el).lineBreak }));
    expect(style).toEqual({ wb: 'keep-all', lb: 'strict' });
    expect(await overflowX(page)).toBeLessThanOrEqual(0);
    // Mirador's own Japanese table says "1 of 4"; ours says "1 / 4".
    await page.goto(`${base}/items/${album}?lang=ja`);
    const viewer = page.locator('.mirador-viewer');
    await expect.poll(async () => ((await viewer.count()) ? viewer.innerText() : ''), { timeout: 60_000 }).toMatch(/1 \/ \d+/);
    expect(await viewer.innerText()).not.toMatch(/\d+ of \d+/);
    const r = await page.goto(`${base}/no/such/page?lang=ja`);
    expect(r?.status()).toBe(404);
    expect(await page.locator('[data-testid=not-found]').innerText()).toBe('ページが見つかりません');
    expect(await page.locator('header.site').isVisible()).toBe(true);
    await page.screenshot({ path: path.join(ARTIFACTS, 'h5-404-390.png') });
    await ctx.close();
  }, 120_000);
});
