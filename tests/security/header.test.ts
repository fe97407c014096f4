/**
 * The built server in ACCESS_MODE=header: the identity header counts only when the TCP peer is a
 * configured proxy — here the test itself on 127.0.0.1 — and never from anyone else, whatever
 * forwarding headers they add.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startServer, type RunningServer } from '../helpers/server.ts';

const RULES = JSON.stringify({ members: ['*@members.example.org'] });
let trusted: RunningServer;
let untrusted: RunningServer;
let cacheDir: string;

beforeAll(async () => {
  trusted = await startServer({ ACCESS_MODE: 'header', ACCESS_TRUSTED_PROXIES: '127.0.0.1, ::1', ACCESS_HEADER: 'X-Forwarded-Email', ACCESS_RULES: RULES });
  // Same data, a proxy address the test is not: every identity header must be ignored.
  cacheDir = mkdtempSync(path.join(os.tmpdir(), 'archive-cache-'));
  untrusted = await startServer(
    { ACCESS_MODE: 'header', ACCESS_TRUSTED_PROXIES: '10.9.9.9', ACCESS_HEADER: 'X-Forwarded-Email', ACCESS_RULES: RULES, DEMO: 'false', CACHE_DIR: cacheDir },
    { dataDir: trusted.dataDir },
  );
});

afterAll(async () => {
  await untrusted?.stop();
  await trusted?.stop();
  if (cacheDir) rmSync(cacheDir, { recursive: true, force: true });
});

const as = (email?: string, extra: Record<string, string> = {}): RequestInit => ({ headers: { ...(email ? { 'X-Forwarded-Email': email } : {}), ...extra } });

describe('ACCESS_MODE=header', () => {
  test('from the trusted proxy: the e-mail in the header is the user, shown in the page header', async () => {
    const r = await fetch(`${trusted.baseUrl}/`, as('Someone@Members.example.org'));
    expect(r.status).toBe(200);
    expect(await r.text()).toContain('data-testid="user-email">someone@members.example.org<');
    expect((await fetch(`${trusted.baseUrl}/api/search.json`, as('reader@example.org'))).status).toBe(200);
  });

  test('from the trusted proxy without a usable header: 401', async () => {
    for (const init of [as(), as('not-an-address'), as('a@example.org, b@example.org'), { headers: { 'X-Auth-Request-Email': 'a@example.org' } }]) {
      const r = await fetch(`${trusted.baseUrl}/api/search.json`, init);
      expect(r.status).toBe(401);
      expect(await r.json()).toEqual({ error: 'authentication required', status: 401 });
    }
    const page = await fetch(`${trusted.baseUrl}/items/R01-0001`);
    expect(page.status).toBe(401);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
  });

  test('per-item rules by e-mail domain', async () => {
    const ids = async (email: string) => (await (await fetch(`${trusted.baseUrl}/api/search.json?size=100`, as(email))).json()).items.map((i: { id: string }) => i.id);
    expect(await ids('someone@members.example.org')).toContain('R02-0008');
    expect(await ids('reader@example.org')).not.toContain('R02-0008');
    expect((await fetch(`${trusted.baseUrl}/api/iiif/R02-0008/manifest.json`, as('reader@example.org'))).status).toBe(404);
    expect((await fetch(`${trusted.baseUrl}/api/iiif/R02-0008/manifest.json`, as('someone@members.example.org'))).status).toBe(200);
  });

  test('from any other peer the header is ignored, forwarding headers notwithstanding', async () => {
    const spoof = { 'X-Forwarded-For': '10.9.9.9', 'X-Real-IP': '10.9.9.9', Forwarded: 'for=10.9.9.9', 'X-Archive-Identity': 'forged.e30' };
    for (const p of ['/', '/api/search.json', '/api/iiif/R01-0001/manifest.json', '/styles.css', '/readyz']) {
      const r = await fetch(untrusted.baseUrl + p, as('someone@members.example.org', spoof));
      // Everything needs the proxy — /readyz too: a loopback peer carrying forwarding headers is
      // relaying someone else's request (issue 11.3), so it is no direct local check.
      expect(r.status, p).toBe(401);
    }
    expect((await fetch(`${untrusted.baseUrl}/healthz`)).status).toBe(200);
  });
});
