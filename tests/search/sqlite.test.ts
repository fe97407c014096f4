import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteStore, ftsFieldText, ftsPhrase } from '../../src/lib/search/sqlite.ts';
import { FIELD_WEIGHTS, UNIGRAM_WEIGHTS, WHOLE_WORD_BONUS, searchableValues, type ItemInput, type SearchField } from '../../src/lib/search/store.ts';
import { bigrams, latinWordOf, normalize, parseQuery } from '../../src/lib/search/text.ts';
import { FIXTURE } from './fixture.ts';
import { T0, T1, querySuite, ranked } from './query-suite.ts';

querySuite('sqlite', async () => {
  const store = new SqliteStore(':memory:');
  await store.init();
  return store;
});

/**
 * The definition of a match, written out naively: [id, score] in result order. A term is a bigram
 * phrase inside one value (field weight), or one Han character anywhere in a value (unigram
 * weight); a Latin one-word term found as a whole word (between non-letters/digits) in any value
 * adds WHOLE_WORD_BONUS once.
 */
function oracle(items: ItemInput[], q: string): Array<[string, number]> {
  const { terms, display } = parseQuery(q);
  if (terms.length === 0) return [];
  const out: Array<[string, number]> = [];
  for (const item of items) {
    const values = searchableValues(item);
    let score = 0;
    let all = true;
    terms.forEach((term, k) => {
      let s = 0;
      const uni = term.length === 1 && [...term[0]!].length === 1;
      for (const field of Object.keys(values) as SearchField[]) {
        const hit = values[field].some((v) => {
          if (uni) return normalize(v).includes(term[0]!);
          const grams = bigrams(v);
          for (let i = 0; i + term.length <= grams.length; i++) if (term.every((g, j) => grams[i + j] === g)) return true;
          return false;
        });
        if (hit) s += uni ? UNIGRAM_WEIGHTS[field] : FIELD_WEIGHTS[field];
      }
      if (s === 0) all = false;
      const word = latinWordOf(display[k]!);
      if (s > 0 && word) {
        const whole = new RegExp(`(^|[^\\p{L}\\p{Nd}])${word}($|[^\\p{L}\\p{Nd}])`, 'u');
        if (Object.values(values).some((vs) => vs.some((v) => whole.test(normalize(v))))) s += WHOLE_WORD_BONUS;
      }
      score += s;
    });
    if (all) out.push([item.id, score]);
  }
  return out.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
}

