/**
 * Issue 11.2 in Chromium: private bytes must not be readable by another origin of the same site
 * from the browser cache. A staff user views a restricted item on the archive (cloudflare mode),
 * then a page on another loopback port — once an origin the archive does not know, once one listed
 * in IIIF_AUTH_ORIGINS — runs `fetch(url, {credentials: 'omit', cache: 'force-cache'})` for the
 * manifest, the collection, the info.json and a tile. It must fail to read anything: no
 * `Access-Control-Allow-Origin: *`, and `Cache-Control: private, no-store` leaves nothing cached.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Browser } from 'playwright-core';
import { freePort, SERVER_START_TIMEOUT_MS, startServer, type RunningServer } from '../helpers/server.ts';
import { hasChromium, launchBrowser, NO_CHROMIUM_REASON } from '../helpers/browser.ts';
import { FakeAccess } from './helpers/access.ts';

if (!hasChromium) console.log(`tests/security/cache.test.ts ${NO_CHROMIUM_REASON}`);

const STAFF = 'curator@example.org';

async function blankPage(port: number): Promise<http.Server> {
  const s = http.createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>other origin</title><p>other origin</p>');
  });
  await new Promise<void>((r) => s.listen(port, '127.0.0.1', r));
  return s;
}

describe.runIf(hasChromium)('cached private bytes and another origin of the same site', () => {
  let fa: FakeAccess;
  let archive: RunningServer;
  let browser: Browser;
  let strangerUrl: string;
  let allowedUrl: string;
  const pages: http.Server[] = [];

  beforeAll(async () => {
    const [a, b] = [await freePort(), await freePort()];
    strangerUrl = `http://127.0.0.1:${a}`;
    allowedUrl = `http://127.0.0.1:${b}`;
    pages.push(await blankPage(a), await blankPage(b));
    fa = await FakeAccess.start();
    archive = await startServer({
      ...fa.env(),
      ACCESS_RULES: JSON.stringify({ members: ['*@members.example.org'], staff: [STAFF] }),
      IIIF_AUTH_ORIGINS: allowedUrl,
    });
    browser = await launchBrowser();
  }, SERVER_START_TIMEOUT_MS + 100_000); // startServer's own bound, then a browser

  afterAll(async () => {
    await browser?.close();
    await archive?.stop();
    await fa?.close();
    for (const s of pages) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  });

  test('after a staff user viewed a restricted item, neither origin reads its manifest, collection, info.json or tile', async () => {
    const ctx = await browser.newContext();
    await ctx.addCookies([{ name: 'CF_Authorization', value: await fa.token({ email: STAFF }), url: archive.baseUrl, httpOnly: true, sameSite: 'Lax' }]);
    const base = archive.baseUrl;
    const urls = [
      `${base}/api/iiif/R01-0013/manifest.json`,
      `${base}/api/iiif/collection?q=R01-0013`,
      `${base}/iiif/3/R01-0013/info.json`,
      `${base}/iiif/3/R01-0013/0,0,256,256/256,/0/default.jpg`,
    ];
    // The user's own session: the item page (Mirador) and each resource, read with credentials.
    const own = await ctx.newPage();
    await own.goto(`${base}/items/R01-0013`);
    const seen = await own.evaluate(async (list) => Promise.all(list.map(async (u) => (await fetch(u, { credentials: 'include' })).status)), urls);
    expect(seen).toEqual([200, 200, 200, 200]);

    for (const origin of [strangerUrl, allowedUrl]) {
      const other = await ctx.newPage();
      await other.goto(`${origin}/`);
      const results = await other.evaluate(async (list) => {
        const out: string[] = [];
        for (const u of list) {
          try {
            const r = await fetch(u, { credentials: 'omit', cache: 'force-cache' });
            const body = await r.text();
            out.push(r.status === 200 ? `READ ${u}: ${body.length} bytes` : `refused ${r.status}`);
          } catch {
            out.push('blocked');
          }
        }
        return out;
      }, urls);
      expect(results.filter((r) => r.startsWith('READ')), origin).toEqual([]);
      await other.close();
    }
    await ctx.close();
  });
});
