/**
 * The viewers as researchers use them (issues 19.1–19.3 and 15.1–15.3): the viewer fills the
 * screen at phone and desktop widths, the address bar is a citable link to what is shown, linked
 * views in a comparison, image tools in every window, adding a marked item to an open comparison.
 */
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { ARTIFACTS, hasChromium, launchBrowser, NO_CHROMIUM_REASON } from '../helpers/browser.ts';

const base = inject('baseUrl');
if (!hasChromium) console.warn(`viewer browser tests ${NO_CHROMIUM_REASON}`);

interface SearchItem {
  id: string;
  title: { ja?: string; en?: string };
  images: unknown[];
}

async function allItems(): Promise<SearchItem[]> {
  const r = await fetch(`${base}/api/search.json?q=&pageSize=100`);
  return ((await r.json()) as { items: SearchItem[] }).items;
}

async function canvasesOf(id: string): Promise<Array<{ id: string; width: number; height: number }>> {
  const m = (await (await fetch(`${base}/api/iiif/${id}/manifest.json`)).json()) as { items: Array<{ id: string; width: number; height: number }> };
  return m.items;
}

/** Waits until every window of the page's viewer has painted tiles and reported its viewport. */
async function viewerReady(page: Page, windows = 1): Promise<void> {
  await page.waitForFunction(
    (n) => {
      const v = window.archiveViewers?.[0];
      if (!v) return false;
      const s = v.store.getState();
      const ids = Object.keys(s.windows);
      return ids.length === n && ids.every((id) => s.viewers[id]?.zoom) && document.querySelectorAll('.openseadragon-canvas canvas').length >= n;
    },
    windows,
    { timeout: 120_000 },
  );
}

/** What window `i` shows, relative to its canvas: centre and width as fractions of the canvas. */
async function relativeView(page: Page, i: number): Promise<{ cx: number; cy: number; w: number; canvasId: string }> {
  return page.evaluate((index) => {
    const v = window.archiveViewers![0]!;
    const s = v.store.getState() as unknown as {
      windows: Record<string, { manifestId: string; canvasId: string }>;
      manifests: Record<string, { json: { items: Array<{ id: string; width: number; height: number }> } }>;
    };
    const windowId = Object.keys(s.windows)[index]!;
    const w = s.windows[windowId]!;
    const canvas = s.manifests[w.manifestId]!.json.items.find((c) => c.id === w.canvasId)!;
    const b = window.Mirador!.archive!.visibleBounds(windowId)!;
    return { cx: (b.x + b.w / 2) / canvas.width, cy: (b.y + b.h / 2) / canvas.height, w: b.w / canvas.width, canvasId: w.canvasId };
  }, i);
}

/** Share of the viewport below the site header covered by the viewer's image areas. */
async function imageShare(page: Page): Promise<number> {
  return page.evaluate(() => {
    const top = document.querySelector('header.site')!.getBoundingClientRect().bottom;
    const vw = window.innerWidth;
    const vh = window.innerHeight;
    let area = 0;
    for (const el of document.querySelectorAll('.openseadragon-container')) {
      const r = el.getBoundingClientRect();
      const w = Math.max(0, Math.min(r.right, vw) - Math.max(r.left, 0));
      const h = Math.max(0, Math.min(r.bottom, vh) - Math.max(r.top, top));
      area += w * h;
    }
    return area / (vw * (vh - top));
  });
}

