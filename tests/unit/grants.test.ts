/**
 * Grants, pure: validation with clear messages (bad address pattern, end before start, unknown
 * level, past end, unknown fields), status over time, level resolution with the bootstrap rules,
 * the grant cache's lifetime and invalidation, the audit CSV, and the request-path recogniser of
 * the audit.
 */
import { describe, expect, test } from 'vitest';
import type { AccessStore } from '../../src/lib/access/access-store.ts';
import { consultation } from '../../src/lib/access/audit.ts';
import { GrantBook } from '../../src/lib/access/grant-book.ts';
import { auditCsv } from '../../src/lib/access/grants-admin.ts';
import { GrantInputError, grantStatus, parseGrantChange, parseNewGrant, resolveLevel, type Grant } from '../../src/lib/access/grants.ts';

const NOW = new Date('2026-12-01T12:00:00Z');
const ok = { pattern: '*@lab.example.org', level: 'members', until: '2026-12-31T00:00:00Z', reason: 'request 42' };

describe('parseNewGrant', () => {
  test('accepts the issue example and normalises dates and case', () => {
    expect(parseNewGrant({ ...ok, pattern: '*@LAB.example.org', from: '2026-12-01' }, NOW)).toEqual({
      pattern: '*@lab.example.org',
      level: 'members',
      from: '2026-12-01T00:00:00.000Z',
      until: '2026-12-31T00:00:00.000Z',
      reason: 'request 42',
    });
    expect(parseNewGrant({ pattern: 'guest@example.com', level: 'staff', reason: 'x' }, NOW)).toEqual({ pattern: 'guest@example.com', level: 'staff', reason: 'x' });
    expect(parseNewGrant({ pattern: '0123abcd.access', level: 'members', reason: 'harvester' }, NOW).pattern).toBe('0123abcd.access');
  });

  const bad: Array<[string, unknown, RegExp]> = [
    ['bad address pattern', { ...ok, pattern: 'reader@' }, /pattern.*not an e-mail address/],
    ['wildcard inside', { ...ok, pattern: 'a*@lab.example.org' }, /only "\*" and "\*@domain"/],
    ['bad domain', { ...ok, pattern: '*@lab' }, /not \*@ followed by a domain/],
    ['everyone', { ...ok, pattern: '*' }, /belongs in ACCESS_RULES/],
    ['no pattern', { ...ok, pattern: '' }, /non-empty/],
    ['unknown level', { ...ok, level: 'admin' }, /level: unknown level "admin"/],
    ['open is no grant', { ...ok, level: 'open' }, /unknown level "open"/],
    ['end before start', { ...ok, from: '2026-12-20', until: '2026-12-10' }, /until .* must be after from/],
    ['end in the past', { ...ok, until: '2026-11-30T00:00:00Z' }, /already past/],
    ['not a date', { ...ok, until: 'tomorrow' }, /until: expected an ISO 8601 date/],
    ['impossible date', { ...ok, until: '2027-02-31' }, /until: "2027-02-31" is not a valid date/],
    ['no reason', { ...ok, reason: '  ' }, /reason/],
    ['unknown field', { ...ok, rights: 'all' }, /unknown field "rights"/],
    ['not an object', ['x'], /JSON object/],
  ];
  for (const [name, body, message] of bad) {
    test(`refuses: ${name}`, () => {
      expect(() => parseNewGrant(body, NOW)).toThrow(GrantInputError);
      expect(() => parseNewGrant(body, NOW)).toThrow(message);
    });
  }
});

const g = (over: Partial<Grant> = {}): Grant => ({
  id: 'g1',
  pattern: '*@lab.example.org',
  level: 'members',
  reason: 'r',
  granted_by: 'curator@example.org',
  granted_at: '2026-11-01T00:00:00.000Z',
  ...over,
});

test('parseGrantChange: until and/or reason, null removes the end, checks the period', () => {
  expect(parseGrantChange({ until: '2027-01-31' }, g(), NOW)).toEqual({ until: '2027-01-31T00:00:00.000Z' });
  expect(parseGrantChange({ until: null, reason: 'longer study' }, g(), NOW)).toEqual({ until: null, reason: 'longer study' });
  expect(() => parseGrantChange({}, g(), NOW)).toThrow(/nothing to change/);
  expect(() => parseGrantChange({ level: 'staff' }, g(), NOW)).toThrow(/unknown field "level"/);
  expect(() => parseGrantChange({ until: '2026-12-05' }, g({ from: '2026-12-10T00:00:00.000Z' }), NOW)).toThrow(/must be after from/);
});

