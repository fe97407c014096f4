/**
 * The shared query suite: one notion of a match, checked on every backend through the
 * `SearchStore` port only. Run it from a backend's test file:
 *
 *   querySuite('sqlite', async () => { const s = new SqliteStore(':memory:'); await s.init(); return s; });
 *
 * `makeStore` must return a fresh, empty, initialised store each time it is called; the suite
 * closes the stores it makes. Expected values are written against tests/search/fixture.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ItemInput, SearchRequest, SearchResponse, SearchStore } from '../../src/lib/search/store.ts';
import { FIXTURE, FIXTURE_IDS, TOKYO_RANKING } from './fixture.ts';
import { DATED } from './dated-fixture.ts';

export const T0 = new Date('2024-01-01T00:00:00.000Z');
export const T1 = new Date('2024-02-01T12:30:00.000Z');

/** [id, score] pairs of a response's hits, in order. */
export function ranked(res: SearchResponse): Array<[string, number]> {
  return res.hits.map((h) => [h.record.id, h.score]);
}

export function ids(res: SearchResponse): string[] {
  return res.hits.map((h) => h.record.id);
}

function fixtureItem(id: string): ItemInput {
  const item = FIXTURE.find((i) => i.id === id);
  if (!item) throw new Error(`no fixture item ${id}`);
  return structuredClone(item);
}

