/**
 * Two archive processes working as one (issue 17, docs/scaling.md): A and B on loopback share the
 * SQLite store (one DATA_DIR), an s3rver bucket (IMAGE_SOURCE=s3) and the derivative store in that
 * bucket (DERIVATIVE_STORE=s3, below derivatives/), each with its own CACHE_DIR, behind a small
 * round-robin proxy written here that also plays the authenticating front (header mode: it adds
 * the user's e-mail, as oauth2-proxy would).
 *
 *  - a pyramid built through A is served by B without a rebuild (counted: /readyz details);
 *  - a sign-out through one refuses the IIIF access token on the other;
 *  - a Mirador session whose requests alternate between A and B loads every tile it asks for.
 */
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import S3rver from 's3rver';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { freePort, startServer, type RunningServer } from '../helpers/server.ts';
import { ARTIFACTS, hasChromium, launchBrowser, NO_CHROMIUM_REASON, STATE_TIMEOUT } from '../helpers/browser.ts';

if (!hasChromium) console.log(`tests/integration/two-processes.test.ts: the Mirador part is ${NO_CHROMIUM_REASON}`);

const STAFF = 'curator@example.org';
const BUCKET = 'archive-two';
const SECRET = 'two-processes-secret-0123456789abcdef012345';

let tmp: string;
let s3rver: InstanceType<typeof S3rver>;
let a: RunningServer;
let b: RunningServer;
let proxy: http.Server;
let proxyUrl: string;
/** Requests the proxy sent to each process: all, and IIIF image requests (tiles). */
const served = { a: { all: 0, tiles: 0 }, b: { all: 0, tiles: 0 } };

/** Round robin over the two processes, request by request; adds the signed-in user like a front proxy. */
function startProxy(port: number): Promise<http.Server> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  let turn = 0;
  const server = http.createServer((req, res) => {
    const which = turn++ % 2 === 0 ? 'a' : 'b';
    const target = new URL((which === 'a' ? a : b).baseUrl);
    served[which].all++;
    if (/^\/iiif\/3\/[^/]+\/[^/]+\/[^/]+\/[^/]+\/default\.\w+$/.test(req.url ?? '')) served[which].tiles++;
    const headers = { ...req.headers, host: target.host, 'x-auth-request-email': STAFF };
    const up = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers, agent }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', (e) => {
      if (!res.headersSent) res.writeHead(502, { 'Content-Type': 'text/plain' });
      res.end(`proxy: ${e.message}`);
    });
    req.pipe(up);
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'archive-two-'));
  s3rver = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: path.join(tmp, 's3'), allowMismatchedSignatures: false, configureBuckets: [{ name: BUCKET, configs: [] }] });
  const s3 = (await s3rver.run()) as AddressInfo;
  const proxyPort = await freePort();
  proxyUrl = `http://127.0.0.1:${proxyPort}`;
  proxy = await startProxy(proxyPort);
  const env = {
    ACCESS_MODE: 'header',
    ACCESS_TRUSTED_PROXIES: '127.0.0.1, ::1',
    ACCESS_RULES: JSON.stringify({ staff: [STAFF] }),
    IIIF_AUTH_TOKEN_SECRET: SECRET,
    // Both behind the one public address.
    PUBLIC_BASE_URL: proxyUrl,
    IMAGE_SOURCE: 's3',
    S3_ENDPOINT: `http://127.0.0.1:${s3.port}`,
    S3_BUCKET: BUCKET,
    S3_ACCESS_KEY_ID: 'S3RVER',
    S3_SECRET_ACCESS_KEY: 'S3RVER',
    S3_FORCE_PATH_STYLE: 'true',
    DERIVATIVE_STORE: 's3',
    // Large enough that the demo's JPEGs (over 1024 px) get pyramid derivatives.
    DEMO_SCALE: '0.25',
  };
  // A creates the demo corpus, indexes it and syncs it into the bucket; B joins on the same DATA_DIR.
  a = await startServer({ ...env, CACHE_DIR: 'cache-a' });
  b = await startServer({ ...env, CACHE_DIR: 'cache-b', DEMO: 'false' }, { dataDir: a.dataDir });
}, 900_000); // a build, the demo corpus with its upload, and two servers, on a loaded machine

