import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { createRequire } from 'node:module';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { ARTIFACTS, hasChromium, launchBrowser, NO_CHROMIUM_REASON, STATE_TIMEOUT, waitForIslands } from '../helpers/browser.ts';
import { decodeContentState, parseContentState } from '../../src/lib/iiif/content-state.ts';

const base = inject('baseUrl');
if (!hasChromium) console.warn(`research workflow browser tests ${NO_CHROMIUM_REASON}`);

/** Each window of the page's first Mirador viewer: manifest, canvas, and whether its viewport is set. */
async function viewerState(page: Page): Promise<Array<{ manifestId: string; canvasId?: string; ready: boolean }>> {
  return page.evaluate(() => {
    const v = (window as any).archiveViewers?.[0];
    if (!v) return [];
    const s = v.store.getState();
    return Object.entries(s.windows).map(([id, w]: [string, any]) => ({ manifestId: w.manifestId, canvasId: w.canvasId, ready: !!s.viewers[id]?.zoom }));
  });
}

async function waitForCanvas(page: Page, windows: number) {
  await expect.poll(async () => (await viewerState(page)).filter((w) => w.canvasId && w.ready).length, { timeout: STATE_TIMEOUT }).toBe(windows);
}

/** The windows (manifest, canvas, region) a /view?iiif-content= link describes. */
function linkTargets(link: string): Array<{ manifestId: string; canvasId?: string; region?: { x: number; y: number; w: number; h: number } }> {
  return parseContentState(decodeContentState(new URL(link).searchParams.get('iiif-content')!));
}

/**
 * The link the page's viewer offers once the view has settled: the viewers' state (zoom, centre)
 * and the link are the same on three polls in a row, spaced wider than the link's 250 ms refresh,
 * so an animation in progress or a pending refresh is never read as the answer.
 */
async function currentLink(page: Page): Promise<string> {
  const button = page.locator('[data-testid=copy-content-state]');
  const read = async () => {
    const viewers = await page.evaluate(() => JSON.stringify((window as any).archiveViewers?.[0]?.store.getState().viewers ?? null));
    return `${viewers}\n${(await button.getAttribute('data-link')) ?? ''}`;
  };
  const seen: string[] = [];
  await expect
    .poll(
      async () => {
        seen.push(await read());
        const last = seen.slice(-3);
        return last.length === 3 && last.every((v) => v === last[0]) && last[0]!.includes('iiif-content=');
      },
      { timeout: STATE_TIMEOUT, interval: 400 },
    )
    .toBe(true);
  return (await button.getAttribute('data-link'))!;
}

function close(a: number, b: number, scale: number) {
  return Math.abs(a - b) <= Math.max(2, scale * 0.02);
}