test('grantStatus over time', () => {
  const grant = g({ from: '2026-12-01T00:00:00.000Z', until: '2026-12-02T00:00:00.000Z' });
  expect(grantStatus(grant, new Date('2026-11-30T23:59:59Z'))).toBe('future');
  expect(grantStatus(grant, new Date('2026-12-01T00:00:00Z'))).toBe('active');
  expect(grantStatus(grant, new Date('2026-12-01T23:59:59.999Z'))).toBe('active');
  expect(grantStatus(grant, new Date('2026-12-02T00:00:00Z'))).toBe('expired');
  expect(grantStatus({ ...grant, revoked_at: '2026-12-01T01:00:00.000Z' }, NOW)).toBe('revoked');
});

describe('resolveLevel', () => {
  const rules = { staff: ['curator@example.org'], members: ['*@example.ac.jp'] };
  test('a grant raises above the rules, and names itself', () => {
    expect(resolveLevel('Reader@Lab.example.org', rules, [g()], NOW)).toEqual({ level: 'members', levels: ['open', 'members'], grant: 'g1' });
    expect(resolveLevel('reader@sub.lab.example.org', rules, [g()], NOW)).toEqual({ level: 'open', levels: ['open'] });
  });
  test('rules that already give the level need no grant; a grant never lowers', () => {
    expect(resolveLevel('x@example.ac.jp', rules, [g({ pattern: '*@example.ac.jp' })], NOW)).toEqual({ level: 'members', levels: ['open', 'members'] });
    expect(resolveLevel('curator@example.org', rules, [g({ pattern: 'curator@example.org' })], NOW).level).toBe('staff');
  });
  test('the highest grant wins; among equals the longest lasting is named', () => {
    const grants = [g({ id: 'short', until: '2026-12-10T00:00:00.000Z' }), g({ id: 'long', until: '2027-06-01T00:00:00.000Z' }), g({ id: 'st', pattern: 'reader@lab.example.org', level: 'staff', until: '2026-12-03T00:00:00.000Z' })];
    expect(resolveLevel('reader@lab.example.org', rules, grants, NOW).grant).toBe('st');
    expect(resolveLevel('other@lab.example.org', rules, grants, NOW).grant).toBe('long');
  });
  test('revoked, expired and future grants give nothing', () => {
    for (const grant of [g({ revoked_at: '2026-11-30T00:00:00.000Z' }), g({ until: '2026-12-01T11:59:59.000Z' }), g({ from: '2026-12-02T00:00:00.000Z' })]) {
      expect(resolveLevel('reader@lab.example.org', rules, [grant], NOW).level).toBe('open');
    }
  });
});

describe('GrantBook', () => {
  function fakeStore(grants: Grant[]): AccessStore & { reads: number } {
    const s = {
      reads: 0,
      backend: 'fake',
      async listGrants() {
        s.reads++;
        return grants.map((x) => ({ ...x }));
      },
    };
    return s as unknown as AccessStore & { reads: number };
  }

  test('reads the store once per lifetime; an expiring grant stops at its end without a read', async () => {
    let now = Date.parse('2026-12-01T11:59:00Z');
    const store = fakeStore([g({ until: '2026-12-01T12:00:00.000Z' })]);
    const book = new GrantBook({ store: async () => store, rules: { staff: [], members: [] }, ttlMs: 10_000, now: () => now });
    expect((await book.resolve('reader@lab.example.org')).level).toBe('members');
    now += 5_000;
    expect((await book.resolve('reader@lab.example.org')).level).toBe('members');
    expect(store.reads).toBe(1);
    now = Date.parse('2026-12-01T12:00:00Z');
    // Past the lifetime: a new read, and the grant is over.
    expect((await book.resolve('reader@lab.example.org')).level).toBe('open');
    expect(store.reads).toBe(2);
  });

  test('invalidate(): the next request reads again; concurrent cold lookups share one read', async () => {
    const grants: Grant[] = [];
    const store = fakeStore(grants);
    const book = new GrantBook({ store: async () => store, rules: { staff: [], members: [] }, ttlMs: 60_000 });
    await Promise.all([book.resolve('a@lab.example.org'), book.resolve('b@lab.example.org'), book.resolve('c@lab.example.org')]);
    expect(store.reads).toBe(1);
    grants.push(g());
    expect((await book.resolve('a@lab.example.org')).level).toBe('open');
    book.invalidate();
    expect((await book.resolve('a@lab.example.org')).level).toBe('members');
    expect(store.reads).toBe(2);
  });

  test('a store that cannot be read: the rules alone apply (fail closed), logged, retried next time', async () => {
    const logs: string[] = [];
    let fail = true;
    const store = {
      backend: 'fake',
      async listGrants() {
        if (fail) throw new Error('cluster down');
        return [g()];
      },
    } as unknown as AccessStore;
    const book = new GrantBook({ store: async () => store, rules: { staff: [], members: [] }, ttlMs: 0, log: (m) => logs.push(m) });
    expect((await book.resolve('reader@lab.example.org')).level).toBe('open');
    expect(logs[0]).toMatch(/cluster down/);
    fail = false;
    expect((await book.resolve('reader@lab.example.org')).level).toBe('members');
  });
});

