/**
 * /admin/access in Chromium: a curator adds a grant for *@lab.example.org through the form, a
 * reader at that domain then opens a members-only item, the curator revokes the grant with its
 * button, and the reader gets 404 again. Its own archive in header mode (identities from a
 * trusted proxy header, which the browser context sends with every request), on the demo corpus.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Browser, BrowserContext } from 'playwright-core';
import { hasChromium, launchBrowser, NO_CHROMIUM_REASON } from '../helpers/browser.ts';
import { SERVER_START_TIMEOUT_MS, startServer, type RunningServer } from '../helpers/server.ts';

if (!hasChromium) console.warn(`tests/browser/access-admin.test.ts ${NO_CHROMIUM_REASON}`);

const STAFF = 'curator@example.org';
const READER = 'reader@lab.example.org';
const MEMBERS_ITEM = 'R02-0008';

describe.skipIf(!hasChromium)('grants on /admin/access (browser)', () => {
  let archive: RunningServer;
  let browser: Browser;
  let curator: BrowserContext;
  let reader: BrowserContext;

  beforeAll(async () => {
    archive = await startServer({ ACCESS_MODE: 'header', ACCESS_TRUSTED_PROXIES: '127.0.0.1, ::1', ACCESS_RULES: JSON.stringify({ staff: [STAFF] }) });
    browser = await launchBrowser();
    curator = await browser.newContext({ extraHTTPHeaders: { 'X-Auth-Request-Email': STAFF }, locale: 'en-GB' });
    reader = await browser.newContext({ extraHTTPHeaders: { 'X-Auth-Request-Email': READER }, locale: 'en-GB' });
  }, SERVER_START_TIMEOUT_MS + 120_000); // the demo corpus and a server (startServer's own bound), then a browser, on a loaded machine

  afterAll(async () => {
    await browser?.close();
    await archive?.stop();
  });

  const readerStatus = async () => {
    const page = await reader.newPage();
    const r = await page.goto(`${archive.baseUrl}/items/${MEMBERS_ITEM}`);
    await page.close();
    return r?.status();
  };

  test('add a grant with the form, the reader sees the item; revoke it with its button, 404 again', async () => {
    expect(await readerStatus()).toBe(404);

    const page = await curator.newPage();
    await page.goto(`${archive.baseUrl}/admin/access?lang=en`);
    const form = page.locator('[data-testid=add-grant]');
    await form.locator('input[name=pattern]').fill('*@lab.example.org');
    await form.locator('select[name=level]').selectOption('members');
    await form.locator('input[name=until]').fill(new Date(Date.now() + 2 * 86_400_000).toISOString().slice(0, 10));
    await form.locator('input[name=reason]').fill('research request 2026-17');
    await form.locator('button[type=submit]').click();
    await page.locator('[data-testid=grant-saved]').waitFor({ timeout: 20_000 });
    const row = page.locator('tr[data-grant]', { hasText: '*@lab.example.org' });
    await expect.poll(() => row.getAttribute('data-status'), { timeout: 20_000 }).toBe('active');
    expect(await row.locator('[data-testid=grant-status]').textContent()).toBe('active');

    expect(await readerStatus()).toBe(200);

    await row.locator('[data-testid=revoke]').click();
    await page.locator('[data-testid=grant-saved]').waitFor({ timeout: 20_000 });
    await expect.poll(() => page.locator('tr[data-grant]', { hasText: '*@lab.example.org' }).getAttribute('data-status'), { timeout: 20_000 }).toBe('revoked');
    expect(await readerStatus()).toBe(404);

    // The recent changes list both, by the curator.
    const changes = await page.locator('[data-testid=changes]').textContent();
    expect(changes).toContain('grant.add *@lab.example.org members');
    expect(changes).toContain('grant.revoke *@lab.example.org members');
    expect(changes).toContain(STAFF);
    await page.close();
  }, 180_000); // a dozen page loads and form posts, on a loaded machine

  test('an invalid grant is refused with the reason on the page, and nothing is stored', async () => {
    const page = await curator.newPage();
    await page.goto(`${archive.baseUrl}/admin/access?lang=en`);
    const form = page.locator('[data-testid=add-grant]');
    await form.locator('input[name=pattern]').fill('*@lab');
    await form.locator('input[name=reason]').fill('typo');
    await form.locator('button[type=submit]').click();
    await expect.poll(async () => (await page.locator('[data-testid=grant-error]').textContent({ timeout: 20_000 })) ?? '', { timeout: 30_000 }).toMatch(/not \*@ followed by a domain/);
    expect(await page.locator('tr[data-grant]', { hasText: '*@lab' }).filter({ hasNotText: 'lab.example.org' }).count()).toBe(0);
    await page.close();
  }, 120_000);
});