describe('SqliteStore', () => {
  let store: SqliteStore;
  beforeAll(async () => {
    store = new SqliteStore(':memory:');
    await store.init();
    await store.upsert(structuredClone(FIXTURE), T0);
  });
  afterAll(async () => {
    await store.close();
  });

  describe('FTS5 query text', () => {
    it('quotes every bigram and doubles quotes inside', () => {
      expect(ftsPhrase(['東京', '京都'])).toBe('"東京" + "京都"');
      expect(ftsPhrase(['a"', '*b'])).toBe('"a""" + "*b"');
    });

    it('indexes the values of a field with a gap token between them', () => {
      // Then, after one more gap, the distinct Han characters and the Latin words ("w" + word).
      expect(ftsFieldText(['東京都', '大阪'])).toBe('東京 京都 zzz 大阪 zzz 東 京 都 大 阪');
      expect(ftsFieldText(['東', '大阪', ''])).toBe('大阪 zzz 東 大 阪');
      expect(ftsFieldText(['Port of Yokohama', 'ホテル'])).toBe('po or rt of yo ok ko oh ha am ma zzz ほて てる zzz wport wof wyokohama');
      expect(ftsFieldText(['a'])).toBe('');
      expect(ftsFieldText([])).toBe('');
    });

    it('keeps each bigram as exactly one token of the ascii tokenizer', () => {
      const db = new DatabaseSync(':memory:');
      db.exec(`CREATE VIRTUAL TABLE t USING fts5 (x, tokenize = 'ascii');
               CREATE VIRTUAL TABLE v USING fts5vocab (t, 'instance');`);
      const grams = bigrams('東京とうきょうラーメン佐々木 ABC abc 123 𠮷野家 Éclair ǅx straße ｱｲｳ ＡＢＣ ΣΑΣ Привет ٣٤ 〆切');
      db.prepare('INSERT INTO t (x) VALUES (?)').run(grams.join(' '));
      const tokens = (db.prepare('SELECT term FROM v ORDER BY offset').all() as Array<{ term: string }>).map((r) => r.term);
      expect(tokens).toEqual(grams);
      db.close();
    });
  });

  describe('hostile query text', () => {
    const hostile = [
      '"',
      '""',
      '"""',
      '*',
      '東京*',
      'NEAR(',
      'NEAR(東京 大阪)',
      'NEAR(東京 大阪, 2)',
      'OR',
      '東京 OR 大阪',
      '東京 AND',
      'NOT 東京',
      '-東京',
      '東京 -大阪',
      ':',
      'title:東京',
      '{title}:東京',
      '{title} : 東京',
      '^東京',
      '東京^',
      '+東京',
      '東京"大阪',
      '"東京',
      "東京'; DROP TABLE items; --",
      '(東京)',
      '東京)',
      '\\"東京',
      'rowid:1',
      'items_fts:東京',
      '\u0000東京',
      '東京\u0000大阪',
    ];
    for (const q of hostile) {
      it(`treats ${JSON.stringify(q)} as plain text`, async () => {
        const res = await store.search({ q });
        expect(ranked(res)).toEqual(oracle(FIXTURE, q));
      });
    }

    it('matches FTS operator words only as letters', async () => {
      // "or" and "near" are just bigrams: nothing in the fixture contains them.
      expect((await store.search({ q: '東京 OR 大阪' })).total).toBe(0);
      expect((await store.search({ q: 'NEAR(東京' })).total).toBe(0);
      expect((await store.search({ q: '東京*' })).total).toBe(11);
      expect((await store.search({ q: '-東京' })).total).toBe(11);
      expect((await store.search({ q: '^東京' })).total).toBe(11);
    });
  });

  /** Runs generated queries (substrings of the items' texts plus noise) against the oracle. */
  async function agreesWithOracle(s: SqliteStore, items: ItemInput[], count: number, seed0: number) {
    let seed = seed0;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const texts = items.flatMap((i) => Object.values(searchableValues(i)).flat());
    const noise = [' ', '・', '、', '"', '-', 'ｰ', '\u3000', '*', ':'];
    const piece = () => {
      const chars = [...texts[Math.floor(rnd() * texts.length)]!];
      const at = Math.floor(rnd() * chars.length);
      return chars.slice(at, at + 1 + Math.floor(rnd() * 5)).join('');
    };
    let nonEmpty = 0;
    for (let k = 0; k < count; k++) {
      let q = piece();
      if (rnd() < 0.4) q += noise[Math.floor(rnd() * noise.length)]! + piece();
      if (rnd() < 0.2) q = q.toUpperCase();
      if (q.trim() === '') continue; // browsing, not a query
      const res = await s.search({ q, pageSize: 100 });
      const expected = oracle(items, q);
      expect(ranked(res), q).toEqual(expected);
      expect(res.total, q).toBe(expected.length);
      if (expected.length) nonEmpty++;
      // A random page, by relevance and by id.
      const pageSize = 1 + Math.floor(rnd() * 6);
      const page = 1 + Math.floor(rnd() * 3);
      const slice = (list: Array<[string, number]>) => list.slice((page - 1) * pageSize, page * pageSize);
      expect(ranked(await s.search({ q, page, pageSize })), q).toEqual(slice(expected));
      const byId = expected.map(([id]): [string, number] => [id, 0]).sort((a, b) => (a[0] < b[0] ? -1 : 1));
      expect(ranked(await s.search({ q, page, pageSize, sort: 'id' })), q).toEqual(slice(byId));
    }
    return nonEmpty;
  }

  describe('agrees with the naive definition of a match', () => {
    it('on 400 generated queries', async () => {
      expect(await agreesWithOracle(store, FIXTURE, 400, 12345)).toBeGreaterThan(200);
    });

    it('after records change some fields, all fields, batch or type', async () => {
      const s = new SqliteStore(':memory:');
      await s.init();
      await s.upsert(structuredClone(FIXTURE), T0);
      const items = structuredClone(FIXTURE);
      const at = (id: string) => items.find((i) => i.id === id)!;
      at('R01-0003').description = { ja: '京都と奈良の旅。' }; // one field changes
      delete at('R02-0006').notes; // a field disappears
      at('R02-0005').creator = { ja: '梅林堂' }; // a field appears
      at('R02-0001').subjects = ['梅林', '東京', '大阪']; // values added to a multi-valued field
      at('R01-0002').type = '絵葉書'; // d changes
      at('R03-0008').batch = 'R01'; // d changes
      at('R02-0012').title = { ja: '書簡', en: 'Letter' }; // a second value
      at('R01-0010').place = undefined;
      expect(await s.upsert(structuredClone(items), T1)).toEqual({ inserted: 0, updated: 30 });
      expect(await agreesWithOracle(s, items, 300, 777)).toBeGreaterThan(150);
      for (const q of ['梅林', '東京', '大阪', '京都', '神戸', '書簡', 'letter', '虫損']) {
        expect(ranked(await s.search({ q, pageSize: 100 })), q).toEqual(oracle(items, q));
      }
      await s.close();
    });
  });

  describe('text rules', () => {
    it('re-cuts the FTS rows of a store indexed with older text rules when it is opened', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sqlite-rules-'));
      try {
        const file = path.join(dir, 'old.sqlite');
        const s1 = new SqliteStore(file);
        await s1.init();
        await s1.upsert(structuredClone(FIXTURE), T0);
        const before = ranked(await s1.search({ q: '東', pageSize: 100 }));
        expect(before.length).toBeGreaterThan(0);
        await s1.close();
        // What a store of the previous rules looks like: bigram rows only, no text_rules mark.
        const db = new DatabaseSync(file);
        db.exec(`INSERT INTO items_fts (items_fts) VALUES ('delete-all'); DELETE FROM meta WHERE key = 'text_rules';`);
        db.close();
        const s2 = new SqliteStore(file);
        await s2.init();
        expect(ranked(await s2.search({ q: '東', pageSize: 100 }))).toEqual(before);
        expect(ranked(await s2.search({ q: '東京', pageSize: 100 }))).toEqual(oracle(FIXTURE, '東京'));
        await s2.close();
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('date columns (issue 15.4)', () => {
    it('adds and fills year_from/year_to in a store made before them when it is opened', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sqlite-dates-'));
      try {
        const file = path.join(dir, 'old.sqlite');
        const s1 = new SqliteStore(file);
        await s1.init();
        await s1.upsert(structuredClone(FIXTURE), T0);
        await s1.close();
        // What a store from before the date columns looks like.
        const db = new DatabaseSync(file);
        db.exec(`DROP INDEX items_years; ALTER TABLE items DROP COLUMN year_from; ALTER TABLE items DROP COLUMN year_to; DELETE FROM meta WHERE key = 'date_rules';`);
        db.close();
        const s2 = new SqliteStore(file);
        await s2.init();
        // R01-0001 is dated 昭和10年頃 (1933–1937); no other fixture record has a date.
        expect((await s2.search({ filters: { yearFrom: 1930, yearTo: 1939 } })).hits.map((h) => h.record.id)).toEqual(['R01-0001']);
        expect((await s2.search({})).decades).toEqual([{ value: '1930', count: 1 }]);
        await s2.close();
        // Opened read-only, a store from before the columns still serves searches (without years).
        const db2 = new DatabaseSync(file);
        db2.exec(`DROP INDEX items_years; ALTER TABLE items DROP COLUMN year_from; ALTER TABLE items DROP COLUMN year_to; DELETE FROM meta WHERE key = 'date_rules';`);
        db2.close();
        const ro = new SqliteStore(file, { readOnly: true });
        await ro.init();
        expect((await ro.search({})).total).toBe(30);
        expect((await ro.search({ filters: { yearFrom: 1930 } })).total).toBe(0);
        await ro.close();
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('input checks', () => {
    it('rejects invalid records and writes nothing', async () => {
      const s = new SqliteStore(':memory:');
      await s.init();
      const good = structuredClone(FIXTURE[0]!);
      const badImage = { ...structuredClone(FIXTURE[1]!), images: [{ id: '../x', file: 'a.tif' }] };
      await expect(s.upsert([good, badImage], T0)).rejects.toThrow(/invalid image id/);
      await expect(s.upsert([{ ...good, batch: '' }], T0)).rejects.toThrow(/no batch/);
      await expect(s.upsert([{ ...good, access: 'public' as never }], T0)).rejects.toThrow(/access/);
      expect(await s.count()).toBe(0);
      await s.close();
    });

    it('rejects an image claimed by two records', async () => {
      const s = new SqliteStore(':memory:');
      await s.init();
      const a = structuredClone(FIXTURE[0]!);
      const b = { ...structuredClone(FIXTURE[1]!), images: [{ id: 'R01-0001_01', file: 'x.tif' }] };
      await expect(s.upsert([a, b], T0)).rejects.toThrow(/R01-0001_01/);
      await s.upsert([a], T0);
      await expect(s.upsert([b], T1)).rejects.toThrow(/already belongs to R01-0001/);
      expect(await s.count()).toBe(1);
      // Moving an image between two records in one upsert is fine.
      const a2 = { ...a, images: [a.images[1]!] };
      const b2 = { ...b, images: [a.images[0]!] };
      expect(await s.upsert([b2, a2], T1)).toEqual({ inserted: 1, updated: 1 });
      expect((await s.getImage('R01-0001_01'))?.itemId).toBe('R01-0002');
      await s.close();
    });

    it('keeps the last of two records with the same id in one upsert', async () => {
      const s = new SqliteStore(':memory:');
      await s.init();
      const a = structuredClone(FIXTURE[0]!);
      expect(await s.upsert([a, { ...a, title: { ja: '二枚目' } }], T0)).toEqual({ inserted: 1, updated: 0 });
      expect((await s.get(a.id))?.title).toEqual({ ja: '二枚目' });
      await s.close();
    });
  });

  describe('on disk', () => {
    let dir: string;
    beforeAll(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sqlite-store-'));
    });
    afterAll(() => {
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('creates the parent directory, uses WAL and persists across reopening', async () => {
      const file = path.join(dir, 'nested', 'deeper', 'search.db');
      const a = new SqliteStore(file);
      await a.init();
      await a.upsert(structuredClone(FIXTURE), T0);
      await a.markUploaded([{ imageId: 'R01-0002_01', key: 'photos/R01-0002_01.tif', size: 1, at: T1.toISOString() }]);
      const before = await a.search({ q: '東京' });
      await a.close();
      expect(fs.existsSync(file)).toBe(true);

      const db = new DatabaseSync(file);
      expect((db.prepare('PRAGMA journal_mode').get() as { journal_mode: string }).journal_mode).toBe('wal');
      db.close();

      const b = new SqliteStore(file);
      await b.init();
      await b.init();
      expect(await b.count()).toBe(30);
      const after = await b.search({ q: '東京' });
      expect(ranked(after)).toEqual(ranked(before));
      expect(after.facets).toEqual(before.facets);
      expect((await b.get('R01-0002'))?.s3_uploaded).toBe(true);
      expect(await b.upsert(structuredClone(FIXTURE), T1)).toEqual({ inserted: 0, updated: 30 });
      expect((await b.get('R01-0003'))?.indexed_at).toBe(T0.toISOString());
      await b.optimize();
      expect(ranked(await b.search({ q: '東京' }))).toEqual(ranked(before));
      await b.close();
      await b.close();
    });

    it('sees writes of another connection', async () => {
      const file = path.join(dir, 'shared.db');
      const reader = new SqliteStore(file);
      await reader.init();
      const writer = new SqliteStore(file);
      await writer.init();
      expect((await reader.search({ q: '梅林' })).total).toBe(0);
      await writer.upsert(structuredClone(FIXTURE), T0);
      const res = await reader.search({ q: '梅林' });
      expect(res.total).toBe(7);
      expect(res.facets.batch).toEqual([
        { value: 'R02', count: 6 },
        { value: 'R01', count: 1 },
      ]);
      expect((await reader.search({})).total).toBe(30);
      await reader.close();
      await writer.close();
    });
  });
});
