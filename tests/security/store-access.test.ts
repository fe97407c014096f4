/**
 * `filters.access` on the embedded store: for every subset of levels, browsing and querying (with
 * facets, paging and both orders) return exactly what the unfiltered search returns minus the
 * records at other levels — totals and facet counts included, so a restricted record cannot be
 * detected from a count either. The oracle is the store's own unfiltered answer.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { SqliteStore } from '../../src/lib/search/sqlite.ts';
import type { AccessLevel, FacetBucket, SearchRequest, SearchResponse } from '../../src/lib/search/store.ts';
import { FIXTURE } from '../search/fixture.ts';

let store: SqliteStore;
beforeAll(async () => {
  store = new SqliteStore(':memory:');
  await store.init();
  await store.upsert(FIXTURE);
});
afterAll(async () => {
  await store.close();
});

const SUBSETS: AccessLevel[][] = [[], ['open'], ['members'], ['staff'], ['open', 'members'], ['open', 'staff'], ['members', 'staff'], ['open', 'members', 'staff']];
const REQUESTS: SearchRequest[] = [
  {},
  { sort: 'id' },
  { q: '東京' },
  { q: '梅林' },
  { q: '梅林', sort: 'id' },
  { q: 'tokyo station' },
  { filters: { batch: ['R01'] } },
  { q: '写真', filters: { type: ['写真'] } },
  { filters: { s3_uploaded: false } },
];

function facetsOf(res: SearchResponse, ids: Set<string>, all: SearchResponse): { batch: FacetBucket[]; type: FacetBucket[] } {
  const count = (key: 'batch' | 'type') => {
    const m = new Map<string, number>();
    for (const h of all.hits) if (ids.has(h.record.id) && h.record[key]) m.set(h.record[key]!, (m.get(h.record[key]!) ?? 0) + 1);
    return [...m].map(([value, c]) => ({ value, count: c })).sort((a, b) => b.count - a.count || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
  };
  void res;
  return { batch: count('batch'), type: count('type') };
}

describe('SqliteStore filters.access', () => {
  test('the fixture has records at every level', () => {
    const levels = new Set(FIXTURE.map((r) => r.access ?? 'open'));
    expect([...levels].sort()).toEqual(['members', 'open', 'staff']);
  });

  for (const req of REQUESTS) {
    test(`${JSON.stringify(req)}: every subset of levels equals the unfiltered answer minus the other levels`, async () => {
      const all = await store.search({ ...req, page: 1, pageSize: 100 });
      for (const access of SUBSETS) {
        const expectedIds = all.hits.filter((h) => access.includes(h.record.access ?? 'open')).map((h) => h.record.id);
        const res = await store.search({ ...req, filters: { ...req.filters, access }, page: 1, pageSize: 100 });
        const label = `${JSON.stringify(req)} access=${access.join(',')}`;
        expect(res.hits.map((h) => h.record.id), label).toEqual(expectedIds);
        expect(res.total, label).toBe(expectedIds.length);
        expect(res.facets, label).toEqual(facetsOf(res, new Set(expectedIds), all));
        // Paging: two records a page, pages concatenated give the same list.
        const paged: string[] = [];
        for (let page = 1; page <= Math.ceil(expectedIds.length / 2); page++) {
          paged.push(...(await store.search({ ...req, filters: { ...req.filters, access }, page, pageSize: 2 })).hits.map((h) => h.record.id));
        }
        expect(paged, label).toEqual(expectedIds);
      }
    });
  }

  test('unknown level names match nothing; absent means no restriction', async () => {
    expect((await store.search({ filters: { access: ['public' as AccessLevel] } })).total).toBe(0);
    expect((await store.search({})).total).toBe(FIXTURE.length);
  });
});