test('consultation(): which request paths consult an item', () => {
  expect(consultation('/items/R01-0002')).toEqual({ kind: 'page', id: 'R01-0002' });
  expect(consultation('/api/iiif/R01-0002/manifest.json')).toEqual({ kind: 'manifest', id: 'R01-0002' });
  expect(consultation('/iiif/3/R01-0002-01/info.json')).toEqual({ kind: 'image', id: 'R01-0002-01' });
  expect(consultation('/iiif/2/R01-0002-01/0,0,512,512/256,/0/default.jpg')).toEqual({ kind: 'image', id: 'R01-0002-01' });
  for (const p of ['/', '/items/', '/api/search.json', '/iiif/3/R01-0002-01', '/admin/access']) expect(consultation(p)).toBeUndefined();
});

test('auditCsv: a header, one row per event, quoting, no formula injection, BOM for spreadsheets', () => {
  const grant = g({ reason: '=HYPERLINK("x"), "quoted"\nline' });
  const csv = auditCsv([
    { id: 'a', at: '2026-12-01T00:00:00.000Z', type: 'grant.add', actor: 'curator@example.org', grant_id: 'g1', before: null, after: grant },
    { id: 'b', at: '2026-12-01T01:00:00.000Z', type: 'access', actor: 'reader@lab.example.org', item_id: '資料-1', kind: 'page', level: 'members', grant_id: 'g1' },
  ]);
  expect(csv.startsWith('\uFEFFat,type,actor,item_id,kind,level,grant_id,pattern,grant_level,from,until,reason,revoked_at\r\n')).toBe(true);
  const lines = csv.slice(1).trimEnd().split('\r\n');
  expect(lines[1]).toBe(`2026-12-01T00:00:00.000Z,grant.add,curator@example.org,,,,g1,*@lab.example.org,members,,,"'=HYPERLINK(""x""), ""quoted""\nline",`);
  expect(lines[2]).toBe('2026-12-01T01:00:00.000Z,access,reader@lab.example.org,資料-1,page,members,g1,,,,,,');
});

describe('AccessAudit', () => {
  test('tiles: one lookup per user, image and day, one event per user, item and day; open items not logged; retention', async () => {
    const { SqliteStore } = await import('../../src/lib/search/sqlite.ts');
    const { accessStoreFor } = await import('../../src/lib/access/access-open.ts');
    const { AccessAudit } = await import('../../src/lib/access/audit.ts');
    const items = new SqliteStore(':memory:');
    await items.init();
    const store = (await accessStoreFor(items))!;
    await store.appendAudit([{ id: 'old', at: '2020-01-01T00:00:00.000Z', type: 'access', actor: 'x@example.org', item_id: 'A' }]);
    let now = new Date('2026-12-01T09:00:00Z');
    const images: Record<string, { itemId: string; access: 'open' | 'members' }> = { 'A-1': { itemId: 'A', access: 'members' }, 'A-2': { itemId: 'A', access: 'members' }, 'O-1': { itemId: 'O', access: 'open' } };
    const audit = new AccessAudit({ store: async () => store, item: async () => null, image: async (id) => images[id] ?? null, retentionDays: 365, now: () => now, flushMs: 60_000 });
    const reader = { id: 'reader@lab.example.org', level: 'members' as const, grant: 'g1' };
    for (let i = 0; i < 500; i++) audit.noteRequest(`/iiif/3/A-1/${i * 256},0,256,256/256,/0/default.jpg`, reader);
    audit.noteRequest('/iiif/3/A-2/info.json', reader);
    audit.noteRequest('/iiif/3/O-1/info.json', reader);
    audit.noteRequest('/iiif/3/NOPE/info.json', reader);
    audit.noteRequest('/iiif/3/A-1/info.json', null);
    expect(audit.lookups).toBe(4);
    await audit.flush();
    now = new Date('2026-12-02T09:00:00Z');
    audit.noteRequest('/iiif/3/A-1/info.json', reader);
    await audit.flush();
    const events = await store.listAudit({});
    expect(events.map((e) => [e.at, e.item_id, e.kind, e.grant_id])).toEqual([
      ['2026-12-02T09:00:00.000Z', 'A', 'image', 'g1'],
      ['2026-12-01T09:00:00.000Z', 'A', 'image', 'g1'],
    ]);
    await items.close();
  });
});
