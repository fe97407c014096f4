/**
 * Dates on the Elasticsearch backend (issue 15.4) without a cluster: the request bodies the store
 * sends for the year filter, the decade facet and the date sorts, how it reads the decade buckets
 * and listUnparsedDates' answer, and a parity check: the documents docInput() builds, filtered,
 * counted and sorted the way those bodies tell Elasticsearch to (range/terms filters, a terms
 * aggregation on `decades`, field sorts with missing values last), give what the embedded store
 * gives for the same requests. The live suite (elasticsearch.live.test.ts) runs the shared query
 * suite's date cases against a real cluster when ES_URL is set.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { docInput, type DocInput } from '../../src/lib/search/es-docs.ts';
import { planSearch } from '../../src/lib/search/es-query.ts';
import { SqliteStore } from '../../src/lib/search/sqlite.ts';
import type { SearchRequest } from '../../src/lib/search/store.ts';
import { DATED, DATE_REQUESTS } from './dated-fixture.ts';
import { Harness, recorded } from './es-harness.ts';

let h: Harness | undefined;
afterEach(() => {
  if (h) expect(h.unexpected, 'requests nobody expected').toEqual([]);
  h = undefined;
});

const NONE = recorded('search-nothing.json');

describe('date request bodies', () => {
  it('a year filter is two ranges (overlap), an inverted one matches nothing', async () => {
    h = new Harness();
    const store = h.ready();
    h.on('POST', '/archive/_search', NONE, NONE, NONE, NONE);
    await store.search({ filters: { yearFrom: 1912, yearTo: 1926 } });
    await store.search({ q: '港町', filters: { yearFrom: 1912 } });
    await store.search({ filters: { yearTo: 1900, batch: ['D1'] } });
    await store.search({ filters: { yearFrom: 1930, yearTo: 1920 } });
    const q = h.to('POST', '/archive/_search').map((r) => (r.body as { query: unknown }).query);
    expect(q[0]).toEqual({ bool: { filter: [{ range: { year_to: { gte: 1912 } } }, { range: { year_from: { lte: 1926 } } }] } });
    expect((q[1] as { bool: { filter: unknown } }).bool.filter).toEqual([{ range: { year_to: { gte: 1912 } } }, { range: { year_from: { lte: 1_000_000 } } }]);
    expect(q[2]).toEqual({ bool: { filter: [{ terms: { batch: ['D1'] } }, { range: { year_to: { gte: -1_000_000 } } }, { range: { year_from: { lte: 1900 } } }] } });
    expect(q[3]).toEqual({ bool: { filter: [{ match_none: {} }] } });
  });

  it('oldest and newest sort on the year fields, missing last, then id; scores reported as 0', async () => {
    h = new Harness();
    const store = h.ready();
    h.on('POST', '/archive/_search', NONE, NONE);
    await store.search({ q: '港町', sort: 'oldest' });
    await store.search({ sort: 'newest' });
    const sorts = h.to('POST', '/archive/_search').map((r) => (r.body as { sort: unknown }).sort);
    expect(sorts[0]).toEqual([{ year_from: { order: 'asc', missing: '_last' } }, { year_to: { order: 'asc', missing: '_last' } }, { id: { order: 'asc' } }]);
    expect(sorts[1]).toEqual([{ year_to: { order: 'desc', missing: '_last' } }, { year_from: { order: 'desc', missing: '_last' } }, { id: { order: 'asc' } }]);
    expect(planSearch({ q: '港町', sort: 'oldest' }).byScore).toBe(false);
  });

  it('reads the decade buckets as the decade facet, oldest first', async () => {
    h = new Harness();
    const store = h.ready();
    h.on('POST', '/archive/_search', recorded('search-decades.json'));
    const res = await store.search({});
    expect(res.decades).toEqual([
      { value: '1910', count: 2 },
      { value: '1920', count: 3 },
    ]);
  });

  it('listUnparsedDates: the documents marked date_unparsed, by id', async () => {
    h = new Harness();
    const store = h.ready();
    h.on('POST', '/archive/_search', recorded('search-unparsed-dates.json'));
    expect(await store.listUnparsedDates(5)).toEqual({
      total: 1,
      records: [{ id: 'D07', batch: 'D1', date: '不明', source: { file: 'D1.xlsx', sheet: '目録', row: 8 } }],
    });
    const body = h.to('POST', '/archive/_search')[0]!.body as Record<string, unknown>;
    expect(body.query).toEqual({ bool: { filter: [{ term: { date_unparsed: true } }] } });
    expect([body.size, body.sort]).toEqual([5, [{ id: { order: 'asc' } }]]);
  });
});

// --- Parity: the bodies' meaning applied to the documents, against the embedded store -----------

type Clause = Record<string, any>;

function matches(doc: DocInput, clause: Clause): boolean {
  if ('match_all' in clause) return true;
  if ('match_none' in clause) return false;
  if ('bool' in clause) return (clause.bool.filter ?? []).every((c: Clause) => matches(doc, c));
  if ('terms' in clause) {
    const [field, values] = Object.entries(clause.terms)[0] as [keyof DocInput, unknown[]];
    return values.includes(doc[field]);
  }
  if ('range' in clause) {
    const [field, cond] = Object.entries(clause.range)[0] as [keyof DocInput, { gte?: number; lte?: number }];
    const v = doc[field];
    if (typeof v !== 'number') return false; // a missing field matches no range
    return (cond.gte === undefined || v >= cond.gte) && (cond.lte === undefined || v <= cond.lte);
  }
  throw new Error(`clause not simulated: ${JSON.stringify(clause)}`);
}

function compareBy(sort: Array<Record<string, { order: 'asc' | 'desc'; missing?: '_last' }>>) {
  return (a: DocInput, b: DocInput): number => {
    for (const s of sort) {
      const [field, { order }] = Object.entries(s)[0]!;
      const x = a[field as keyof DocInput] as number | string | undefined;
      const y = b[field as keyof DocInput] as number | string | undefined;
      if (x === y) continue;
      if (x === undefined) return 1; // missing: _last, in either order
      if (y === undefined) return -1;
      const c = x < y ? -1 : 1;
      return order === 'asc' ? c : -c;
    }
    return 0;
  };
}

function simulate(req: SearchRequest, docs: DocInput[]) {
  const plan = planSearch(req);
  const hits = docs.filter((d) => matches(d, plan.query as Clause)).sort(compareBy(plan.sort as never));
  const decades = new Map<number, number>();
  for (const d of hits) for (const dec of d.decades) decades.set(dec, (decades.get(dec) ?? 0) + 1);
  return {
    total: hits.length,
    ids: hits.slice(plan.from, plan.from + plan.size).map((d) => d.id),
    decades: [...decades].sort((a, b) => a[0] - b[0]).map(([k, count]) => ({ value: String(k), count })),
  };
}

describe('parity with the embedded store (the request bodies applied to the documents)', () => {
  it.each(DATE_REQUESTS.map((r) => [JSON.stringify(r), r] as const))('%s', async (_, req) => {
    const sqlite = new SqliteStore(':memory:');
    await sqlite.init();
    await sqlite.upsert(structuredClone(DATED));
    const expected = await sqlite.search(req);
    await sqlite.close();
    const got = simulate(req, DATED.map(docInput));
    expect(got).toEqual({ total: expected.total, ids: expected.hits.map((x) => x.record.id), decades: expected.decades });
  });
});
