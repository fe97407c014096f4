/**
 * The AccessStore port on both backends: grants (save, list, get, replace), the audit trail
 * (append-only, insert-or-ignore per id, filters, newest first, retention), and IIIF token
 * revocations shared between processes: two store handles on one SQLite file, and two stores on
 * one (fake, stateful) Elasticsearch behind @elastic/elasticsearch-mock, each with its own
 * AccessTokens as two web processes would have.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { EsAccessStore, AUDIT_MAPPINGS, GRANT_MAPPINGS } from '../../src/lib/access/access-elasticsearch.ts';
import { SqliteAccessStore } from '../../src/lib/access/access-sqlite.ts';
import { accessStoreFor } from '../../src/lib/access/access-open.ts';
import { accessEventId, type AccessStore, type AuditEvent } from '../../src/lib/access/access-store.ts';
import type { Grant } from '../../src/lib/access/grants.ts';
import { AccessTokens } from '../../src/lib/access/tokens.ts';
import { SqliteStore } from '../../src/lib/search/sqlite.ts';
import { FakeAccessCluster } from '../search/es-access-fake.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempFile(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'access-store-'));
  dirs.push(d);
  return path.join(d, 'archive.sqlite');
}

const grant = (id: string, over: Partial<Grant> = {}): Grant => ({
  id,
  pattern: '*@lab.example.org',
  level: 'members',
  until: '2027-01-01T00:00:00.000Z',
  reason: 'research request 42',
  granted_by: 'curator@example.org',
  granted_at: `2026-11-0${id.length % 9}T10:00:00.000Z`,
  ...over,
});
const added = (g: Grant, at = g.granted_at): AuditEvent => ({ id: `grant.add/${at}/${g.id}`, at, type: 'grant.add', actor: g.granted_by, grant_id: g.id, before: null, after: g });
const access = (user: string, item: string, at: string, grantId?: string): AuditEvent => ({
  id: accessEventId(user, item, new Date(at)),
  at,
  type: 'access',
  actor: user,
  item_id: item,
  kind: 'page',
  level: 'members',
  ...(grantId ? { grant_id: grantId } : {}),
});

interface Backend {
  name: string;
  /** Two handles on the same store, as two processes would have. */
  open(): Promise<[AccessStore, AccessStore]>;
}

const BACKENDS: Backend[] = [
  {
    name: 'sqlite',
    async open() {
      const file = tempFile();
      const a = new SqliteStore(file);
      const b = new SqliteStore(file);
      await a.init();
      await b.init();
      return [(await accessStoreFor(a))!, (await accessStoreFor(b))!];
    },
  },
  {
    name: 'elasticsearch (mock)',
    async open() {
      const es = new FakeAccessCluster();
      return [new EsAccessStore({ client: es.client, prefix: 'archive' }), new EsAccessStore({ client: es.client, prefix: 'archive' })];
    },
  },
];