// Generous limits: the viewers load a 2 MB bundle and tiles on a machine that may be busy; every
// wait below is on a state, never a fixed delay.
describe.skipIf(!hasChromium)('viewers (browser)', { timeout: 240_000 }, () => {
  let browser: Browser;
  let items: SearchItem[];
  let single: SearchItem;
  let multi: SearchItem;
  const contexts: BrowserContext[] = [];
  const open = async (width: number, height: number, locale = 'ja-JP') => {
    const ctx = await browser.newContext({ viewport: { width, height }, locale });
    contexts.push(ctx);
    const page = await ctx.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    return { ctx, page, errors };
  };

  beforeAll(async () => {
    browser = await launchBrowser();
    mkdirSync(ARTIFACTS, { recursive: true });
    items = await allItems();
    single = items.find((i) => i.images.length === 1)!;
    multi = items.find((i) => i.images.length > 1)!;
    expect(single, 'the demo corpus has single-image items').toBeTruthy();
    expect(multi, 'the demo corpus has a multi-image item').toBeTruthy();
  });
  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close();
  });

  for (const [width, height] of [
    [390, 844],
    [1440, 900],
  ] as const) {
    test(`at ${width} px the item page's viewer comes first and fills ≥ 60 % of the screen below the header`, async () => {
      const { page, errors } = await open(width, height);
      await page.goto(`${base}/items/${single.id}`);
      await viewerReady(page);
      // The viewer is the first thing below the header, above the title and the record.
      const layout = await page.evaluate(() => ({
        header: document.querySelector('header.site')!.getBoundingClientRect().bottom,
        viewer: document.querySelector('[data-testid=mirador]')!.getBoundingClientRect().top,
        title: document.querySelector('main#main article > h1')!.getBoundingClientRect().top,
      }));
      expect(layout.viewer - layout.header).toBeLessThan(24);
      expect(layout.title).toBeGreaterThan(layout.viewer);
      await expect.poll(() => imageShare(page), { timeout: 30_000 }).toBeGreaterThanOrEqual(0.6);
      // One image: no thumbnail strip; fullscreen offered.
      expect(await page.locator('.mirador-thumb-navigation').count()).toBe(0);
      expect(await page.locator('.mirador-window-top-bar button[aria-label="全画面"]').count()).toBe(1);
      // Nothing overflows sideways.
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(width);
      await page.screenshot({ path: path.join(ARTIFACTS, `viewer-item-${width}.png`) });

      // A multi-image item shows its thumbnails.
      await page.goto(`${base}/items/${multi.id}`);
      await viewerReady(page);
      await expect.poll(() => page.locator('.mirador-thumb-navigation').count(), { timeout: 30_000 }).toBe(1);
      expect(errors).toEqual([]);
    });

    test(`at ${width} px the comparison uses the whole workspace (≥ 60 % of the screen below the header)`, async () => {
      const { page, errors } = await open(width, height);
      await page.goto(`${base}/view?items=${items[0]!.id},${items[1]!.id}`);
      await viewerReady(page, 2);
      await expect.poll(() => imageShare(page), { timeout: 30_000 }).toBeGreaterThanOrEqual(0.6);
      // The workspace spans the window (no capped width) and the windows tile it to the right and bottom edges.
      const box = await page.locator('[data-testid=mirador]').boundingBox();
      expect(box!.x).toBeLessThanOrEqual(1);
      expect(box!.width).toBeGreaterThanOrEqual(width - 2);
      const edges = await page.evaluate(() => {
        const rects = [...document.querySelectorAll('.mirador-window')].map((w) => w.getBoundingClientRect());
        return { right: Math.max(...rects.map((r) => r.right)), bottom: Math.max(...rects.map((r) => r.bottom)), w: innerWidth, h: innerHeight };
      });
      expect(edges.right).toBeGreaterThanOrEqual(edges.w - 12);
      expect(edges.bottom).toBeGreaterThanOrEqual(edges.h - 12);
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(width);
      await page.screenshot({ path: path.join(ARTIFACTS, `viewer-compare-${width}.png`) });
      expect(errors).toEqual([]);
    });
  }

  test('the address bar cites what is shown: another image of the item, zoomed; reopened elsewhere it shows the same', async () => {
    const { page, errors } = await open(1440, 900, 'en-US');
    await page.goto(`${base}/items/${multi.id}`);
    await viewerReady(page);
    const canvases = await canvasesOf(multi.id);
    const history0 = await page.evaluate(() => history.length);

    // The second image of the item, then zoom in twice.
    await page.locator('button[aria-label="Next item"]').click();
    const secondImage = canvases[1]!.id.split('/').pop()!;
    await page.waitForURL((u) => u.searchParams.get('canvas') === secondImage, { timeout: 60_000 });
    // Zoom in until a part of the image is shown (a click landing while the new image is still
    // being fitted can be undone by that fit, so click again rather than wait a fixed time).
    const zoomIn = page.locator('button[aria-label="Zoom in"]');
    await expect
      .poll(
        async () => {
          if ((await relativeView(page, 0)).w < 0.6) return true;
          await zoomIn.click();
          return false;
        },
        { timeout: 60_000, interval: 1000 },
      )
      .toBe(true);
    await page.waitForURL((u) => u.pathname === `/items/${multi.id}` && !!u.searchParams.get('xywh'), { timeout: 60_000 });
    // Wait for the zoom to settle: the address stops changing.
    let last = '';
    await expect
      .poll(
        async () => {
          const now = page.url();
          const same = now === last;
          last = now;
          return same;
        },
        { timeout: 60_000, interval: 700 },
      )
      .toBe(true);
    const cited = page.url();
    const canvas = canvases[1]!;
    const [x, y, w, h] = new URL(cited).searchParams.get('xywh')!.split(',').map(Number) as [number, number, number, number];
    const citedView = { cx: (x + w / 2) / canvas.width, cy: (y + h / 2) / canvas.height, w: w / canvas.width };
    const close = (a: { cx: number; cy: number; w: number }, b: { cx: number; cy: number; w: number }) =>
      Math.abs(a.cx - b.cx) < 0.01 && Math.abs(a.cy - b.cy) < 0.01 && Math.abs(a.w - b.w) < 0.01;
    // The address names what is on screen.
    const shown = await relativeView(page, 0);
    expect(shown.canvasId).toBe(canvas.id);
    expect(shown.w).toBeLessThan(0.6);
    expect(close(shown, citedView), `${JSON.stringify(shown)} vs ${cited}`).toBe(true);

    // Replaced, not pushed: zooming adds no history entries.
    expect(await page.evaluate(() => history.length)).toBe(history0);
    // The link box and the language switch follow the address bar.
    await expect.poll(() => page.locator('[data-testid=view-link]').inputValue(), { timeout: 30_000 }).toBe(cited);
    const sw = await page.locator('[data-testid=lang-switch]').getAttribute('href');
    expect(sw).toContain(`xywh=`);
    expect(sw).toContain(`canvas=${secondImage}`);

    // A new browser context opening the cited address shows the item page, same image, same region.
    const other = await open(1440, 900, 'en-US');
    await other.page.goto(cited);
    await viewerReady(other.page);
    expect(await other.page.locator('h1').first().innerText()).not.toBe('');
    expect(await other.page.locator('[data-testid=permalink]').innerText()).toBe(`${base}/items/${multi.id}`);
    await expect
      .poll(async () => {
        const again = await relativeView(other.page, 0);
        return again.canvasId === canvas.id && close(again, citedView);
      }, { timeout: 60_000 })
      .toBe(true);
    expect(errors).toEqual([]);
    expect(other.errors).toEqual([]);
  });

  test('linked views: zooming window 1 moves window 2 to the same relative region; the link carries it', async () => {
    // Two items whose images differ in pixel size, so the mapping is canvas-relative for real.
    const sizes = await Promise.all(items.slice(0, 12).map(async (i) => ({ id: i.id, c: (await canvasesOf(i.id))[0]! })));
    const a = sizes[0]!;
    const b = sizes.find((s) => s.c.width !== a.c.width || s.c.height !== a.c.height) ?? sizes[1]!;
    const { page, errors } = await open(1440, 900, 'en-US');
    await page.goto(`${base}/view?items=${a.id},${b.id}`);
    await viewerReady(page, 2);
    await page.locator('[data-testid=link-views]').check();
    await page.waitForURL((u) => u.searchParams.get('link') === 'relative', { timeout: 60_000 });

    // Zoom window 1 with the mouse wheel over its image, a little off-centre.
    const osd = page.locator('.openseadragon-container').first();
    const box = (await osd.boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.35, box.y + box.height * 0.4);
    for (let i = 0; i < 3; i++) await page.mouse.wheel(0, -200);
    const follows = async () => {
      const one = await relativeView(page, 0);
      const two = await relativeView(page, 1);
      return one.w < 0.95 && Math.abs(one.cx - two.cx) < 0.01 && Math.abs(one.cy - two.cy) < 0.01 && Math.abs(one.w - two.w) < 0.01;
    };
    await expect.poll(follows, { timeout: 60_000 }).toBe(true);
    await page.screenshot({ path: path.join(ARTIFACTS, 'linked-comparison.png') });

    // The address bar carries the linking; reopened, the views are linked again and aligned.
    await expect.poll(() => new URL(page.url()).searchParams.getAll('xywh').filter(Boolean).length, { timeout: 60_000 }).toBe(2);
    // Cite the settled view: the same address on three polls in a row, spaced wider than the
    // address bar's 300 ms debounce (a zoom still animating is not the view to cite).
    const seen: string[] = [];
    await expect
      .poll(() => {
        seen.push(page.url());
        const last = seen.slice(-3);
        return last.length === 3 && last.every((u) => u === last[0]);
      }, { timeout: 60_000, interval: 500 })
      .toBe(true);
    const cited = page.url();
    expect(new URL(cited).searchParams.get('link')).toBe('relative');
    const other = await open(1440, 900, 'en-US');
    await other.page.goto(cited);
    await viewerReady(other.page, 2);
    // The link switch renders after the windows (a loaded machine once took over 30 s, the action
    // timeout isChecked() waits): wait for the switch itself, then read it.
    await other.page.locator('[data-testid=link-views]').waitFor({ timeout: 120_000 });
    expect(await other.page.locator('[data-testid=link-views]').isChecked()).toBe(true);
    // The reopened view lands on the cited one (once its opening animation has settled).
    const aligned = async () => {
      const restored = await relativeView(other.page, 0);
      const before = await relativeView(page, 0);
      return Math.abs(restored.cx - before.cx) < 0.01 && Math.abs(restored.w - before.w) < 0.01;
    };
    await expect.poll(aligned, { timeout: 60_000 }).toBe(true);
    // The Content State form carries it too.
    await other.page.locator('[data-testid=copy-content-state]').waitFor();
    expect(errors).toEqual([]);
    expect(other.errors).toEqual([]);
  });

  test('image tools: off by default, shown from the window menu in Japanese, invert changes the canvas', async () => {
    const { page, errors } = await open(1440, 900, 'ja-JP');
    await page.goto(`${base}/items/${single.id}`);
    await viewerReady(page);
    expect(await page.locator('button[aria-label="画像ツールを開く"]').count()).toBe(0);
    await page.locator('.mirador-window-top-bar button[aria-label="ウインドウオプション"]').click();
    await page.getByRole('menuitem', { name: '画像ツールを表示' }).click();
    await page.locator('button[aria-label="画像ツールを開く"]').click();
    // The tools filter OpenSeadragon's drawing area (the element around its <canvas>).
    const canvas = page.locator('.openseadragon-canvas').first();
    const before = await canvas.screenshot();
    const invert = page.getByRole('button', { name: /色を反転|反転/ }).first();
    await invert.click();
    await expect.poll(() => canvas.evaluate((c) => (c as HTMLElement).style.filter), { timeout: 30_000 }).toMatch(/invert\(100%\)/);
    await expect.poll(async () => Buffer.compare(await canvas.screenshot(), before) !== 0, { timeout: 30_000 }).toBe(true);
    await page.screenshot({ path: path.join(ARTIFACTS, 'image-tools-invert.png') });
    expect(errors).toEqual([]);
  });

  test('an item marked in the search results can be added to an open comparison without leaving it', async () => {
    const { page, errors } = await open(1440, 900, 'en-US');
    const [a, b, c] = items;
    await page.goto(`${base}/`);
    await page.evaluate(
      (list) => localStorage.setItem('archive.compare', JSON.stringify(list)),
      [a!, b!, c!].map((i) => ({ id: i.id, title: i.title.en ?? i.id })),
    );
    await page.goto(`${base}/view?items=${a!.id},${b!.id}`);
    await viewerReady(page, 2);
    const add = page.locator(`[data-testid=view-tray-add][data-id="${c!.id}"]`);
    await add.waitFor({ timeout: 60_000 });
    await add.click({ timeout: 60_000 });
    await viewerReady(page, 3);
    await page.waitForURL((u) => (u.searchParams.get('items') ?? '').split(',').includes(c!.id), { timeout: 60_000 });
    expect(await page.locator('[data-testid=view-tray-add]').count()).toBe(0);
    expect(await page.evaluate(() => location.pathname)).toBe('/view');
    expect(errors).toEqual([]);
  });
});

