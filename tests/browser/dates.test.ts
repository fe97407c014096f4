/**
 * Dates you can search (issue 15.4) in the browser: the reader types 大正 → 昭和 into the year
 * filter and chooses oldest first; every result's year range (parsed from its date, as the store
 * does at index time) overlaps 1912–1989, the results come oldest first, the page shows the same
 * records as /api/search.json for the same URL, and a decade of the decade facet narrows the list.
 * Screenshot: test-results/dates-filter.png.
 */
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { ARTIFACTS, hasChromium, launchBrowser, NO_CHROMIUM_REASON, STATE_TIMEOUT, waitForIslands } from '../helpers/browser.ts';
import { parseDateRange } from '../../src/lib/dates/range.ts';

const base = inject('baseUrl');
if (!hasChromium) console.warn(`date filter browser test ${NO_CHROMIUM_REASON}`);

interface ApiItem {
  id: string;
  date?: string;
}

describe.skipIf(!hasChromium)('date filter (browser)', () => {
  let browser: Browser;
  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
  });

  test('大正 → 昭和, oldest first: every result within, in date order; a decade narrows it', async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'ja-JP' });
    const page = await ctx.newPage();
    await page.goto(`${base}/?lang=ja`);
    await waitForIslands(page);
    const everything = Number((await page.locator('[data-testid=hit-count]').innerText()).replace(/\D/g, ''));

    await page.locator('#from').fill('大正');
    await page.locator('#to').fill('昭和');
    await page.locator('#sort').selectOption('oldest');
    await Promise.all([page.waitForURL(/[?&]from=/, { timeout: STATE_TIMEOUT }), page.locator('form.search button[type=submit]').click()]);
    await waitForIslands(page);

    const url = new URL(page.url());
    expect([url.searchParams.get('from'), url.searchParams.get('to'), url.searchParams.get('sort')]).toEqual(['大正', '昭和', 'oldest']);
    // The inputs keep what was typed.
    expect([await page.locator('#from').inputValue(), await page.locator('#to').inputValue()]).toEqual(['大正', '昭和']);

    const shown = await page.locator('ol.results > li').evaluateAll((lis) => lis.map((li) => li.getAttribute('data-item-id')!));
    const total = Number((await page.locator('[data-testid=hit-count]').innerText()).replace(/\D/g, ''));
    expect(shown.length).toBeGreaterThan(0);
    expect(total).toBeLessThan(everything); // the Meiji photographs are gone

    // The same URL as JSON: the same records in the same order, with their dates.
    const api = (await (await fetch(`${base}/api/search.json${url.search}`)).json()) as { total: number; items: ApiItem[] };
    expect(api.total).toBe(total);
    expect(api.items.map((i) => i.id)).toEqual(shown);
    const ranges = api.items.map((i) => ({ id: i.id, date: i.date, range: parseDateRange(i.date) }));
    for (const r of ranges) {
      expect(r.range, `${r.id} ${r.date}`).not.toBeNull();
      expect(r.range!.to, `${r.id} ${r.date}`).toBeGreaterThanOrEqual(1912);
      expect(r.range!.from, `${r.id} ${r.date}`).toBeLessThanOrEqual(1989);
    }
    for (let k = 1; k < ranges.length; k++) {
      const [a, b] = [ranges[k - 1]!.range!, ranges[k]!.range!];
      expect(a.from < b.from || (a.from === b.from && a.to <= b.to), `${ranges[k - 1]!.id} before ${ranges[k]!.id}`).toBe(true);
    }
    await page.screenshot({ path: path.join(ARTIFACTS, 'dates-filter.png'), fullPage: true });

    // The decade facet: 1920s narrows to records touching 1920–1929, oldest first still.
    const decade = page.locator('[data-testid=decade-facet] a[data-value="1920"]');
    const count = Number((await decade.locator('span').last().innerText()).replace(/\D/g, ''));
    await Promise.all([page.waitForURL(/from=1920&to=1929/, { timeout: STATE_TIMEOUT }), decade.click()]);
    await waitForIslands(page);
    expect(Number((await page.locator('[data-testid=hit-count]').innerText()).replace(/\D/g, ''))).toBe(count);
    expect(new URL(page.url()).searchParams.get('sort')).toBe('oldest');
    const narrowed = (await (await fetch(`${base}/api/search.json${new URL(page.url()).search}&size=100`)).json()) as { items: ApiItem[] };
    for (const i of narrowed.items) {
      const r = parseDateRange(i.date)!;
      expect(r.to >= 1920 && r.from <= 1929, `${i.id} ${i.date}`).toBe(true);
    }
    await ctx.close();
  });
});
