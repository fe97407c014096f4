/**
 * Stored grants and the audit trail against the built server (header mode, the demo corpus on
 * SQLite), and IIIF token revocation shared by two server processes on one SQLite store:
 *
 *  - staff-only pages and APIs answer everyone else exactly as a missing page does;
 *  - issue 16's scenario over HTTP: a reader without a grant gets 404 on a members item (page,
 *    manifest, image); staff add a grant through the API; the next request sees the item; the
 *    audit shows the change and the reader's first view; revoke -> 404 again, on the other
 *    process within GRANTS_CACHE_SECONDS (set to 1 here);
 *  - cross-origin and non-JSON requests to the API, and a form post without the CSRF token, are refused;
 *  - a sign-out through one process refuses the IIIF access token on the other (issue 17).
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { SERVER_START_TIMEOUT_MS, startServer, type RunningServer } from '../helpers/server.ts';

const STAFF = 'curator@example.org';
const READER = 'reader@lab.example.org';
const MEMBERS_ITEM = 'R02-0008';
const RULES = JSON.stringify({ staff: [STAFF], members: ['*@members.example.org'] });
const SECRET = 'grants-test-secret-0123456789abcdef0123456789';

let a: RunningServer;
let b: RunningServer;

beforeAll(async () => {
  const env = { ACCESS_MODE: 'header', ACCESS_TRUSTED_PROXIES: '127.0.0.1, ::1', ACCESS_RULES: RULES, IIIF_AUTH_TOKEN_SECRET: SECRET, GRANTS_CACHE_SECONDS: '1' };
  a = await startServer(env);
  // A second process on the same DATA_DIR (the same SQLite file) and the same public address, as
  // two processes behind one proxy on a two-core VPS.
  b = await startServer({ ...env, DEMO: 'false', PUBLIC_BASE_URL: a.baseUrl }, { dataDir: a.dataDir });
}, 2 * SERVER_START_TIMEOUT_MS + 60_000); // the demo corpus and two servers (startServer's own bound each), on a loaded machine

afterAll(async () => {
  await b?.stop();
  await a?.stop();
});

const as = (email: string, init: RequestInit = {}): RequestInit => ({ ...init, headers: { 'X-Auth-Request-Email': email, ...(init.headers as Record<string, string>) } });
const json = (email: string, method: string, body: unknown, headers: Record<string, string> = {}): RequestInit =>
  as(email, { method, headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(body) });

/** Polls until `fn` gives `want` (another process's cache lifetime), at most 10 s. */
async function eventually<T>(fn: () => Promise<T>, want: T): Promise<T> {
  const until = Date.now() + 10_000;
  let got = await fn();
  while (got !== want && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 100));
    got = await fn();
  }
  return got;
}

describe('staff only, told nothing otherwise', () => {
  test('/admin/access, /api/admin/grants and /api/admin/audit answer a reader exactly as a missing page', async () => {
    // A missing page names its own path only in the language switch link: compare with the path blanked.
    const answer = async (path: string, init: RequestInit) => {
      const r = await fetch(a.baseUrl + path, init);
      return { status: r.status, type: r.headers.get('content-type'), body: (await r.text()).replaceAll(path, '{path}') };
    };
    const missing = await answer('/admin/no-such-page', as(READER));
    expect(missing.status).toBe(404);
    expect(missing.body).toContain('{path}?lang=en');
    expect(await answer('/api/admin/no-such-api', as(READER))).toEqual(missing);
    for (const [path, method] of [
      ['/admin/access', 'GET'],
      ['/api/admin/grants', 'GET'],
      ['/api/admin/grants', 'POST'],
      ['/api/admin/grants/00000000-0000-0000-0000-000000000000', 'DELETE'],
      ['/api/admin/audit', 'GET'],
    ] as const) {
      const init = as(READER, { method, ...(method === 'GET' ? {} : { headers: { 'Content-Type': 'application/json' }, ...(method === 'POST' ? { body: '{}' } : {}) }) });
      expect(await answer(path, init), `${method} ${path}`).toEqual(missing);
    }
  });

  test('the staff page lists the bootstrap rules read-only and sets a strict CSRF cookie', async () => {
    const r = await fetch(`${a.baseUrl}/admin/access?lang=en`, as(STAFF));
    expect(r.status).toBe(200);
    const html = await r.text();
    expect(html).toContain('Start-up rules (ACCESS_RULES, read-only)');
    expect(html).toContain('*@members.example.org');
    expect(r.headers.get('set-cookie')).toMatch(/archive_csrf=[A-Za-z0-9_-]{32}; Path=\/admin\/access; HttpOnly; SameSite=Strict/);
    // A form post without the token (or with a foreign one) changes nothing.
    const post = await fetch(`${a.baseUrl}/admin/access`, as(STAFF, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: a.baseUrl }, body: 'action=add&pattern=*%40lab.example.org&level=members&reason=x&csrf=' + 'A'.repeat(32) }));
    expect(post.status).toBe(403);
    expect((await (await fetch(`${a.baseUrl}/api/admin/grants`, as(STAFF))).json()).grants).toEqual([]);
  });
});