describe('a damaged view link is explained in the reader’s language', () => {
  test.each([
    ['ja', 'リンクが壊れています'],
    ['en', 'The link is damaged'],
  ])('%s', async (lang, text) => {
    const items = await allItems();
    const good = await fetch(`${base}/view?items=${items[0]!.id}`, { headers: { 'Accept-Language': lang } });
    expect(good.status).toBe(200);
    // A Content State link with one character cut off.
    const state = Buffer.from(encodeURIComponent(JSON.stringify({ type: 'Annotation', target: { id: `${base}/api/iiif/${items[0]!.id}/manifest.json`, type: 'Manifest' } }))).toString('base64url');
    const r = await fetch(`${base}/view?iiif-content=${state.slice(0, -1)}`, { headers: { 'Accept-Language': lang } });
    expect(r.status).toBe(400);
    const html = await r.text();
    expect(html).toContain(text);
    expect(html).not.toContain('does not decode');
  });
});

describe('the viewer bundle', () => {
  test('is Mirador with the archive’s plugins (image tools, linked views), served with a validator', async () => {
    const r = await fetch(`${base}/vendor/mirador.min.js`);
    expect(r.status).toBe(200);
    const body = await r.text();
    expect(body).toContain('imageToolsEnabled');
    expect(body).toContain('archive/SET_LINKED_VIEWS');
    const etag = r.headers.get('etag')!;
    expect(etag).toBeTruthy();
    const again = await fetch(`${base}/vendor/mirador.min.js`, { headers: { 'If-None-Match': etag } });
    expect(again.status).toBe(304);
  });
});