describe.skipIf(!hasChromium)('research workflow (browser)', { timeout: 180_000 }, () => {
  let browser: Browser;
  const ids: string[] = [];

  beforeAll(async () => {
    browser = await launchBrowser();
    const res = await (await fetch(`${base}/api/search.json?q=${encodeURIComponent('東京')}&size=3`)).json();
    ids.push(...res.items.map((i: any) => i.id));
  });
  afterAll(async () => {
    await browser?.close();
  });

  test('zoom into a region of a multi-window workspace, copy the link, reopen it elsewhere: same canvases and regions', async () => {
    const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 }, locale: 'en-GB' });
    await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
    const page = await ctx.newPage();
    await page.goto(`${base}/view?items=${ids[0]},${ids[1]}`);
    await waitForCanvas(page, 2);

    // Zoom the first window in with the mouse wheel, off-centre, as a reader would.
    await currentLink(page);
    // Fully zoomed out, a link names the canvas without a region: the start is what the window shows.
    const startWidth = await page.evaluate(() => {
      const v = (window as any).archiveViewers[0];
      return (window as any).Mirador.archive.visibleBounds(Object.keys(v.store.getState().windows)[0]).w as number;
    });
    const osd = await page.locator('.mirador-window').first().locator('.openseadragon-canvas').boundingBox();
    await page.mouse.move(osd!.x + osd!.width * 0.35, osd!.y + osd!.height * 0.4);
    for (let i = 0; i < 3; i++) {
      await page.mouse.wheel(0, -400);
      await currentLink(page); // each step's zoom has landed before the next
    }
    const link = await currentLink(page);
    const before = linkTargets(link);
    expect(before).toHaveLength(2);
    expect(before[0]!.region!.w).toBeLessThan(startWidth * 0.9);

    // Besides the short address, the Content State form that other IIIF viewers read.
    await page.locator('[data-testid=copy-content-state]').click();
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    expect(copied).toBe(link);
    expect(copied.startsWith(`${base}/view?iiif-content=`)).toBe(true);

    // A colleague opens the link in a fresh browser context of the same size.
    const other = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const fresh = await other.newPage();
    await fresh.goto(copied);
    await waitForCanvas(fresh, 2);
    const after = linkTargets(await currentLink(fresh));
    expect(after.map((w) => w.manifestId)).toEqual(before.map((w) => w.manifestId));
    expect(after.map((w) => w.canvasId)).toEqual(before.map((w) => w.canvasId));
    // The reopened window shows the cited region, at the same scale (same viewport size).
    const [b, a] = [before[0]!.region!, after[0]!.region!];
    const scale = b.w;
    const detail = JSON.stringify({ cited: b, reopened: a });
    expect(a.x <= b.x + scale * 0.02 && a.y <= b.y + scale * 0.02, detail).toBe(true);
    expect(a.x + a.w >= b.x + b.w - scale * 0.02 && a.y + a.h >= b.y + b.h - scale * 0.02, detail).toBe(true);
    expect(close(a.w, b.w, scale) || close(a.h, b.h, b.h), detail).toBe(true);
    mkdirSync(ARTIFACTS, { recursive: true });
    await fresh.screenshot({ path: path.join(ARTIFACTS, 'deep-link.png') });
    await other.close();
    await ctx.close();
  });

  test('a search opens as a IIIF Collection in Mirador', async () => {
    const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
    const fetched: string[] = [];
    page.on('response', (r) => {
      if (r.url().includes('/api/iiif/collection') && r.status() === 200) fetched.push(r.url());
    });
    await page.goto(`${base}/?q=${encodeURIComponent('東京')}&lang=en`);
    const collectionUrl = (await page.locator('[data-testid=collection-url]').textContent())!.trim();
    await page.locator('[data-testid=open-collection]').click();
    await page.waitForURL(/\/view\?collection=/);
    // The page shows the URL decoded (readable); the browser fetches it percent-encoded.
    await expect.poll(() => fetched.some((u) => decodeURI(u) === decodeURI(collectionUrl)), { timeout: STATE_TIMEOUT }).toBe(true);
    // Mirador opens the collection's list: every manifest by its label; picking one shows it.
    const collection = await (await fetch(collectionUrl)).json();
    const labels: string[] = collection.items.map((i: any) => i.label.en?.[0] ?? i.label.ja?.[0]);
    expect(labels.length).toBeGreaterThan(1);
    // Mirador 4 lists the collection in a dialog; when that is closed, "Show collection" reopens it.
    const show = page.getByRole('button', { name: /show collection/i });
    const listed = page.getByText(labels[1]!, { exact: true });
    await expect.poll(async () => (await show.count()) + (await listed.count()), { timeout: STATE_TIMEOUT }).toBeGreaterThan(0);
    if ((await listed.count()) === 0) await show.click();
    await expect.poll(() => listed.count(), { timeout: STATE_TIMEOUT }).toBeGreaterThan(0);
    await page.getByText(labels[1]!, { exact: true }).first().click();
    await expect
      .poll(async () => (await viewerState(page))[0]?.manifestId, { timeout: STATE_TIMEOUT })
      .toBe(collection.items[1].id);
    await page.close();
  });

  test('switching the language switches Mirador’s labels too, and is remembered', async () => {
    const page = await browser.newPage({ viewport: { width: 1300, height: 900 }, locale: 'en-GB' });
    await page.goto(`${base}/items/${ids[0]}?lang=en`);
    await waitForCanvas(page, 1);
    await expect.poll(() => page.getByRole('button', { name: 'Zoom in' }).count(), { timeout: STATE_TIMEOUT }).toBeGreaterThan(0);
    expect(await page.locator('html').getAttribute('lang')).toBe('en');

    await page.locator('[data-testid=lang-switch]').click();
    await page.waitForURL(/lang=ja/);
    await waitForCanvas(page, 1);
    expect(await page.locator('html').getAttribute('lang')).toBe('ja');
    await expect.poll(() => page.getByRole('button', { name: 'ズームイン' }).count(), { timeout: STATE_TIMEOUT }).toBeGreaterThan(0);
    expect(await page.getByRole('button', { name: 'Zoom in' }).count()).toBe(0);

    // Remembered: a page without ?lang= stays Japanese despite the English browser.
    await page.goto(`${base}/`);
    expect(await page.locator('html').getAttribute('lang')).toBe('ja');
    await page.close();
  });

  test('keyboard alone: search, mark two results, open the comparison', async () => {
    const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
    await page.goto(`${base}/?lang=en`);
    await page.evaluate(() => localStorage.clear());
    await page.reload();
    await page.locator('#q').focus();
    await page.keyboard.type('東京');
    await page.keyboard.press('Enter');
    await page.waitForURL(/q=/);
    await waitForIslands(page);
    // Tab to the first two compare toggles and press them with the keyboard.
    for (let marked = 0; marked < 2; ) {
      await page.keyboard.press('Tab');
      const focused = await page.evaluate(() => document.activeElement?.getAttribute('data-testid'));
      if (focused === 'compare-toggle') {
        await page.keyboard.press('Enter');
        marked++;
      }
    }
    const open = page.locator('[data-testid=compare-open]');
    await expect.poll(() => open.count(), { timeout: STATE_TIMEOUT }).toBe(1);
    await open.focus();
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/view\?items=/);
    await expect.poll(() => page.locator('.mirador-window').count(), { timeout: STATE_TIMEOUT }).toBe(2);
    await page.close();
  });

  test('accessibility: no serious or critical axe violations on the search, item and view pages', async () => {
    const axePath = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
    // bypassCSP: axe is injected as an inline script, which the pages' Content-Security-Policy
    // rightly refuses; the audit is of the markup, not of the policy.
    const page = await browser.newPage({ viewport: { width: 1300, height: 900 }, bypassCSP: true });
    const report: string[] = [];
    for (const url of [`/?q=${encodeURIComponent('東京')}`, `/?lang=en`, `/items/${ids[0]}`, `/view?items=${ids[0]},${ids[1]}`]) {
      await page.goto(base + url);
      if (url.startsWith('/items') || url.startsWith('/view')) await waitForCanvas(page, url.startsWith('/view') ? 2 : 1);
      await page.addScriptTag({ path: axePath });
      // Mirador's own widget internals are excluded: they are a third-party component we do not author.
      const violations = await page.evaluate(async () => {
        const r = await (window as any).axe.run({ exclude: [['[data-testid=mirador]']] }, { resultTypes: ['violations'] });
        return r.violations.map((v: any) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length, help: v.help }));
      });
      for (const v of violations) report.push(`${url}: ${v.impact} ${v.id} (${v.nodes}) ${v.help}`);
    }
    console.log(report.length ? `axe findings:\n${report.join('\n')}` : 'axe: no violations');
    expect(report.filter((r) => / (serious|critical) /.test(r))).toEqual([]);
    await page.close();
  });

  test('phone width: no horizontal scrolling on the search and item pages', async () => {
    const page = await browser.newPage({ viewport: { width: 375, height: 740 }, isMobile: true });
    for (const url of [`/?q=${encodeURIComponent('東京')}`, `/items/${ids[0]}`]) {
      await page.goto(base + url);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      expect(overflow, url).toBeLessThanOrEqual(0);
    }
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.goto(`${base}/?q=${encodeURIComponent('東京')}`);
    await page.screenshot({ path: path.join(ARTIFACTS, 'phone-search.png') });
    await page.close();
  });
});