afterAll(async () => {
  await b?.stop();
  await a?.stop();
  await new Promise((r) => (proxy ? proxy.close(r) : r(undefined)));
  await s3rver?.close().catch(() => {});
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const asStaff = { headers: { 'X-Auth-Request-Email': STAFF } };

/** This process's image counters, from /readyz details (a direct loopback request). */
async function counters(server: RunningServer): Promise<{ pid: number; pyramidBuilds: number; pyramidsShared: number }> {
  const r = await fetch(`${server.baseUrl}/readyz`);
  const body = (await r.json()) as { status?: string; images?: { pid: number; pyramidBuilds: number; pyramidsShared: number } };
  expect(body.images, JSON.stringify(body)).toBeDefined();
  return body.images!;
}

/**
 * Single-image items whose image gets a pyramid (a plain JPEG over 1024 px), from their manifests
 * (not info.json, which would start a pyramid build in the background).
 */
async function bigImages(): Promise<Array<{ item: string; image: string }>> {
  const items = ((await (await fetch(`${a.baseUrl}/api/search.json?q=&pageSize=100`, asStaff)).json()) as { items: Array<{ id: string; images: string[] }> }).items;
  const out: Array<{ item: string; image: string }> = [];
  for (const it of items.filter((i) => i.images.length === 1)) {
    const m = await fetch(`${a.baseUrl}/api/iiif/${encodeURIComponent(it.id)}/manifest.json`, asStaff);
    if (m.status !== 200) continue;
    const canvas = ((await m.json()) as { items: Array<{ width: number; height: number }> }).items[0]!;
    // The demo's one tiled pyramid TIFF is the panorama, far wider than tall: not that one.
    if (Math.max(canvas.width, canvas.height) > 1100 && canvas.width < 4 * canvas.height) out.push({ item: it.id, image: it.images[0]! });
    if (out.length >= 2) break;
  }
  return out;
}

describe('two processes on one store, one bucket, one derivative store', () => {
  let big: Array<{ item: string; image: string }>;

  test('the second process serves a pyramid the first built, without building it again', async () => {
    big = await bigImages();
    expect(big.length, 'the demo corpus at DEMO_SCALE 0.25 has JPEGs that get pyramids').toBeGreaterThanOrEqual(2);
    const [pa, pb] = [await counters(a), await counters(b)];
    expect(pa.pid).not.toBe(pb.pid);
    // A region tile waits for the pyramid: A builds it and puts it into the bucket.
    const tile = `/iiif/3/${encodeURIComponent(big[0]!.image)}/0,0,512,512/256,/0/default.jpg`;
    const first = await fetch(a.baseUrl + tile, asStaff);
    expect(first.status).toBe(200);
    const aAfter = await counters(a);
    expect(aAfter.pyramidBuilds - pa.pyramidBuilds).toBe(1);
    // B fetches it from the bucket instead of building it.
    const second = await fetch(b.baseUrl + tile, asStaff);
    expect(second.status).toBe(200);
    expect(Buffer.from(await second.arrayBuffer()).equals(Buffer.from(await first.arrayBuffer()))).toBe(true);
    const bAfter = await counters(b);
    expect(bAfter.pyramidBuilds - pb.pyramidBuilds).toBe(0);
    expect(bAfter.pyramidsShared - pb.pyramidsShared).toBe(1);
  });

  test('a sign-out through one process refuses the IIIF access token on the other', async () => {
    const user = 'someone@example.org';
    const html = await (await fetch(`${a.baseUrl}/auth/iiif/token?messageId=t1&origin=${encodeURIComponent(proxyUrl)}`, { headers: { 'X-Auth-Request-Email': user } })).text();
    const token = /"accessToken":"([^"]+)"/.exec(html)?.[1];
    expect(token, html).toBeDefined();
    const probe = async (server: RunningServer) =>
      (await (await fetch(`${server.baseUrl}/auth/iiif/probe/manifest/${big[0]!.item}`, { headers: { Authorization: `Bearer ${token}` } })).json()).status;
    expect(await probe(a)).toBe(200);
    expect(await probe(b)).toBe(200);
    const out = await fetch(`${b.baseUrl}/auth/iiif/logout`, { method: 'POST', headers: { 'X-Auth-Request-Email': user, Origin: proxyUrl } });
    expect(out.status).toBe(200);
    expect(await probe(a)).toBe(401);
    expect(await probe(b)).toBe(401);
  });

  test.skipIf(!hasChromium)('a Mirador session spread across both processes loads every tile it asks for (a gated mode: IIIF Auth 2 advertised)', async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const browser: Browser = await launchBrowser();
    try {
      const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US' })).newPage();
      const pending = new Set<string>();
      const tiles: Array<{ url: string; status: number }> = [];
      const failed: string[] = [];
      const pageErrors: string[] = [];
      const isIiif = (u: string) => new URL(u).pathname.startsWith('/iiif/');
      // Anything else that went wrong on the page, to say why if the viewer never becomes ready.
      const otherProblems: string[] = [];
      const everything: string[] = [];
      page.on('response', (r) => {
        everything.push(`${r.status()} ${r.request().method()} ${r.url().replace(proxyUrl, '')}`);
        if (r.status() >= 400 && !isIiif(r.url())) otherProblems.push(`${r.status()} ${r.url()}`);
      });
      page.on('console', (m) => m.type() === 'error' && otherProblems.push(`console: ${m.text().slice(0, 300)}`));
      page.on('pageerror', (e) => pageErrors.push(e.message));
      page.on('request', (r) => isIiif(r.url()) && pending.add(r.url()));
      page.on('requestfailed', (r) => {
        if (!isIiif(r.url())) return;
        pending.delete(r.url());
        failed.push(`${r.url()}: ${r.failure()?.errorText}`);
      });
      page.on('requestfinished', async (r) => {
        if (!isIiif(r.url())) return;
        const res = await r.response();
        tiles.push({ url: r.url(), status: res?.status() ?? 0 });
        pending.delete(r.url());
      });
      const before = { a: served.a.tiles, b: served.b.tiles };
      // Settled: every IIIF request the viewer made has its answer, and no new one came over three
      // polls in a row (the viewer asks for tiles over several animation frames).
      const settled = async () => {
        let last = -1;
        let quiet = 0;
        await expect
          .poll(
            () => {
              const seen = tiles.length + failed.length;
              quiet = pending.size === 0 && seen === last ? quiet + 1 : 0;
              last = seen;
              return quiet >= 3;
            },
            { timeout: STATE_TIMEOUT, interval: 300 },
          )
          .toBe(true);
      };
      const zoom = () =>
        page.evaluate(() => {
          const s = (window as { archiveViewers?: Array<{ store: { getState(): { viewers: Record<string, { zoom?: number }> } } }> }).archiveViewers![0]!.store.getState();
          return Object.values(s.viewers)[0]?.zoom ?? 0;
        });
      // The second big image: nobody has built its pyramid yet, both processes get its tiles.
      await page.goto(`${proxyUrl}/items/${big[1]!.item}`);
      const ready = page.waitForFunction(
        () => {
          const v = (window as { archiveViewers?: Array<{ store: { getState(): { windows: object; viewers: Record<string, { zoom?: number }> } } }> }).archiveViewers?.[0];
          if (!v) return false;
          const s = v.store.getState();
          const ids = Object.keys(s.windows);
          return ids.length === 1 && ids.every((id) => s.viewers[id]?.zoom) && document.querySelectorAll('.openseadragon-canvas canvas').length >= 1;
        },
        undefined,
        { timeout: 2 * STATE_TIMEOUT },
      );
      await ready.catch(async (e: Error) => {
        await page.screenshot({ path: path.join(ARTIFACTS, 'two-processes-mirador.png') }).catch(() => {});
        throw new Error(`${e.message}\nIIIF answers: ${JSON.stringify(tiles.slice(0, 20))}\nfailed: ${failed.join('; ')}\npage errors: ${pageErrors.join('; ')}\nother: ${otherProblems.slice(0, 20).join('; ')}\nall: ${everything.slice(-40).join('; ')}`);
      });
      await settled();
      // Zoom in step by step: each step asks for tiles of a deeper level.
      const zoomIn = page.locator('button[aria-label="Zoom in"]');
      for (let i = 0; i < 4; i++) {
        const was = await zoom();
        await zoomIn.click();
        await expect.poll(zoom, { timeout: STATE_TIMEOUT }).toBeGreaterThan(was);
        await settled();
      }
      const images = tiles.filter((t) => /\/default\.\w+$/.test(new URL(t.url).pathname));
      expect(failed).toEqual([]);
      expect(tiles.filter((t) => t.status !== 200 && t.status !== 304)).toEqual([]);
      expect(images.length).toBeGreaterThan(4);
      // The session really was spread: each process answered some of its tiles.
      expect(served.a.tiles - before.a).toBeGreaterThan(0);
      expect(served.b.tiles - before.b).toBeGreaterThan(0);
      expect(pageErrors).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});