describe('issue 16 over HTTP', () => {
  test('no grant -> 404; grant through the API -> the item on the next request; audit; revoke -> 404 (here and on the other process)', async () => {
    const manifest = await (await fetch(`${a.baseUrl}/api/iiif/${MEMBERS_ITEM}/manifest.json`, as(STAFF))).json();
    const serviceId: string = manifest.items[0].items[0].items[0].body.service[0].id;
    const info = `/iiif/3/${serviceId.split('/').pop()}/info.json`;
    const status = async (server: RunningServer, path: string) => (await fetch(server.baseUrl + path, as(READER))).status;

    for (const p of [`/items/${MEMBERS_ITEM}`, `/api/iiif/${MEMBERS_ITEM}/manifest.json`, info]) expect(await status(a, p), p).toBe(404);

    // Refused: cross-origin, not JSON, invalid.
    const body = { pattern: '*@lab.example.org', level: 'members', until: new Date(Date.now() + 86_400_000).toISOString(), reason: 'research request 2026-17' };
    expect((await fetch(`${a.baseUrl}/api/admin/grants`, json(STAFF, 'POST', body, { Origin: 'https://evil.example' }))).status).toBe(403);
    expect((await fetch(`${a.baseUrl}/api/admin/grants`, as(STAFF, { method: 'POST', headers: { 'Content-Type': 'text/plain', Origin: a.baseUrl }, body: JSON.stringify(body) }))).status).toBe(415);
    const bad = await fetch(`${a.baseUrl}/api/admin/grants`, json(STAFF, 'POST', { ...body, level: 'owner' }));
    expect(bad.status).toBe(400);
    expect((await bad.json()).error).toMatch(/unknown level "owner"/);

    const created = await fetch(`${a.baseUrl}/api/admin/grants`, json(STAFF, 'POST', body, { Origin: a.baseUrl }));
    expect(created.status).toBe(201);
    const grant = await created.json();
    expect(grant).toMatchObject({ pattern: '*@lab.example.org', level: 'members', status: 'active', granted_by: STAFF });
    expect(created.headers.get('location')).toBe(`/api/admin/grants/${grant.id}`);

    // The next request, on this process; within the cache lifetime on the other.
    for (const p of [`/items/${MEMBERS_ITEM}`, `/api/iiif/${MEMBERS_ITEM}/manifest.json`, info]) expect(await status(a, p), p).toBe(200);
    expect(await eventually(() => status(b, `/items/${MEMBERS_ITEM}`), 200)).toBe(200);

    // The audit: the change and the reader's first view (one event per user, item and day).
    const audit = await (await fetch(`${a.baseUrl}/api/admin/audit?item=${MEMBERS_ITEM}`, as(STAFF))).json();
    const views = audit.events.filter((e: { actor: string }) => e.actor === READER);
    expect(views).toHaveLength(1);
    expect(views[0]).toMatchObject({ type: 'access', item_id: MEMBERS_ITEM, kind: 'page', level: 'members', grant_id: grant.id });
    const byGrant = await (await fetch(`${a.baseUrl}/api/admin/audit?grant=${grant.id}`, as(STAFF))).json();
    expect(byGrant.events.map((e: { type: string }) => e.type).sort()).toEqual(['access', 'grant.add']);
    const csv = await fetch(`${a.baseUrl}/api/admin/audit?format=csv`, as(STAFF));
    expect(csv.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(await csv.text()).toContain(`access,${READER},${MEMBERS_ITEM},page,members,${grant.id}`);
    const page = await (await fetch(`${a.baseUrl}/admin/access?lang=en&item=${MEMBERS_ITEM}&preview=${encodeURIComponent(READER)}`, as(STAFF))).text();
    expect(page).toContain(`data-grant="${grant.id}" data-status="active"`);
    expect(page).toMatch(/data-testid="preview-level"[^>]*>members</);
    expect(page).toContain(READER);

    // Revoke: 404 on the next request here, and on the other process within its cache lifetime.
    // (Scripts send Content-Type: application/json with every change, DELETE included: docs/access.md.)
    const revoked = await fetch(`${a.baseUrl}/api/admin/grants/${grant.id}`, as(STAFF, { method: 'DELETE', headers: { 'Content-Type': 'application/json' } }));
    expect(revoked.status).toBe(200);
    expect((await revoked.json()).status).toBe('revoked');
    for (const p of [`/items/${MEMBERS_ITEM}`, `/api/iiif/${MEMBERS_ITEM}/manifest.json`, info]) expect(await status(a, p), p).toBe(404);
    expect(await eventually(() => status(b, `/items/${MEMBERS_ITEM}`), 404)).toBe(404);
  });
});

describe('IIIF access tokens across processes (issue 17)', () => {
  test('a sign-out through one process refuses the token on the other', async () => {
    const html = await (await fetch(`${a.baseUrl}/auth/iiif/token?messageId=t1&origin=${encodeURIComponent(a.baseUrl)}`, as('someone@members.example.org'))).text();
    const token = /"accessToken":"([^"]+)"/.exec(html)?.[1];
    expect(token, html).toBeDefined();
    const probe = async (server: RunningServer) =>
      (await (await fetch(`${server.baseUrl}/auth/iiif/probe/manifest/${MEMBERS_ITEM}`, { headers: { Authorization: `Bearer ${token}` } })).json()).status;
    expect(await probe(a)).toBe(200);
    expect(await probe(b)).toBe(200);
    // Sign-out is a same-origin POST (the GET answers a confirmation page).
    const out = await fetch(`${a.baseUrl}/auth/iiif/logout`, as('someone@members.example.org', { method: 'POST', headers: { Origin: a.baseUrl } }));
    expect(out.status).toBe(200);
    expect(await probe(b)).toBe(401);
    expect(await probe(a)).toBe(401);
  });
});