export function querySuite(name: string, makeStore: () => Promise<SearchStore>): void {
  describe(`query suite: ${name}`, () => {
    let store: SearchStore;
    const made: SearchStore[] = [];
    const fresh = async (): Promise<SearchStore> => {
      const s = await makeStore();
      made.push(s);
      return s;
    };
    const search = (req: SearchRequest) => store.search(req);

    beforeAll(async () => {
      store = await fresh();
      const report = await store.upsert(structuredClone(FIXTURE), T0);
      expect(report).toEqual({ inserted: 30, updated: 0 });
    });
    afterAll(async () => {
      for (const s of made) await s.close();
    });

    describe('records', () => {
      it('counts and returns stored records with the store-maintained fields', async () => {
        expect(await store.count()).toBe(30);
        const rec = await store.get('R01-0002');
        expect(rec).toEqual({
          ...fixtureItem('R01-0002'),
          indexed_at: T0.toISOString(),
          updated_at: T0.toISOString(),
          s3_uploaded: false,
        });
        expect(await store.get('R99-9999')).toBeNull();
        expect(await store.get('')).toBeNull();
      });

      it('keeps every input field, including provenance and image labels', async () => {
        const rec = await store.get('R01-0001');
        expect(rec?.source).toEqual({ file: 'R01.xlsx', sheet: '目録', row: 2 });
        expect(rec?.date).toBe('昭和10年頃');
        expect(rec?.images).toEqual(fixtureItem('R01-0001').images);
      });
    });

    describe('matching', () => {
      it('finds Japanese substrings, ranked by field weights', async () => {
        const res = await search({ q: '東京' });
        expect(res.total).toBe(11);
        expect(ranked(res)).toEqual(TOKYO_RANKING);
        expect(res.tooShort).toEqual([]);
        expect(res.unsearchable).toBe(false);
        expect(res.page).toBe(1);
        expect(res.pageSize).toBe(20);
      });

      it('matches two-character queries inside longer words', async () => {
        // 京都 is inside 東京都 too: a match is a substring, not a word.
        expect(ranked(await search({ q: '京都' }))).toEqual([
          ['R03-0002', 13],
          ['R01-0005', 10],
          ['R01-0004', 3],
        ]);
      });

      it('finds Latin words case-insensitively, in any language value', async () => {
        // A whole word scores WHOLE_WORD_BONUS (100) on top of its fields; part of a word does not.
        expect(ranked(await search({ q: 'harbour' }))).toEqual([['R01-0010', 112]]);
        expect(ranked(await search({ q: 'HARBOUR' }))).toEqual([['R01-0010', 112]]);
        expect(ranked(await search({ q: 'arbou' }))).toEqual([['R01-0010', 12]]);
      });

      it('finds full-width Latin as ASCII and the other way round', async () => {
        const expected = [
          ['R02-0009', 10],
          ['R02-0012', 1],
        ];
        expect(ranked(await search({ q: 'ＡＢＣ' }))).toEqual(expected);
        expect(ranked(await search({ q: 'abc' }))).toEqual(expected);
        expect(ranked(await search({ q: 'ｓｔａｔｉｏｎ' }))).toEqual([
          ['R01-0002', 110],
          ['R02-0007', 110],
        ]);
      });

      it('finds half-width katakana as full-width and the other way round', async () => {
        const expected = [
          ['R02-0010', 10],
          ['R01-0004', 2],
        ];
        expect(ranked(await search({ q: 'ｱｲｳ' }))).toEqual(expected);
        expect(ranked(await search({ q: 'アイウ' }))).toEqual(expected);
      });

      it('finds characters outside the BMP', async () => {
        expect(ranked(await search({ q: '𠮷田' }))).toEqual([['R01-0009', 12]]);
      });

      it('finds ids, whole or in part', async () => {
        expect(ranked(await search({ q: 'R02-0003' }))).toEqual([['R02-0003', 8]]);
        expect(ranked(await search({ q: 'r02-0003' }))).toEqual([['R02-0003', 8]]);
        expect(ranked(await search({ q: '0003' }))).toEqual([
          ['R01-0003', 8],
          ['R02-0003', 8],
          ['R03-0003', 8],
        ]);
      });

      it('matches a phrase across punctuation: 東京・大阪 finds 東京、大阪', async () => {
        expect(ranked(await search({ q: '東京・大阪' }))).toEqual([['R01-0003', 2]]);
        expect(ranked(await search({ q: '東京、大阪' }))).toEqual([['R01-0003', 2]]);
      });

      it('never matches a phrase across two values of a field', async () => {
        // R03-0003 has subjects ['東京', '大阪'], R03-0004 has 大阪 東京 in the other order.
        expect(ranked(await search({ q: '"東京 大阪"' }))).toEqual([['R01-0003', 2]]);
        const res = await search({ q: '二都物語 東京大阪' });
        expect(res.total).toBe(0);
      });

      it('requires every term (AND) and adds up their weights', async () => {
        expect(ranked(await search({ q: '東京 大阪' }))).toEqual([
          ['R03-0004', 20],
          ['R01-0003', 17],
          ['R03-0003', 8],
        ]);
        expect(ranked(await search({ q: '梅林 写真' }))).toEqual([['R02-0004', 12]]);
        expect((await search({ q: '梅林 東京' })).total).toBe(0);
      });

      it('keeps quoted phrases whole', async () => {
        expect(ranked(await search({ q: '"tokyo station"' }))).toEqual([['R01-0002', 10]]);
        expect(ranked(await search({ q: 'tokyo station' }))).toEqual([
          ['R01-0002', 220],
          ['R02-0007', 220],
        ]);
        expect(ranked(await search({ q: '"station tokyo"' }))).toEqual([]);
      });

      it('does not search the type, batch or date fields', async () => {
        expect(ranked(await search({ q: '写真' }))).toEqual([
          ['R02-0004', 5],
          ['R01-0001', 2],
          ['R01-0002', 2],
        ]);
        expect((await search({ q: '絵葉書' })).total).toBe(1); // R03-0004's description only
        expect((await search({ q: '頃' })).total).toBe(0);
      });
    });

    describe('ranking', () => {
      it('sums the weights of the fields a term occurs in, ties broken by id', async () => {
        // title 10, creator 5, subjects 4, place 3, collection 2, description 2, notes 1
        expect(ranked(await search({ q: '梅林' }))).toEqual([
          ['R02-0001', 12], // title + description
          ['R01-0006', 10], // title
          ['R02-0002', 10], // title
          ['R02-0003', 7], // subjects + place
          ['R02-0004', 7], // creator + collection
          ['R02-0005', 2], // description
          ['R02-0006', 1], // notes
        ]);
      });

      it('counts a field once however often the term occurs in it', async () => {
        // R02-0001 has 梅林 once in the title and once in the description; R01-0003 has 大阪 in
        // title, description and place.
        expect(ranked(await search({ q: '大阪' }))).toEqual([
          ['R01-0003', 15],
          ['R02-0008', 13],
          ['R03-0004', 10],
          ['R03-0003', 4],
        ]);
      });

      it('orders by id with score 0 when asked to sort by id', async () => {
        const res = await search({ q: '梅林', sort: 'id' });
        expect(ranked(res)).toEqual([
          ['R01-0006', 0],
          ['R02-0001', 0],
          ['R02-0002', 0],
          ['R02-0003', 0],
          ['R02-0004', 0],
          ['R02-0005', 0],
          ['R02-0006', 0],
        ]);
        expect(res.total).toBe(7);
        const tokyo = [
          'R01-0001',
          'R01-0002',
          'R01-0003',
          'R01-0005',
          'R02-0007',
          'R02-0011',
          'R03-0001',
          'R03-0003',
          'R03-0004',
          'R03-0005',
          'R03-0007',
        ];
        expect(ids(await search({ q: '東京', sort: 'id' }))).toEqual(tokyo);
        expect(ids(await search({ q: '東京', sort: 'id', page: 2, pageSize: 4 }))).toEqual(tokyo.slice(4, 8));
        expect(ids(await search({ q: '東京', sort: 'id', page: 3, pageSize: 4 }))).toEqual(tokyo.slice(8));
      });

      it('sorts by relevance when asked to, and by id when there is no query', async () => {
        expect(ranked(await search({ q: '大阪', sort: 'relevance', pageSize: 2 }))).toEqual([
          ['R01-0003', 15],
          ['R02-0008', 13],
        ]);
        expect(ids(await search({ sort: 'relevance', pageSize: 3 }))).toEqual(FIXTURE_IDS.slice(0, 3));
      });
    });

    describe('short and empty queries', () => {
      it('ignores terms shorter than two characters (other than one Han character) and reports them', async () => {
        const res = await search({ q: '梅林 の' });
        expect(res.tooShort).toEqual(['の']);
        expect(res.unsearchable).toBe(false);
        expect(res.total).toBe(7);
      });

      it('answers a query with nothing searchable as unsearchable, without results', async () => {
        for (const q of ['の', 'の ぬ', '・', '"a"', 'x']) {
          const res = await search({ q });
          expect(res.unsearchable).toBe(true);
          expect(res.total).toBe(0);
          expect(res.hits).toEqual([]);
          expect(res.facets).toEqual({ batch: [], type: [] });
        }
        expect((await search({ q: 'の ぬ' })).tooShort).toEqual(['の', 'ぬ']);
      });

      it('returns an empty result for a query that matches nothing', async () => {
        const res = await search({ q: '存在しない言葉' });
        expect(res).toEqual({
          total: 0,
          page: 1,
          pageSize: 20,
          hits: [],
          facets: { batch: [], type: [] },
          decades: [],
          tooShort: [],
          unsearchable: false,
        });
      });

      it('browses everything by id when there is no query', async () => {
        for (const q of [undefined, '', '   ', '\u3000']) {
          const res = await search({ q, pageSize: 100 });
          expect(res.total).toBe(30);
          expect(ids(res)).toEqual(FIXTURE_IDS);
          expect(res.hits.every((h) => h.score === 0)).toBe(true);
          expect(res.unsearchable).toBe(false);
        }
      });
    });

    describe('forgiving search (issue 19.6)', () => {
      // Records of their own, in a fresh store: the shared fixture's counts stay as they are.
      const item = (id: string, title: { ja?: string; en?: string }, more: Partial<ItemInput> = {}): ItemInput => ({
        id,
        batch: 'F1',
        title,
        images: [{ id: `${id}-01`, file: `F1/${id}-01.jpg` }],
        ...more,
      });
      const RECORDS: ItemInput[] = [
        item('F-0001', { ja: '小学校の運動会', en: 'Sports day at a school' }),
        item('F-0002', { ja: '村祭りの神輿', en: 'Portable shrine' }),
        item('F-0003', { ja: 'ホテルの玄関', en: 'Hotel entrance' }),
        item('F-0004', { ja: 'ほてるの看板' }),
        item('F-0005', { ja: '港' }, { description: { ja: '小さな漁港。' } }),
        item('F-0006', { ja: '東京駅' }, { place: { ja: '東京' } }),
        item('F-0007', { ja: 'ｶﾀｶﾅのﾎﾃﾙ' }),
        item('F-0009', { ja: '横浜港の風景', en: 'Port of Yokohama' }, { place: { ja: '横浜', en: 'Yokohama' } }),
      ];
      let f: SearchStore;
      beforeAll(async () => {
        f = await fresh();
        await f.upsert(structuredClone(RECORDS), T0);
      });
      const find = async (q: string) => ranked(await f.search({ q, pageSize: 100 }));

      it('folds hiragana and katakana (and half-width katakana) both ways', async () => {
        const hotels: Array<[string, number]> = [
          ['F-0003', 10],
          ['F-0004', 10],
          ['F-0007', 10],
        ];
        expect(await find('ほてる')).toEqual(hotels);
        expect(await find('ホテル')).toEqual(hotels);
        expect(await find('ﾎﾃﾙ')).toEqual(hotels);
        expect(await find('かたかな')).toEqual([['F-0007', 10]]);
      });

      it('answers one Han character from the unigram field, at the unigram weights', async () => {
        // title 5 (half of 10), description 1 (half of 2, rounded up)
        expect(await find('港')).toEqual([
          ['F-0005', 6],
          ['F-0009', 5],
        ]);
        expect(await find('駅')).toEqual([['F-0006', 5]]);
        const res = await f.search({ q: '東' });
        expect(ranked(res)).toEqual([['F-0006', 7]]); // title 5 + place 2
        expect(res.tooShort).toEqual([]);
        expect(res.unsearchable).toBe(false);
      });

      it('keeps a one-kanji term in a longer query, ranked below the longer term', async () => {
        const res = await f.search({ q: '港 横浜' });
        expect(res.tooShort).toEqual([]);
        // 横浜: title 10 + place 3; 港: title 5
        expect(ranked(res)).toEqual([['F-0009', 18]]);
        expect(await find('東京 駅')).toEqual([['F-0006', 18]]); // 東京 title 10 + place 3, 駅 title 5
      });

      it('ranks Latin whole-word matches above inner-word substrings', async () => {
        expect(await find('port')).toEqual([
          ['F-0009', 110],
          ['F-0001', 10],
          ['F-0002', 10],
        ]);
        expect(await find('PORT')).toEqual(await find('port'));
        // An inner-word query gets no bonus anywhere.
        expect(await find('ort')).toEqual([
          ['F-0001', 10],
          ['F-0002', 10],
          ['F-0009', 10],
        ]);
      });
    });

    describe('facets and filters', () => {
      it('counts batch and type over everything when browsing, count desc then value asc', async () => {
        const res = await search({});
        expect(res.facets).toEqual({
          batch: [
            { value: 'R02', count: 12 },
            { value: 'R01', count: 10 },
            { value: 'R03', count: 8 },
          ],
          type: [
            { value: '写真', count: 19 },
            { value: '絵葉書', count: 6 },
            { value: '地図', count: 3 },
          ],
        });
      });

      it('counts facets over the whole match set, not just the page', async () => {
        const res = await search({ q: '東京', pageSize: 2 });
        expect(res.hits).toHaveLength(2);
        expect(res.facets).toEqual({
          batch: [
            { value: 'R03', count: 5 },
            { value: 'R01', count: 4 },
            { value: 'R02', count: 2 },
          ],
          type: [
            { value: '写真', count: 8 },
            { value: '絵葉書', count: 2 },
            { value: '地図', count: 1 },
          ],
        });
      });

      it('filters by batch and type (any of the values), facets following the filters', async () => {
        const res = await search({ q: '東京', filters: { batch: ['R01', 'R03'], type: ['地図', '絵葉書'] } });
        expect(ranked(res)).toEqual([
          ['R01-0005', 13],
          ['R03-0007', 13],
          ['R03-0004', 10],
        ]);
        expect(res.facets).toEqual({
          batch: [
            { value: 'R03', count: 2 },
            { value: 'R01', count: 1 },
          ],
          type: [
            { value: '絵葉書', count: 2 },
            { value: '地図', count: 1 },
          ],
        });
      });

      it('filters while browsing', async () => {
        const maps = await search({ filters: { type: ['地図'] } });
        expect(maps.total).toBe(3);
        expect(ids(maps)).toEqual(['R01-0007', 'R02-0008', 'R03-0007']);
        expect(maps.facets).toEqual({
          batch: [
            { value: 'R01', count: 1 },
            { value: 'R02', count: 1 },
            { value: 'R03', count: 1 },
          ],
          type: [{ value: '地図', count: 3 }],
        });
        const r02cards = await search({ filters: { batch: ['R02'], type: ['絵葉書'] } });
        expect(ids(r02cards)).toEqual(['R02-0005', 'R02-0006', 'R02-0010']);
        const r03 = await search({ filters: { batch: ['R03'] } });
        expect(r03.total).toBe(8);
        expect(r03.facets.type).toEqual([
          { value: '写真', count: 6 },
          { value: '地図', count: 1 },
          { value: '絵葉書', count: 1 },
        ]);
      });

      it('filters on s3_uploaded', async () => {
        expect((await search({ filters: { s3_uploaded: false } })).total).toBe(30);
        expect((await search({ filters: { s3_uploaded: true } })).total).toBe(0);
        expect((await search({ q: '梅林', filters: { s3_uploaded: true } })).total).toBe(0);
        expect((await search({ q: '梅林', filters: { s3_uploaded: false } })).total).toBe(7);
      });

      it('matches nothing for filter values that do not exist', async () => {
        const res = await search({ q: '東京', filters: { batch: ['R99'] } });
        expect(res.total).toBe(0);
        expect(res.hits).toEqual([]);
        expect(res.facets).toEqual({ batch: [], type: [] });
        expect((await search({ filters: { type: ['彫刻'] } })).total).toBe(0);
      });

      it('treats an empty filter list as no filter', async () => {
        expect((await search({ filters: { batch: [], type: [] } })).total).toBe(30);
        expect((await search({ q: '東京', filters: { batch: [] } })).total).toBe(11);
      });
    });

    describe('dates (issue 15.4)', () => {
      // Year ranges are parsed from the date text at index time (src/lib/dates/range.ts).
      let ds: SearchStore;
      beforeAll(async () => {
        ds = await fresh();
        await ds.upsert(structuredClone(DATED), T0);
      });

      it('counts every decade a record touches (the decade facet), oldest first', async () => {
        const res = await ds.search({});
        expect(res.total).toBe(11);
        expect(res.decades).toEqual([
          { value: '1880', count: 1 },
          { value: '1890', count: 1 },
          { value: '1910', count: 2 },
          { value: '1920', count: 3 },
          { value: '1930', count: 3 },
          { value: '2010', count: 2 },
        ]);
      });

      it('filters by a year range: records whose range overlaps it, facets following', async () => {
        const taisho = await ds.search({ filters: { yearFrom: 1912, yearTo: 1926 } });
        expect(ids(taisho)).toEqual(['D02', 'D03', 'D05', 'D06']);
        expect(taisho.total).toBe(4);
        expect(taisho.facets.batch).toEqual([{ value: 'D1', count: 4 }]);
        expect(taisho.decades).toEqual([
          { value: '1910', count: 2 },
          { value: '1920', count: 3 },
          { value: '1930', count: 1 },
        ]);
        expect(ids(await ds.search({ filters: { yearFrom: 2000 } }))).toEqual(['D09', 'D10']);
        expect(ids(await ds.search({ filters: { yearTo: 1900 } }))).toEqual(['D01']);
        expect(ids(await ds.search({ filters: { yearFrom: 1935, yearTo: 1935 } }))).toEqual(['D04', 'D11']);
        expect(ids(await ds.search({ filters: { yearFrom: 1935, yearTo: 1935, batch: ['D2'] } }))).toEqual(['D11']);
      });

      it('an inverted year range matches nothing', async () => {
        const res = await ds.search({ filters: { yearFrom: 1930, yearTo: 1920 } });
        expect([res.total, res.hits, res.decades]).toEqual([0, [], []]);
      });

      it('filters a query by years, decades over the matches', async () => {
        const res = await ds.search({ q: '港町', filters: { yearFrom: 1912, yearTo: 1926 } });
        expect(ids(res)).toEqual(['D02', 'D03', 'D06']);
        expect(res.decades).toEqual([
          { value: '1910', count: 2 },
          { value: '1920', count: 2 },
          { value: '1930', count: 1 },
        ]);
        const all = await ds.search({ q: '港町' });
        expect(all.total).toBe(10);
        expect(all.decades?.find((d) => d.value === '1920')).toEqual({ value: '1920', count: 2 });
      });

      it('sorts by date, oldest or newest first, undated records last, ties by id', async () => {
        const oldest = ['D01', 'D02', 'D06', 'D03', 'D05', 'D04', 'D11', 'D09', 'D10', 'D07', 'D08'];
        const newest = ['D09', 'D10', 'D04', 'D11', 'D06', 'D03', 'D05', 'D02', 'D01', 'D07', 'D08'];
        expect(ids(await ds.search({ sort: 'oldest' }))).toEqual(oldest);
        expect(ids(await ds.search({ sort: 'newest' }))).toEqual(newest);
        expect(ids(await ds.search({ sort: 'oldest', page: 2, pageSize: 3 }))).toEqual(oldest.slice(3, 6));
        const q = await ds.search({ q: '港町', sort: 'oldest' });
        expect(ids(q)).toEqual(oldest.filter((id) => id !== 'D05'));
        expect(q.hits.every((h) => h.score === 0)).toBe(true);
        expect(ids(await ds.search({ q: '港町', sort: 'newest', filters: { yearFrom: 1912, yearTo: 1926 } }))).toEqual(['D06', 'D03', 'D02']);
      });

      it('keeps unparsed dates searchable by their text and lists them', async () => {
        expect(ids(await ds.search({ q: '不明' }))).toEqual([]); // the date is not a searchable field…
        expect(ids(await ds.search({ q: 'D07' }))).toEqual(['D07']); // …the record is found as before
        expect(await ds.listUnparsedDates?.(10)).toEqual({ total: 1, records: [{ id: 'D07', batch: 'D1', date: '不明' }] });
      });

      it('re-reads the range when a record is upserted with another date', async () => {
        const s = await fresh();
        await s.upsert(structuredClone(DATED), T0);
        await s.upsert([{ ...structuredClone(DATED[6]!), date: '昭和2年' }], T1);
        expect(ids(await s.search({ filters: { yearFrom: 1927, yearTo: 1927 } }))).toEqual(['D06', 'D07']);
        expect((await s.listUnparsedDates?.(10))?.total).toBe(0);
      });
    });

    describe('access filter', () => {
      it('keeps only records at the given levels, facets following', async () => {
        const open = await search({ filters: { access: ['open'] }, pageSize: 100 });
        expect(open.total).toBe(28);
        expect(ids(open)).toEqual(FIXTURE_IDS.filter((id) => id !== 'R01-0007' && id !== 'R03-0001'));
        const members = await search({ filters: { access: ['members'] } });
        expect(ids(members)).toEqual(['R01-0007']);
        expect(members.facets).toEqual({ batch: [{ value: 'R01', count: 1 }], type: [{ value: '地図', count: 1 }] });
        expect(ranked(await search({ q: '東京', filters: { access: ['open', 'members'] } })).map(([id]) => id)).not.toContain('R03-0001');
        expect((await search({ q: '東京', filters: { access: ['open', 'members'] } })).total).toBe(10);
        expect((await search({ q: '東京', filters: { access: ['open', 'members', 'staff'] } })).total).toBe(11);
      });

      it('matches nothing for an empty list', async () => {
        const res = await search({ q: '東京', filters: { access: [] } });
        expect([res.total, res.hits, res.facets]).toEqual([0, [], { batch: [], type: [] }]);
        expect((await search({ filters: { access: [] } })).total).toBe(0);
      });
    });

    describe('paging', () => {
      it('returns the requested page of a browse', async () => {
        const p2 = await search({ page: 2, pageSize: 7 });
        expect(ids(p2)).toEqual(FIXTURE_IDS.slice(7, 14));
        expect(p2.total).toBe(30);
        expect(p2.page).toBe(2);
        expect(p2.pageSize).toBe(7);
        expect(ids(await search({ page: 5, pageSize: 7 }))).toEqual(FIXTURE_IDS.slice(28, 30));
      });

      it('returns the requested page of a ranked result', async () => {
        expect(ranked(await search({ q: '梅林', page: 2, pageSize: 3 }))).toEqual([
          ['R02-0003', 7],
          ['R02-0004', 7],
          ['R02-0005', 2],
        ]);
        expect(ranked(await search({ q: '梅林', page: 3, pageSize: 3 }))).toEqual([['R02-0006', 1]]);
        expect(ranked(await search({ q: '梅林', page: 2, pageSize: 3, sort: 'id' }))).toEqual([
          ['R02-0003', 0],
          ['R02-0004', 0],
          ['R02-0005', 0],
        ]);
      });

      it('returns no hits but the total and facets beyond the last page', async () => {
        const res = await search({ q: '梅林', page: 4, pageSize: 3 });
        expect(res.hits).toEqual([]);
        expect(res.total).toBe(7);
        expect(res.page).toBe(4);
        expect(res.facets.batch).toEqual([
          { value: 'R02', count: 6 },
          { value: 'R01', count: 1 },
        ]);
        const browse = await search({ page: 99 });
        expect(browse.hits).toEqual([]);
        expect(browse.total).toBe(30);
      });

      it('clamps page and page size instead of failing', async () => {
        const big = await search({ pageSize: 1000 });
        expect(big.pageSize).toBe(100);
        expect(big.hits).toHaveLength(30);
        const cases: Array<[SearchRequest, number, number]> = [
          [{ page: 0 }, 1, 20],
          [{ page: -3 }, 1, 20],
          [{ page: 2.7, pageSize: 10 }, 2, 10],
          [{ page: Number.NaN, pageSize: Number.NaN }, 1, 20],
          [{ page: Number.POSITIVE_INFINITY }, 1, 20],
          [{ pageSize: 0 }, 1, 1],
          [{ pageSize: -5 }, 1, 1],
        ];
        for (const [req, page, pageSize] of cases) {
          const res = await search(req);
          expect([res.page, res.pageSize]).toEqual([page, pageSize]);
          expect(res.total).toBe(30);
        }
      });
    });

    describe('images', () => {
      it('finds an image by id with its record and access level', async () => {
        expect(await store.getImage('R01-0001_02')).toEqual({
          id: 'R01-0001_02',
          file: 'R01/R01-0001/02.tif',
          label: { ja: '裏', en: 'back' },
          width: 3990,
          height: 2980,
          itemId: 'R01-0001',
          access: 'open',
        });
        expect(await store.getImage('R01-0007_01')).toEqual({
          id: 'R01-0007_01',
          file: 'R01/R01-0007/01.tif',
          width: 4000,
          height: 3000,
          itemId: 'R01-0007',
          access: 'members',
        });
        expect((await store.getImage('R03-0001_01'))?.access).toBe('staff');
      });

      it('returns null for unknown or malformed image ids', async () => {
        expect(await store.getImage('R09-0001_01')).toBeNull();
        expect(await store.getImage('../etc/passwd')).toBeNull();
        expect(await store.getImage('')).toBeNull();
      });
    });

    describe('upsert', () => {
      it('is idempotent: indexed_at stays, updated_at moves, results do not change', async () => {
        const s = await fresh();
        expect(await s.upsert(structuredClone(FIXTURE), T0)).toEqual({ inserted: 30, updated: 0 });
        const before = await s.search({ q: '東京' });
        expect(await s.upsert(structuredClone(FIXTURE), T1)).toEqual({ inserted: 0, updated: 30 });
        expect(await s.count()).toBe(30);
        const rec = await s.get('R01-0003');
        expect(rec?.indexed_at).toBe(T0.toISOString());
        expect(rec?.updated_at).toBe(T1.toISOString());
        const after = await s.search({ q: '東京' });
        expect(ranked(after)).toEqual(ranked(before));
        expect(after.facets).toEqual(before.facets);
        expect((await s.search({})).facets).toEqual((await search({})).facets);
      });

      it('counts new and existing records separately', async () => {
        const s = await fresh();
        expect(await s.upsert([fixtureItem('R01-0001')], T0)).toEqual({ inserted: 1, updated: 0 });
        expect(await s.upsert([fixtureItem('R01-0001'), fixtureItem('R01-0002')], T1)).toEqual({
          inserted: 1,
          updated: 1,
        });
        expect((await s.get('R01-0002'))?.indexed_at).toBe(T1.toISOString());
        expect((await s.get('R01-0001'))?.indexed_at).toBe(T0.toISOString());
        expect(await s.upsert([], T1)).toEqual({ inserted: 0, updated: 0 });
      });

      it('replaces a record: old text stops matching, new text, batch and type count', async () => {
        const s = await fresh();
        await s.upsert(structuredClone(FIXTURE), T0);
        const changed = fixtureItem('R01-0006');
        changed.title = { ja: '桜の並木' };
        changed.batch = 'R03';
        changed.type = '地図';
        await s.upsert([changed], T1);
        expect(ranked(await s.search({ q: '梅林' })).map(([id]) => id)).not.toContain('R01-0006');
        expect(ranked(await s.search({ q: '並木' }))).toEqual([['R01-0006', 10]]);
        const res = await s.search({ filters: { type: ['地図'] } });
        expect(ids(res)).toEqual(['R01-0006', 'R01-0007', 'R02-0008', 'R03-0007']);
        expect(res.facets.batch).toEqual([
          { value: 'R03', count: 2 },
          { value: 'R01', count: 1 },
          { value: 'R02', count: 1 },
        ]);
        const all = await s.search({});
        expect(all.facets.batch).toEqual([
          { value: 'R02', count: 12 },
          { value: 'R01', count: 9 },
          { value: 'R03', count: 9 },
        ]);
        expect(all.facets.type[0]).toEqual({ value: '写真', count: 18 });
        expect((await s.get('R01-0006'))?.batch).toBe('R03');
      });

      it('drops images removed from a record and adds new ones', async () => {
        const s = await fresh();
        await s.upsert([fixtureItem('R01-0001')], T0);
        const item = fixtureItem('R01-0001');
        item.images = [item.images[0]!, { id: 'R01-0001_03', file: 'R01/R01-0001/03.tif' }];
        await s.upsert([item], T1);
        expect(await s.getImage('R01-0001_02')).toBeNull();
        expect(await s.getImage('R01-0001_03')).toEqual({
          id: 'R01-0001_03',
          file: 'R01/R01-0001/03.tif',
          itemId: 'R01-0001',
          access: 'open',
        });
        expect((await s.get('R01-0001'))?.images.map((i) => i.id)).toEqual(['R01-0001_01', 'R01-0001_03']);
      });

      it('follows the record when its access level changes', async () => {
        const s = await fresh();
        const item = fixtureItem('R01-0002');
        await s.upsert([item], T0);
        expect((await s.getImage('R01-0002_01'))?.access).toBe('open');
        await s.upsert([{ ...item, access: 'staff' }], T1);
        expect((await s.getImage('R01-0002_01'))?.access).toBe('staff');
      });
    });

    describe('markUploaded', () => {
      const upload = (imageId: string) => ({ imageId, key: `photos/${imageId}.tif`, size: 1234, at: T1.toISOString() });

      it('sets s3_uploaded once every image of a record is uploaded', async () => {
        const s = await fresh();
        expect(typeof s.markUploaded).toBe('function');
        await s.upsert([fixtureItem('R01-0001'), fixtureItem('R01-0002')], T0);

        expect(await s.markUploaded!([upload('R01-0001_01'), upload('nope')])).toEqual({
          images: 1,
          unknown: ['nope'],
          completed: 0,
        });
        expect((await s.get('R01-0001'))?.s3_uploaded).toBe(false);
        expect((await s.getImage('R01-0001_01'))?.s3Key).toBe('photos/R01-0001_01.tif');

        expect(await s.markUploaded!([upload('R01-0001_02')])).toEqual({ images: 1, unknown: [], completed: 1 });
        const rec = await s.get('R01-0001');
        expect(rec?.s3_uploaded).toBe(true);
        expect(rec?.images.map((i) => i.s3Key)).toEqual(['photos/R01-0001_01.tif', 'photos/R01-0001_02.tif']);
        expect(ids(await s.search({ filters: { s3_uploaded: true } }))).toEqual(['R01-0001']);
        expect(ids(await s.search({ q: '山田', filters: { s3_uploaded: false } }))).toEqual(['R01-0002']);
        expect(ids(await s.search({ q: '山田', filters: { s3_uploaded: true } }))).toEqual(['R01-0001']);
      });

      it('is kept by later upserts while the images stay the same', async () => {
        const s = await fresh();
        await s.upsert([fixtureItem('R01-0001')], T0);
        await s.markUploaded!([upload('R01-0001_01'), upload('R01-0001_02')]);
        await s.upsert([fixtureItem('R01-0001')], T1);
        const rec = await s.get('R01-0001');
        expect(rec?.s3_uploaded).toBe(true);
        expect(rec?.updated_at).toBe(T1.toISOString());
        expect((await s.getImage('R01-0001_02'))?.s3Key).toBe('photos/R01-0001_02.tif');

        // A new image is not uploaded yet: the record is not fully uploaded any more.
        const more = fixtureItem('R01-0001');
        more.images.push({ id: 'R01-0001_03', file: 'R01/R01-0001/03.tif' });
        await s.upsert([more], T1);
        expect((await s.get('R01-0001'))?.s3_uploaded).toBe(false);
        expect(await s.markUploaded!([upload('R01-0001_03')])).toEqual({ images: 1, unknown: [], completed: 1 });
        expect((await s.get('R01-0001'))?.s3_uploaded).toBe(true);
      });

      it('never marks a record without images', async () => {
        const s = await fresh();
        await s.upsert([fixtureItem('R01-0008')], T0);
        expect(await s.markUploaded!([])).toEqual({ images: 0, unknown: [], completed: 0 });
        expect((await s.get('R01-0008'))?.s3_uploaded).toBe(false);
      });

      it('drops the upload of an image whose file changes, and counts repeated and unknown ids', async () => {
        const s = await fresh();
        await s.upsert([fixtureItem('R01-0002')], T0);
        expect(await s.markUploaded!([upload('R01-0002_01'), upload('R01-0002_01'), upload('../x')])).toEqual({
          images: 2,
          unknown: ['../x'],
          completed: 1,
        });
        const moved = fixtureItem('R01-0002');
        moved.images[0]!.file = 'R01/R01-0002/01-rescan.tif';
        await s.upsert([moved], T1);
        expect((await s.get('R01-0002'))?.s3_uploaded).toBe(false);
        expect((await s.getImage('R01-0002_01'))?.s3Key).toBeUndefined();
      });
    });

    describe('listImages', () => {
      it('lists every image with its upload state, by image id, filtered by batch and upload', async () => {
        const s = await fresh();
        expect(typeof s.listImages).toBe('function');
        await s.upsert([fixtureItem('R02-0001'), fixtureItem('R01-0001'), fixtureItem('R01-0008')], T0);
        await s.markUploaded!([{ imageId: 'R01-0001_02', key: 'photos/R01-0001_02.tif', size: 77, at: T1.toISOString() }]);
        expect(await s.listImages!()).toEqual([
          { id: 'R01-0001_01', itemId: 'R01-0001', batch: 'R01', file: 'R01/R01-0001/01.tif' },
          {
            id: 'R01-0001_02',
            itemId: 'R01-0001',
            batch: 'R01',
            file: 'R01/R01-0001/02.tif',
            s3Key: 'photos/R01-0001_02.tif',
            s3Size: 77,
            uploadedAt: T1.toISOString(),
          },
          { id: 'R02-0001_01', itemId: 'R02-0001', batch: 'R02', file: 'R02/R02-0001/01.tif' },
        ]);
        expect((await s.listImages!({ uploaded: true })).map((i) => i.id)).toEqual(['R01-0001_02']);
        expect((await s.listImages!({ uploaded: false })).map((i) => i.id)).toEqual(['R01-0001_01', 'R02-0001_01']);
        expect((await s.listImages!({ batch: ['R02'] })).map((i) => i.id)).toEqual(['R02-0001_01']);
        expect((await s.listImages!({ batch: [] })).length).toBe(3);
        // An upload survives an upsert that keeps the image's file.
        await s.upsert([fixtureItem('R01-0001')], T1);
        expect((await s.listImages!({ uploaded: true })).map((i) => [i.id, i.s3Size])).toEqual([['R01-0001_02', 77]]);
      });
    });

    describe('input checks', () => {
      it('rejects invalid records and writes nothing', async () => {
        const s = await fresh();
        const good = fixtureItem('R01-0001');
        const badImage = { ...fixtureItem('R01-0002'), images: [{ id: '../x', file: 'a.tif' }] };
        await expect(s.upsert([good, badImage], T0)).rejects.toThrow(/invalid image id/);
        await expect(s.upsert([{ ...good, batch: '' }], T0)).rejects.toThrow(/no batch/);
        await expect(s.upsert([{ ...good, id: ' ' }], T0)).rejects.toThrow(/without id/);
        await expect(s.upsert([{ ...good, access: 'public' as never }], T0)).rejects.toThrow(/access/);
        await expect(s.upsert([{ ...good, images: [{ id: 'R01-0001_09', file: '' }] }], T0)).rejects.toThrow(/has no file/);
        await expect(s.markUploaded!([{ imageId: 'R01-0001_01', key: '', size: 1, at: T1.toISOString() }])).rejects.toThrow(/invalid entry/);
        expect(await s.count()).toBe(0);
        expect(await s.get('R01-0001')).toBeNull();
      });

      it('rejects an image claimed by two records, in one upsert or against the store', async () => {
        const s = await fresh();
        const a = fixtureItem('R01-0001');
        const b = { ...fixtureItem('R01-0002'), images: [{ id: 'R01-0001_01', file: 'x.tif' }] };
        await expect(s.upsert([a, b], T0)).rejects.toThrow(/image R01-0001_01 is listed by both R01-0001 and R01-0002/);
        expect(await s.count()).toBe(0);
        await s.upsert([a], T0);
        await expect(s.upsert([b], T1)).rejects.toThrow(/image R01-0001_01 of R01-0002 already belongs to R01-0001/);
        expect(await s.count()).toBe(1);
        expect(await s.get('R01-0002')).toBeNull();
        // Moving an image between two records in one upsert is fine.
        const a2 = { ...a, images: [a.images[1]!] };
        const b2 = { ...b, images: [a.images[0]!] };
        expect(await s.upsert([b2, a2], T1)).toEqual({ inserted: 1, updated: 1 });
        expect((await s.getImage('R01-0001_01'))?.itemId).toBe('R01-0002');
        expect((await s.getImage('R01-0001_02'))?.itemId).toBe('R01-0001');
        expect((await s.get('R01-0001'))?.images.map((i) => i.id)).toEqual(['R01-0001_02']);
      });

      it('keeps the last of two records with the same id in one upsert', async () => {
        const s = await fresh();
        const a = fixtureItem('R01-0001');
        expect(await s.upsert([a, { ...a, title: { ja: '二枚目' } }], T0)).toEqual({ inserted: 1, updated: 0 });
        expect((await s.get(a.id))?.title).toEqual({ ja: '二枚目' });
        expect(ranked(await s.search({ q: '二枚目' }))).toEqual([['R01-0001', 10]]);
      });

      it('leaves records without a type out of the type facet, and a blank type counts as none', async () => {
        const s = await fresh();
        await s.upsert([fixtureItem('R01-0008'), { ...fixtureItem('R02-0012'), type: '  ' }, fixtureItem('R01-0007')], T0);
        const res = await s.search({});
        expect(res.total).toBe(3);
        expect(res.facets.type).toEqual([{ value: '地図', count: 1 }]);
        expect((await s.get('R02-0012'))?.type).toBe('  ');
      });
    });
  });
}
