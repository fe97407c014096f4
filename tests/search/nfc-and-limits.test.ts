/**
 * Search edges (issue 12, item 7): queries are NFC-normalised like the data on both backends (the
 * Elasticsearch char filter maps combining dakuten/handakuten sequences too, checked for parity
 * with the embedded store's normalisation); an over-long query gets a clear answer instead of
 * being cut; page and size clamp consistently at any magnitude.
 */
import { describe, expect, it } from 'vitest';
import { planSearch } from '../../src/lib/search/es-query.ts';
import { parseSearchParams, queryTooLong } from '../../src/lib/search/params.ts';
import { SqliteStore } from '../../src/lib/search/sqlite.ts';
import { MAX_PAGE_SIZE, MAX_QUERY_LENGTH, pageOf } from '../../src/lib/search/store.ts';
import { COMBINING_KANA_MAPPINGS, KANA_MAPPINGS, WIDTH_MAPPINGS, bigrams } from '../../src/lib/search/text.ts';

/**
 * Elasticsearch's `mapping` char filter, as documented: at each position the longest matching
 * source is replaced; then our analyzer lower-cases and cuts bigrams of letter/digit runs.
 */
function esAnalyze(text: string, ...filters: ReadonlyArray<ReadonlyArray<readonly [string, string]>>): string[] {
  let out = text;
  for (const mappings of filters) out = esCharFilter(out, mappings);
  const grams: string[] = [];
  for (const run of out.toLowerCase().match(/[\p{L}\p{Nd}]+/gu) ?? []) {
    const cps = [...run];
    for (let i = 0; i + 1 < cps.length; i++) grams.push(cps[i]! + cps[i + 1]!);
  }
  return grams;
}

/** One `mapping` char filter: at each position the longest matching source is replaced. */
function esCharFilter(text: string, mappings: ReadonlyArray<readonly [string, string]>): string {
  const map = new Map(mappings.map(([f, t]) => [f, t]));
  const longest = Math.max(...mappings.map(([f]) => f.length));
  let out = '';
  for (let i = 0; i < text.length; ) {
    let hit = false;
    for (let n = Math.min(longest, text.length - i); n > 0; n--) {
      const to = map.get(text.slice(i, i + n));
      if (to !== undefined) {
        out += to;
        i += n;
        hit = true;
        break;
      }
    }
    if (!hit) out += text[i++];
  }
  return out;
}

const NFD_SAMPLES = ['ガイド', 'ぱんだ', 'ヴァイオリン', 'ポスター', 'がっこう', 'ジャズ喫茶', 'ぷ', 'ヷ'].map((s) => s.normalize('NFD'));

describe('NFC on both backends', () => {
  it('the char filter table maps every kana + combining (semi-)voiced mark to its precomposed form', () => {
    for (let cp = 0x3041; cp <= 0x30ff; cp++) {
      for (const mark of ['\u3099', '\u309a']) {
        const seq = String.fromCodePoint(cp) + mark;
        if ([...seq.normalize('NFC')].length === 1) expect(COMBINING_KANA_MAPPINGS).toContainEqual([seq, seq.normalize('NFC')]);
      }
    }
  });

  it('parity: analysis with the width + combining-kana char filter and the embedded store cut the same bigrams from NFD and NFC text', () => {

    for (const s of NFD_SAMPLES) {
      expect(s).not.toBe(s.normalize('NFC'));
      // The char filters in the index's order (es-settings.ts): archive_nfc, archive_width, archive_kana.
      expect(esAnalyze(s, COMBINING_KANA_MAPPINGS, WIDTH_MAPPINGS, KANA_MAPPINGS), s).toEqual(bigrams(s));
      // NFC text (what ingest stores) needs no combining rule.
      expect(esAnalyze(s.normalize('NFC'), WIDTH_MAPPINGS, KANA_MAPPINGS), s).toEqual(bigrams(s));
      expect(bigrams(s), s).toEqual(bigrams(s.normalize('NFC')));
    }
  });

  it('an NFD query plans the same Elasticsearch query as its NFC form', () => {
    const nfd = planSearch({ q: 'か\u3099いど' });
    const nfc = planSearch({ q: 'がいど' });
    expect(nfd.query).toEqual(nfc.query);
    expect(nfd.skip).toBe(false);
  });

  it('the embedded store finds NFC data with an NFD query, and NFD data with an NFC query', async () => {
    const store = new SqliteStore(':memory:');
    await store.init();
    await store.upsert([
      { id: 'A-1', batch: 'R01', title: { ja: '観光ガイド' }, images: [] },
      { id: 'A-2', batch: 'R01', title: { ja: 'パンダの写真'.normalize('NFD') }, images: [] },
    ]);
    expect((await store.search({ q: 'カ\u3099イド' })).hits.map((h) => h.record.id)).toEqual(['A-1']);
    expect((await store.search({ q: 'パンダ' })).hits.map((h) => h.record.id)).toEqual(['A-2']);
    expect((await store.search({ q: 'ハ\u309aンダ' })).hits.map((h) => h.record.id)).toEqual(['A-2']);
    await store.close();
  });
});

