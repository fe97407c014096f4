/**
 * Issue 16's "Done means", in process, on both backends of the access store (SQLite, and
 * Elasticsearch through @elastic/elasticsearch-mock with a stateful fake of the access indices):
 * the real gate (header mode), the grant cache, the JSON API handlers and the audit, with the
 * records in an embedded store read through the per-request scoped view, as routes read them.
 *
 *   a reader without a grant gets 404 on a members item; staff add a grant for *@lab.example.org
 *   until tomorrow through the API; the reader sees the item on the next request; revoke -> 404
 *   again; an expired grant -> 404 (without a restart, without a cache refresh); a grant by a
 *   non-staff user, a cross-origin POST, a form post or bad input -> refused; the audit shows both
 *   changes and the reader's first view (and only the first of the day); a second process on the
 *   same store sees a revocation within the cache lifetime.
 *
 * The same scenario runs against the built server in tests/security/grants.test.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { auditApi, grantsApi } from '../../src/lib/access/admin-http.ts';
import { EsAccessStore } from '../../src/lib/access/access-elasticsearch.ts';
import { accessStoreFor } from '../../src/lib/access/access-open.ts';
import type { AccessStore, AuditEvent } from '../../src/lib/access/access-store.ts';
import { AccessAudit } from '../../src/lib/access/audit.ts';
import { AccessGate, type User } from '../../src/lib/access/gate.ts';
import { GrantBook } from '../../src/lib/access/grant-book.ts';
import { GrantAdmin } from '../../src/lib/access/grants-admin.ts';
import { runInAccessScope, scopedStore } from '../../src/lib/access/scope.ts';
import { loadConfig } from '../../src/lib/config.ts';
import { SqliteStore } from '../../src/lib/search/sqlite.ts';
import { FIXTURE } from '../search/fixture.ts';
import { FakeAccessCluster } from '../search/es-access-fake.ts';

const ORIGIN = 'http://archive.test';
const STAFF = 'curator@example.org';
const READER = 'reader@lab.example.org';
const MEMBERS_ITEM = 'R01-0007';
const OPEN_ITEM = 'R01-0001';
const STAFF_ITEM = 'R03-0001';
const DAY = 86_400_000;

let dir: string;
let items: SqliteStore;
beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'grants-flow-'));
  items = new SqliteStore(path.join(dir, 'items.sqlite'));
  await items.init();
  await items.upsert(FIXTURE);
  expect(FIXTURE.find((i) => i.id === MEMBERS_ITEM)?.access).toBe('members');
  expect(FIXTURE.find((i) => i.id === STAFF_ITEM)?.access).toBe('staff');
});
afterAll(async () => {
  await items.close();
  rmSync(dir, { recursive: true, force: true });
});

/** One web process: its gate, grant cache, admin and audit, over a shared access store. */
function process_(store: AccessStore, clock: { now: number }) {
  const cfg = loadConfig(
    {
      HOST: '127.0.0.1',
      PUBLIC_BASE_URL: ORIGIN,
      DATA_DIR: dir,
      ACCESS_MODE: 'header',
      ACCESS_TRUSTED_PROXIES: '127.0.0.1',
      ACCESS_RULES: JSON.stringify({ staff: [STAFF] }),
    },
    dir,
  );
  const gate = new AccessGate({ access: cfg.access, publicBaseUrl: ORIGIN });
  const book = new GrantBook({ store: async () => store, rules: cfg.access.rules, ttlMs: 10_000, now: () => clock.now });
  const audit = new AccessAudit({ store: async () => store, item: (id) => items.get(id), image: (id) => items.getImage(id), retentionDays: 30, now: () => new Date(clock.now), flushMs: 60_000 });
  gate.grants = book;
  gate.audit = audit;
  const admin = new GrantAdmin({ store, book, now: () => new Date(clock.now) });

  async function user(email: string): Promise<User> {
    const outcome = await gate.authenticate({ method: 'GET', url: '/', headers: { 'x-auth-request-email': email }, remoteAddress: '127.0.0.1' });
    if (!outcome.allow || !outcome.user) throw new Error(`not let in: ${email}`);
    return outcome.user;
  }
  /** GET /items/{id} as the item page reads it: 200 or 404. */
  async function page(email: string, id: string): Promise<number> {
    const u = await user(email);
    const record = await runInAccessScope({ levels: u.levels }, () => scopedStore(items).get(id));
    if (!record) return 404;
    gate.audit!.noteRequest(`/items/${id}`, u);
    return 200;
  }
  async function api(email: string, method: string, urlPath: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
    const u = await user(email);
    const request = new Request(`${ORIGIN}${urlPath}`, {
      method,
      headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const url = new URL(request.url);
    const res = url.pathname.startsWith('/api/admin/audit')
      ? await auditApi(request, url, { user: u, store, ownOrigin: ORIGIN })
      : await grantsApi(request, url.pathname.split('/')[4], { user: u, admin, ownOrigin: ORIGIN });
    if (res === null) return { status: 404, body: 'the site’s missing-page answer' };
    const text = await res.text();
    return { status: res.status, body: res.headers.get('content-type')?.startsWith('application/json') ? JSON.parse(text) : text };
  }
  return { gate, book, audit, admin, page, api, user };
}

const BACKENDS: Array<[string, () => Promise<AccessStore>]> = [
  ['sqlite', async () => (await accessStoreFor(items))!],
  ['elasticsearch (mock)', async () => new EsAccessStore({ client: new FakeAccessCluster().client, prefix: 'archive' })],
];

for (const [name, open] of BACKENDS) {
  describe(`grants and audit on ${name}`, () => {
    test('the issue scenario', async () => {
      const store = await open();
      const clock = { now: Date.parse('2026-12-01T09:00:00Z') };
      const p = process_(store, clock);

      // No grant: the members item is missing for the reader; staff see it.
      expect(await p.page(READER, MEMBERS_ITEM)).toBe(404);
      expect(await p.page(STAFF, MEMBERS_ITEM)).toBe(200);

      // Refusals: a non-staff user (answered as a missing page), a cross-origin POST, a form post, bad input.
      const body = { pattern: '*@lab.example.org', level: 'members', until: new Date(clock.now + DAY).toISOString(), reason: 'research request 2026-17' };
      expect((await p.api(READER, 'POST', '/api/admin/grants', body)).status).toBe(404);
      expect((await p.api(READER, 'GET', '/api/admin/grants')).status).toBe(404);
      expect((await p.api(READER, 'GET', '/api/admin/audit')).status).toBe(404);
      expect((await p.api(STAFF, 'POST', '/api/admin/grants', body, { origin: 'https://evil.example' })).status).toBe(403);
      expect((await p.api(STAFF, 'POST', '/api/admin/grants', body, { 'sec-fetch-site': 'cross-site' })).status).toBe(403);
      expect((await p.api(STAFF, 'POST', '/api/admin/grants', 'pattern=*@lab.example.org', { 'content-type': 'application/x-www-form-urlencoded' })).status).toBe(415);
      expect((await p.api(STAFF, 'POST', '/api/admin/grants', '{"pattern":', {})).status).toBe(400);
      for (const [bad, message] of [
        [{ ...body, pattern: 'reader@@lab' }, /pattern/],
        [{ ...body, from: '2026-12-20', until: '2026-12-10' }, /must be after from/],
        [{ ...body, level: 'owner' }, /unknown level "owner"/],
      ] as const) {
        const r = await p.api(STAFF, 'POST', '/api/admin/grants', bad);
        expect(r.status).toBe(400);
        expect(r.body.error).toMatch(message);
      }
      expect((await store.listGrants()).length).toBe(0);
      expect(await p.page(READER, MEMBERS_ITEM)).toBe(404);

      // Staff add the grant: 201 with its id; the reader sees the item on the next request.
      const added = await p.api(STAFF, 'POST', '/api/admin/grants', body, { origin: ORIGIN });
      expect(added.status).toBe(201);
      expect(added.body).toMatchObject({ pattern: '*@lab.example.org', level: 'members', status: 'active', granted_by: STAFF, reason: body.reason });
      const id: string = added.body.id;
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      expect(await p.page(READER, MEMBERS_ITEM)).toBe(200);
      expect((await p.user(READER)).grant).toBe(id);
      expect(await p.page('someone@other.example.org', MEMBERS_ITEM)).toBe(404);
      // Later views the same day, and an open item, add nothing to the audit.
      clock.now += 3600_000;
      expect(await p.page(READER, MEMBERS_ITEM)).toBe(200);
      expect(await p.page(READER, OPEN_ITEM)).toBe(200);

      const list = await p.api(STAFF, 'GET', '/api/admin/grants');
      expect(list.body.grants.map((g: { id: string; status: string }) => [g.id, g.status])).toEqual([[id, 'active']]);
      const patched = await p.api(STAFF, 'PATCH', `/api/admin/grants/${id}`, { until: new Date(clock.now + 7 * DAY).toISOString(), reason: 'extended: thesis chapter' });
      expect(patched.status).toBe(200);
      expect(patched.body.reason).toBe('extended: thesis chapter');
      expect((await p.api(STAFF, 'PATCH', `/api/admin/grants/${id}`, { level: 'staff' })).status).toBe(400);
      expect((await p.api(STAFF, 'PATCH', '/api/admin/grants/00000000-0000-0000-0000-000000000000', { reason: 'x' })).status).toBe(404);

      // Revoke: 404 again on the very next request.
      clock.now += 1000;
      const revoked = await p.api(STAFF, 'DELETE', `/api/admin/grants/${id}`);
      expect(revoked.status).toBe(200);
      expect(revoked.body.status).toBe('revoked');
      expect(await p.page(READER, MEMBERS_ITEM)).toBe(404);

      // The audit: the three changes (who, before/after) and the reader's first view, once.
      await p.audit.flush();
      const audit = await p.api(STAFF, 'GET', '/api/admin/audit');
      expect(audit.status).toBe(200);
      const events: AuditEvent[] = audit.body.events;
      expect(events.map((e) => [e.type, e.actor, e.item_id ?? null])).toEqual([
        ['grant.revoke', STAFF, null],
        ['grant.change', STAFF, null],
        ['access', STAFF, MEMBERS_ITEM], // staff consulting a restricted item are recorded too
        ['access', READER, MEMBERS_ITEM],
        ['grant.add', STAFF, null],
      ]);
      const view = events.find((e) => e.type === 'access' && e.actor === READER)!;
      expect(view).toMatchObject({ kind: 'page', level: 'members', grant_id: id, at: '2026-12-01T09:00:00.000Z' });
      const revocation = events[0]!;
      expect(revocation.before?.revoked_at).toBeUndefined();
      expect(revocation.after?.revoked_at).toBeTruthy();
      // Per item, per grant, and as CSV.
      expect((await p.api(STAFF, 'GET', `/api/admin/audit?item=${MEMBERS_ITEM}`)).body.events.map((e: AuditEvent) => e.actor)).toEqual([STAFF, READER]);
      expect((await p.api(STAFF, 'GET', `/api/admin/audit?grant=${id}&type=access`)).body.events.length).toBe(1);
      const csv = await p.api(STAFF, 'GET', '/api/admin/audit?format=csv');
      expect(csv.body.split('\r\n').filter(Boolean).length).toBe(6);
      expect(csv.body).toContain(`access,${READER},${MEMBERS_ITEM},page,members,${id}`);
      expect((await p.api(STAFF, 'GET', '/api/admin/audit?type=bogus')).status).toBe(400);
    });

    test('an expired grant stops at its end, without a restart and without a cache refresh', async () => {
      const store = await open();
      const clock = { now: Date.parse('2026-12-01T09:00:00Z') };
      const p = process_(store, clock);
      const r = await p.api(STAFF, 'POST', '/api/admin/grants', { pattern: READER, level: 'members', until: new Date(clock.now + 5_000).toISOString(), reason: 'a short look' });
      expect(r.status).toBe(201);
      expect(await p.page(READER, MEMBERS_ITEM)).toBe(200);
      const loads = p.book.loads;
      clock.now += 5_000; // within the cache lifetime (10 s): the cached grant has ended

      expect(await p.page(READER, MEMBERS_ITEM)).toBe(404);
      expect(p.book.loads).toBe(loads);
      expect((await p.api(STAFF, 'GET', '/api/admin/grants')).body.grants[0].status).toBe('expired');
    });

    test('a future grant starts at its start; another process sees a revocation within the cache lifetime', async () => {
      const store = await open();
      const clock = { now: Date.parse('2026-12-01T09:00:00Z') };
      const a = process_(store, clock);
      const b = process_(store, clock);
      const r = await a.api(STAFF, 'POST', '/api/admin/grants', { pattern: '*@lab.example.org', level: 'staff', from: new Date(clock.now + 60_000).toISOString(), reason: 'visiting curator' });
      expect(r.body.status).toBe('future');
      expect(await b.page(READER, STAFF_ITEM)).toBe(404);
      clock.now += 60_000;
      expect(await b.page(READER, STAFF_ITEM)).toBe(200);
      expect((await b.user(READER)).level).toBe('staff');
      // Revoked through process a: at once there, and on b once b's cache lifetime (10 s) is over.
      await a.api(STAFF, 'DELETE', `/api/admin/grants/${r.body.id}`);
      expect(await a.page(READER, STAFF_ITEM)).toBe(404);
      clock.now += 10_000;
      expect(await b.page(READER, STAFF_ITEM)).toBe(404);
    });
  });
}
