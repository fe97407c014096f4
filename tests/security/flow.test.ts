/**
 * IIIF Authorization Flow 2.0 end to end in Chromium: a client page of our own (tests/security/
 * client/) served from another loopback origin, against the archive in cloudflare mode.
 *
 *   info.json (401, names the probe) -> probe (401) -> "Sign in" -> access service in a new tab
 *   (Cloudflare Access login, simulated by setting its cookie) -> Continue closes the tab ->
 *   token service in an iframe posts a token to the client's origin -> probe with the token (200)
 *   -> info.json and the image load with the archive's cookie.
 *
 * Then the checks around it: an outsider's token probes 404 for the members-only item; an origin
 * not in IIIF_AUTH_ORIGINS gets invalidOrigin; a client lying about its origin gets nothing; a
 * token replayed from another origin is refused; signing out revokes the token.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { freePort, SERVER_START_TIMEOUT_MS, startServer, type RunningServer } from '../helpers/server.ts';
import { hasChromium, launchBrowser, NO_CHROMIUM_REASON, STATE_TIMEOUT } from '../helpers/browser.ts';
import { FakeAccess } from './helpers/access.ts';

if (!hasChromium) console.log(`tests/security/flow.test.ts ${NO_CHROMIUM_REASON}`);

const CLIENT_DIR = path.join(import.meta.dirname, 'client');
const MEMBER = 'student@members.example.org';
const OUTSIDER = 'reader@example.org';

/** Serves the client page and script on 127.0.0.1:port (a different origin from the archive). */
async function serveClient(port: number): Promise<http.Server> {
  const files: Record<string, [string, string]> = {
    '/': ['index.html', 'text/html; charset=utf-8'],
    '/client.js': ['client.js', 'text/javascript; charset=utf-8'],
  };
  const server = http.createServer((req, res) => {
    const f = files[(req.url ?? '/').split('?')[0]!];
    if (!f) return void res.writeHead(404).end();
    res.writeHead(200, { 'Content-Type': f[1], 'Cache-Control': 'no-store' });
    res.end(readFileSync(path.join(CLIENT_DIR, f[0])));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return server;
}

describe.runIf(hasChromium)('IIIF Authorization Flow 2.0 in the browser', () => {
  let fa: FakeAccess;
  let archive: RunningServer;
  let clientUrl: string;
  let strangerUrl: string;
  let clients: http.Server[] = [];
  let browser: Browser;

  beforeAll(async () => {
    const [clientPort, strangerPort] = [await freePort(), await freePort()];
    clientUrl = `http://127.0.0.1:${clientPort}`;
    strangerUrl = `http://127.0.0.1:${strangerPort}`;
    clients = [await serveClient(clientPort), await serveClient(strangerPort)];
    fa = await FakeAccess.start();
    archive = await startServer({
      ...fa.env(),
      ACCESS_RULES: JSON.stringify({ members: ['*@members.example.org'] }),
      IIIF_AUTH_ORIGINS: clientUrl,
    });
    browser = await launchBrowser();
  }, SERVER_START_TIMEOUT_MS + 100_000); // startServer's own bound, then a browser

  afterAll(async () => {
    await browser?.close();
    await archive?.stop();
    await fa?.close();
    for (const c of clients) {
      c.closeAllConnections();
      await new Promise((r) => c.close(r));
    }
  });

  async function signIn(ctx: BrowserContext, email: string): Promise<void> {
    await ctx.addCookies([{ name: 'CF_Authorization', value: await fa.token({ email }), url: archive.baseUrl, httpOnly: true, sameSite: 'Lax' }]);
  }

  const state = (page: Page) => page.evaluate(() => (window as unknown as { state: Record<string, unknown> }).state);

  test('a member signs in from another origin and sees the members-only image', async () => {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    const info = `${archive.baseUrl}/iiif/3/R01-0013/info.json`;
    await page.goto(`${clientUrl}/?info=${encodeURIComponent(info)}`);

    // Not signed in: the info.json is a 401 that names the probe; the probe says 401; the client
    // shows the access service's heading and button.
    await page.locator('#login').waitFor({ state: 'visible' });
    expect(await state(page)).toMatchObject({ infoStatus: 401, firstProbe: 401, probeId: `${archive.baseUrl}/auth/iiif/probe/image/R01-0013` });
    expect(await page.locator('#heading').textContent()).toBe('Sign-in required');

    const [popup] = await Promise.all([ctx.waitForEvent('page'), page.locator('#login').click()]);
    await popup.waitForLoadState();
    expect(popup.url()).toBe(`${archive.baseUrl}/auth/iiif/login?origin=${encodeURIComponent(clientUrl)}`);
    // No Access session yet: the archive refuses (at the edge, Cloudflare shows its login here).
    expect(await popup.locator('h1').first().textContent()).toBe('サインインが必要です');
    // The user logs in at Cloudflare Access, which sets its cookie; the access service then shows who.
    await signIn(ctx, MEMBER);
    await popup.reload();
    expect(await popup.locator('[data-testid=login-user]').textContent()).toBe(MEMBER);
    expect(await popup.locator('[data-testid=login-origin]').textContent()).toBe(clientUrl);
    // Continue closes the tab from its click handler. Wait on that state (the close event); the
    // click itself may be cut short by the closing page ("Target page ... has been closed"): that
    // error, and only that one, is the expected outcome once the tab is really closed.
    const closed = popup.waitForEvent('close', { timeout: STATE_TIMEOUT });
    const clicked = popup.locator('#iiif-auth-continue').click().then(
      () => undefined,
      (e: Error) => e,
    );
    await closed;
    const clickError = await clicked;
    if (clickError && !/has been closed/.test(clickError.message)) throw clickError;

    await expect.poll(async () => (await state(page)).done, { timeout: STATE_TIMEOUT }).toBe(true);
    const s = await state(page);
    expect(s).toMatchObject({ probe: 200, infoAfter: 200 });
    expect((s.tokenMessage as Record<string, unknown>).type).toBe('AuthAccessToken2');
    expect((s.tokenMessage as Record<string, unknown>).expiresIn).toBe(300);
    expect(s.imageError).toBeUndefined();
    expect(s.imageWidth).toBeGreaterThan(0);

    // The token is bound to the client's origin: replayed from another origin it opens nothing.
    const token = s.token as string;
    const stranger = await ctx.newPage();
    await stranger.goto(`${strangerUrl}/`);
    // (An origin that may not hold tokens gets no CORS answer at all: the browser blocks the read.)
    const replayed = await stranger.evaluate(
      ([probeId, t]) => (window as any).iiifAuth.probe(probeId, t).then((r: { status: number }) => r.status, () => 'blocked'),
      [s.probeId as string, token],
    );
    expect([401, 'blocked']).toContain(replayed);

    // Signing out (the logout service) revokes it.
    const logoutId = s.logoutId as string;
    expect(logoutId).toBe(`${archive.baseUrl}/auth/iiif/logout`);
    // The logout service opened in a tab asks for confirmation; its button signs out (a POST).
    const logout = await ctx.newPage();
    await logout.goto(logoutId);
    const [response] = await Promise.all([logout.waitForNavigation(), logout.locator('[data-testid="logout-confirm"]').click()]);
    expect(response?.request().redirectedFrom()?.url()).toBe(logoutId);
    expect(response?.request().redirectedFrom()?.method()).toBe('POST');
    const after = await page.evaluate(
      ([probeId, t]) => (window as any).iiifAuth.probe(probeId, t).then((r: { status: number }) => r.status),
      [s.probeId as string, token],
    );
    expect(after).toBe(401);
    await ctx.close();
  });

  test('an outsider gets a token, but the probe answers 404 for the members-only image and 200 for an open one', async () => {
    const ctx = await browser.newContext();
    await signIn(ctx, OUTSIDER);
    const page = await ctx.newPage();
    await page.goto(`${clientUrl}/`);
    const result = await page.evaluate(async (archiveBase) => {
      const auth = (window as any).iiifAuth;
      const message = await auth.requestToken(`${archiveBase}/auth/iiif/token`);
      const members = await auth.probe(`${archiveBase}/auth/iiif/probe/image/R01-0013`, message.accessToken);
      const missing = await auth.probe(`${archiveBase}/auth/iiif/probe/image/NO-SUCH-IMAGE`, message.accessToken);
      const open = await auth.probe(`${archiveBase}/auth/iiif/probe/manifest/R01-0001`, message.accessToken);
      const info = await fetch(`${archiveBase}/iiif/3/R01-0013/info.json`, { credentials: 'include' });
      return { type: message.type, members: members.status, missing: missing.status, open: open.status, info: info.status };
    }, archive.baseUrl);
    expect(result).toEqual({ type: 'AuthAccessToken2', members: 404, missing: 404, open: 200, info: 404 });
    await ctx.close();
  });

  test('origin checks: an origin not allowed gets invalidOrigin; a page claiming another origin gets nothing; no sign-in is missingAspect', async () => {
    const ctx = await browser.newContext();
    await signIn(ctx, MEMBER);
    const stranger = await ctx.newPage();
    await stranger.goto(`${strangerUrl}/`);
    const refused = await stranger.evaluate((url) => (window as any).iiifAuth.requestToken(url), `${archive.baseUrl}/auth/iiif/token`);
    expect(refused).toMatchObject({ type: 'AuthAccessTokenError2', profile: 'invalidOrigin' });
    expect(refused.accessToken).toBeUndefined();
    // The stranger claims to be the allowed client: the token is posted to that origin only, and
    // the frame may not even be embedded here (frame-ancestors): nothing arrives.
    const lying = await stranger.evaluate(([url, origin]) => (window as any).iiifAuth.requestToken(url, origin, 2000), [`${archive.baseUrl}/auth/iiif/token`, clientUrl]);
    expect(lying).toEqual({ timeout: true });
    await ctx.close();

    const anonymous = await browser.newContext();
    const page = await anonymous.newPage();
    await page.goto(`${clientUrl}/`);
    const missing = await page.evaluate((url) => (window as any).iiifAuth.requestToken(url), `${archive.baseUrl}/auth/iiif/token`);
    expect(missing).toMatchObject({ type: 'AuthAccessTokenError2', profile: 'missingAspect' });
    await anonymous.close();
  });
});