describe('over-long queries', () => {
  it('are refused with the length and the limit, never cut and searched in part', async () => {
    const store = new SqliteStore(':memory:');
    await store.init();
    await store.upsert([{ id: 'B-1', batch: 'R01', title: { ja: '東京駅' }, images: [] }]);
    const fits = `東京 ${'x'.repeat(MAX_QUERY_LENGTH - 3)}`;
    expect([...fits].length).toBe(MAX_QUERY_LENGTH);
    expect((await store.search({ q: fits })).tooLong).toBeUndefined();
    // One character more: a prefix would match B-1 (a false positive); it is not searched.
    const long = `東京 ${'x'.repeat(MAX_QUERY_LENGTH)} 大阪`;
    const res = await store.search({ q: long });
    expect(res).toMatchObject({ total: 0, hits: [], unsearchable: true, tooLong: { length: [...long].length, max: MAX_QUERY_LENGTH } });
    expect(planSearch({ q: long })).toMatchObject({ skip: true, base: { tooLong: { max: MAX_QUERY_LENGTH } } });
    // The URL parameters keep the whole query, and say it is too long.
    const req = parseSearchParams(new URLSearchParams({ q: long }));
    expect(req.q).toBe(long);
    expect(queryTooLong(req)).toEqual({ length: [...long].length, max: MAX_QUERY_LENGTH });
    expect(queryTooLong(parseSearchParams(new URLSearchParams({ q: fits })))).toBeUndefined();
    await store.close();
  });
});

describe('page and size clamp at any magnitude', () => {
  const parsed = (page: string, size = '20') => {
    const r = parseSearchParams(new URLSearchParams({ page, size }));
    return [r.page, r.pageSize];
  };
  it('in the URL parameters: more digits never means a smaller page', () => {
    const pages = ['1', '99', '99999', '100000', '100001', '999999999', '1000000000', '12345678901', '9'.repeat(40)].map((p) => parsed(p)[0]!);
    for (let i = 1; i < pages.length; i++) expect(pages[i]!).toBeGreaterThanOrEqual(pages[i - 1]!);
    expect(pages.at(-1)).toBe(pages.at(-2));
    expect(parsed('0')[0]).toBe(1);
    expect(parsed('000000000000000000007')[0]).toBe(7);
    expect(parsed('abc')[0]).toBe(1);
    expect(parsed('1', '99999999999')[1]).toBe(MAX_PAGE_SIZE);
    expect(parsed('1', '0')[1]).toBe(20); // 0: the default, as before
  });
  it('in the store: the same clamp for numbers of any size', () => {
    const max = pageOf({ page: 1e9, pageSize: 20 }).page;
    for (const page of [1e10, 1e15, 1e300, Number.MAX_SAFE_INTEGER]) expect(pageOf({ page, pageSize: 20 }).page).toBe(max);
    expect(pageOf({ page: 5, pageSize: 1e12 }).pageSize).toBe(MAX_PAGE_SIZE);
  });
});