for (const backend of BACKENDS) {
  describe(`AccessStore on ${backend.name}`, () => {
    test('grants: saved with their audit event, listed newest first, replaced by id, seen by the other handle', async () => {
      const [a, b] = await backend.open();
      const g1 = grant('g1');
      const g2 = grant('g22', { pattern: 'guest@example.com', level: 'staff' });
      await a.saveGrant(g1, added(g1));
      await a.saveGrant(g2, added(g2));
      expect((await b.listGrants()).map((g) => g.id)).toEqual(['g22', 'g1']);
      expect(await b.getGrant('g1')).toEqual(g1);
      expect(await b.getGrant('nope')).toBeNull();
      const revoked = { ...g1, revoked_at: '2026-11-05T00:00:00.000Z', revoked_by: 'curator@example.org' };
      await b.saveGrant(revoked, { id: 'grant.revoke/x', at: revoked.revoked_at!, type: 'grant.revoke', actor: 'curator@example.org', grant_id: 'g1', before: g1, after: revoked });
      expect(await a.getGrant('g1')).toEqual(revoked);
      expect((await a.listGrants()).length).toBe(2);
      const changes = await a.listAudit({ grant: 'g1' });
      expect(changes.map((e) => e.type)).toEqual(['grant.revoke', 'grant.add']);
      expect(changes[0]!.before).toEqual(g1);
      expect(changes[0]!.after).toEqual(revoked);
    });

    test('audit: insert-or-ignore per id (first access of the day kept), filters, limit, retention', async () => {
      const [a, b] = await backend.open();
      const first = access('reader@lab.example.org', 'R01-0002', '2026-12-01T09:00:00.000Z', 'g1');
      const later = access('reader@lab.example.org', 'R01-0002', '2026-12-01T15:00:00.000Z', 'g1');
      expect(first.id).toBe(later.id);
      expect(await a.appendAudit([first])).toBe(1);
      expect(await b.appendAudit([later, access('other@lab.example.org', 'R01-0002', '2026-12-01T10:00:00.000Z')])).toBe(1);
      await a.appendAudit([access('reader@lab.example.org', 'R01-0002', '2026-12-02T08:00:00.000Z', 'g1'), access('reader@lab.example.org', 'R02-0001', '2026-11-01T08:00:00.000Z')]);
      const item = await b.listAudit({ item: 'R01-0002' });
      expect(item.map((e) => [e.actor, e.at])).toEqual([
        ['reader@lab.example.org', '2026-12-02T08:00:00.000Z'],
        ['other@lab.example.org', '2026-12-01T10:00:00.000Z'],
        ['reader@lab.example.org', '2026-12-01T09:00:00.000Z'],
      ]);
      expect((await b.listAudit({ grant: 'g1' })).length).toBe(2);
      expect((await b.listAudit({ actor: 'other@lab.example.org' })).length).toBe(1);
      expect((await b.listAudit({ since: '2026-12-01T10:00:00.000Z' })).length).toBe(2);
      expect((await b.listAudit({ limit: 1 })).map((e) => e.at)).toEqual(['2026-12-02T08:00:00.000Z']);
      expect(await a.pruneAudit('2026-12-01T00:00:00.000Z')).toBe(1);
      expect((await b.listAudit({})).length).toBe(3);
    });

    test('a sign-out through one process refuses the token on the other', async () => {
      const [a, b] = await backend.open();
      const opts = { secret: 'x'.repeat(40), issuer: 'http://archive.test', ttlSeconds: 300 };
      const one = new AccessTokens(opts);
      const two = new AccessTokens(opts);
      one.useStore(async () => a);
      two.useStore(async () => b);
      const token = await one.issue({ id: 'reader@lab.example.org', origin: 'http://client.test' });
      const other = await one.issue({ id: 'someone@lab.example.org', origin: 'http://client.test' });
      expect((await two.check(token)).ok).toBe(true);
      await one.revoke('reader@lab.example.org');
      expect(await two.check(token)).toEqual({ ok: false, detail: 'token revoked (signed out)' });
      expect(await one.check(token)).toEqual({ ok: false, detail: 'token revoked (signed out)' });
      expect((await two.check(other)).ok).toBe(true);
      // A token issued after the sign-out is valid again (on both).
      await new Promise((r) => setTimeout(r, 2));
      const fresh = await two.issue({ id: 'reader@lab.example.org', origin: 'http://client.test' });
      expect((await one.check(fresh)).ok).toBe(true);
    });

    test('revocations older than a token lifetime are forgotten', async () => {
      const [a] = await backend.open();
      await a.revokeTokens('old@example.org', 1_000);
      await a.revokeTokens('new@example.org', 5_000);
      await a.revokeTokens('new@example.org', 4_000); // never moves back
      await a.pruneRevocations(2_000);
      expect(await a.tokensRevokedAt('old@example.org')).toBeUndefined();
      expect(await a.tokensRevokedAt('new@example.org')).toBe(5_000);
    });
  });
}

describe('the Elasticsearch requests', () => {
  test('indices are created once with explicit mappings; audit events are bulk `create`s (never overwrite); grants wait for refresh', async () => {
    const es = new FakeAccessCluster();
    const store = new EsAccessStore({ client: es.client, prefix: 'archive' });
    const g = grant('g1');
    await store.saveGrant(g, added(g));
    await store.listGrants();
    const creates = es.requests.filter((r) => r.method === 'PUT' && !r.path.includes('_doc'));
    expect(creates.map((r) => r.path)).toEqual(['/archive-grants', '/archive-audit', '/archive-revocations']);
    expect((creates[0]!.body as { mappings: unknown }).mappings).toEqual(GRANT_MAPPINGS);
    expect((creates[1]!.body as { mappings: unknown }).mappings).toEqual(AUDIT_MAPPINGS);
    const put = es.requests.find((r) => r.path === '/archive-grants/_doc/g1')!;
    expect(put.querystring).toEqual({ refresh: 'wait_for' });
    expect(put.body).toEqual(g);
    const bulk = es.requests.find((r) => r.path === '/_bulk')!;
    expect(bulk.body).toEqual([{ create: { _index: 'archive-audit', _id: added(g).id } }, added(g)]);
    expect(es.requests.filter((r) => r.method === 'HEAD').length).toBe(3);
    expect(es.unexpected).toEqual([]);
  });

  test('a second process finding the index just created by the first carries on', async () => {
    const es = new FakeAccessCluster();
    const a = new EsAccessStore({ client: es.client, prefix: 'archive' });
    const b = new EsAccessStore({ client: es.client, prefix: 'archive' });
    await Promise.all([a.init(), b.init()]);
    expect([...es.indices.keys()].sort()).toEqual(['archive-audit', 'archive-grants', 'archive-revocations']);
  });

  test('an unreachable cluster is an error of the call (classified by the search store), and the next call tries again', async () => {
    const es = new FakeAccessCluster();
    const store = new EsAccessStore({ client: es.client, prefix: 'archive', unavailable: (e) => new Error(`unavailable: ${(e as Error).name}`) });
    es.down = true;
    await expect(store.listGrants()).rejects.toThrow('unavailable: ConnectionError');
    es.down = false;
    expect(await store.listGrants()).toEqual([]);
  });
});

test('SqliteAccessStore keeps its tables in the archive file (opened once, by the search store)', async () => {
  const file = tempFile();
  const s = new SqliteStore(file);
  await s.init();
  const access = new SqliteAccessStore(s.connection());
  await access.init();
  await access.init(); // idempotent
  const tables = s.connection().prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('access_grants', 'access_audit', 'token_revocations') ORDER BY name").all();
  expect(tables.map((t) => t.name)).toEqual(['access_audit', 'access_grants', 'token_revocations']);
  await s.close();
});
