/**
 * Citations: the ready-to-paste texts against hand-checked strings (Chicago, SIST 02, page-level),
 * and the RIS / BibTeX / CSL-JSON exports read back with Citation.js (a maintained parser) so that
 * what a reference manager imports is what we meant.
 */
import { describe, expect, test } from 'vitest';
// @ts-expect-error citation-js ships no type declarations
import { Cite } from '@citation-js/core';
import '@citation-js/plugin-ris';
import '@citation-js/plugin-bibtex';
import { citations, pageUrl } from '../../src/lib/cite/citation.ts';
import { bibEscape, highwireTags, toBibtex, toCslJson, toRis, type ExportContext } from '../../src/lib/cite/export.ts';
import { displayDate, englishDate, westernDate } from '../../src/lib/i18n/dates.ts';
import type { ItemRecord } from '../../src/lib/search/store.ts';

const base = 'https://archive.example.org';
const accessed = new Date('2026-11-21T10:00:00Z');
const archive = { ja: '非公開画像アーカイブ', en: 'Private Image Archive' };

function rec(over: Partial<ItemRecord> = {}): ItemRecord {
  return {
    id: 'R01-0007',
    batch: 'R01',
    type: '写真',
    title: { ja: '東京駅丸ノ内口', en: 'Tokyo Station, Marunouchi entrance' },
    creator: { ja: '中村清三郎', en: 'Seizaburo Nakamura' },
    date: '大正3年（1914）',
    collection: { ja: '寄贈写真資料', en: 'Donated Photographs' },
    images: [{ id: 'R01-0007-01', file: 'R01/R01-0007-01.jpg' }],
    indexed_at: '2026-01-01T00:00:00.000Z',
    updated_at: '2026-01-01T00:00:00.000Z',
    s3_uploaded: false,
    ...over,
  };
}
const permalink = `${base}/items/R01-0007`;
const cite = (r: ItemRecord, page?: number) => {
  const out = citations(r, { permalink, accessed, archive, page });
  return { en: out.find((c) => c.lang === 'en')!.text, ja: out.find((c) => c.lang === 'ja')!.text };
};

describe('dates in each language', () => {
  test('era dates become Western years; approximate dates and decades say so', () => {
    expect(englishDate('大正3年（1914）')).toBe('1914');
    expect(englishDate('明治30年頃（1897頃）')).toBe('c. 1897');
    expect(englishDate('昭和10年頃')).toBe('c. 1935');
    expect(englishDate('昭和元年')).toBe('1926');
    expect(englishDate('明治末期（1910頃）')).toBe('c. 1910');
    expect(englishDate('1910年代')).toBe('1910s');
    expect(englishDate('１９３５')).toBe('1935');
    expect(englishDate('年不詳')).toBeUndefined();
    expect(westernDate('令和2年')).toEqual({ year: 2020, circa: false, decade: false });
  });

  test('display: English gets the Western year, Japanese keeps the text as written, with its language', () => {
    expect(displayDate('明治44年（1911）', 'en')).toEqual({ text: '1911', lang: 'en' });
    expect(displayDate('明治44年（1911）', 'ja')).toEqual({ text: '明治44年（1911）', lang: 'ja' });
    expect(displayDate('年不詳', 'en')).toEqual({ text: '年不詳', lang: 'ja' });
    expect(displayDate(undefined, 'en')).toBeUndefined();
  });
});

describe('citations (hand-checked)', () => {
  test('Chicago in English: Western year, English type, half-width quotes, every part closed with a full stop', () => {
    expect(cite(rec()).en).toBe(
      'Seizaburo Nakamura. “Tokyo Station, Marunouchi entrance.” Photograph, 1914. Donated Photographs, R01-0007. Private Image Archive. https://archive.example.org/items/R01-0007. Accessed November 21, 2026.',
    );
  });

  test('SIST 02 in Japanese: ". " separators, Western year, (参照 yyyy-mm-dd)', () => {
    expect(cite(rec()).ja).toBe(
      '中村清三郎. "東京駅丸ノ内口". 非公開画像アーカイブ. 1914, 写真. 寄贈写真資料, R01-0007. https://archive.example.org/items/R01-0007, (参照 2026-11-21).',
    );
  });

  test('approximate dates, no creator, no type, a title ending in a full stop', () => {
    const r = rec({ creator: undefined, type: undefined, date: '明治30年頃（1897頃）', title: { ja: '大浦天主堂', en: 'Oura Church, Nagasaki.' } });
    expect(cite(r).en).toBe(
      '“Oura Church, Nagasaki.” ca. 1897. Donated Photographs, R01-0007. Private Image Archive. https://archive.example.org/items/R01-0007. Accessed November 21, 2026.',
    );
    expect(cite(r).ja).toBe(
      '"大浦天主堂". 非公開画像アーカイブ. 1897頃. 寄贈写真資料, R01-0007. https://archive.example.org/items/R01-0007, (参照 2026-11-21).',
    );
  });

  test('a date without a year is cited as written; an unknown type stays as written in SIST and is left out in English', () => {
    const r = rec({ date: '年不詳', type: '新種別' });
    expect(cite(r).en).toContain('“Tokyo Station, Marunouchi entrance.” 年不詳. Donated');
    expect(cite(r).ja).toContain('非公開画像アーカイブ. 年不詳, 新種別. 寄贈写真資料');
  });

  test('a page of an album is citable as that page, with its own URL', () => {
    const album = rec({
      type: 'アルバム',
      images: [1, 2, 3, 4, 5].map((n) => ({ id: `R01-0007-0${n}`, file: `R01/R01-0007-0${n}.jpg` })),
    });
    const c = cite(album, 1);
    expect(c.en).toBe(
      'Seizaburo Nakamura. “Tokyo Station, Marunouchi entrance.” Image 2 of 5. Album, 1914. Donated Photographs, R01-0007. Private Image Archive. https://archive.example.org/items/R01-0007?canvas=R01-0007-02. Accessed November 21, 2026.',
    );
    expect(c.ja).toBe(
      '中村清三郎. "東京駅丸ノ内口". 非公開画像アーカイブ. 1914, アルバム. 寄贈写真資料, R01-0007, 画像 2/5. https://archive.example.org/items/R01-0007?canvas=R01-0007-02, (参照 2026-11-21).',
    );
    expect(pageUrl(permalink, album, 4)).toBe(`${permalink}?canvas=R01-0007-05`);
    // Out of range or a single-image item: the item itself.
    expect(pageUrl(permalink, album, 5)).toBe(permalink);
    expect(cite(rec(), 0).en).not.toContain('Image 1');
  });
});

describe('exports parse back', () => {
  const ctx: ExportContext = { url: (r) => `${base}/items/${r.id}`, accessed, archive, lang: 'en' };
  const records = [
    rec(),
    rec({ id: 'R02-0100', creator: undefined, date: '昭和10年頃', title: { ja: '港 {100%} & #1_^~\\' }, collection: undefined, type: 'ガラス乾板' }),
  ];

  test('CSL-JSON', () => {
    const data = new Cite(JSON.parse(toCslJson(records, ctx))).data;
    expect(data).toHaveLength(2);
    expect(data[0]).toMatchObject({
      id: 'R01-0007',
      type: 'graphic',
      title: 'Tokyo Station, Marunouchi entrance',
      author: [{ literal: 'Seizaburo Nakamura' }],
      issued: { 'date-parts': [[1914]] },
      accessed: { 'date-parts': [[2026, 11, 21]] },
      URL: 'https://archive.example.org/items/R01-0007',
      archive: 'Private Image Archive',
      medium: 'Photograph',
    });
    expect(data[1].issued).toEqual({ 'date-parts': [[1935]], circa: true });
    expect(data[1].title).toBe('港 {100%} & #1_^~\\');
  });

  test('RIS, read by Citation.js', () => {
    const text = toRis(records, ctx);
    expect(text).toMatch(/^TY {2}- ART\r\n/);
    const data = new Cite(text).data;
    expect(data).toHaveLength(2);
    expect(data[0]).toMatchObject({
      title: 'Tokyo Station, Marunouchi entrance',
      URL: 'https://archive.example.org/items/R01-0007',
      issued: { 'date-parts': [[1914]] },
      accessed: { 'date-parts': [[2026, 11, 21]] },
      language: 'ja',
    });
    expect(data[0].author[0]).toMatchObject({ literal: 'Seizaburo Nakamura' });
    expect(data[1].title).toBe('港 {100%} & #1_^~\\');
  });

  test('BibTeX, read by Citation.js', () => {
    const text = toBibtex(records, ctx);
    const data = new Cite(text).data;
    expect(data.map((d: { id: string }) => d.id)).toEqual(['R01-0007', 'R02-0100']);
    expect(data[0]).toMatchObject({
      title: 'Tokyo Station, Marunouchi entrance',
      URL: 'https://archive.example.org/items/R01-0007',
      issued: { 'date-parts': [[1914]] },
      accessed: { 'date-parts': [[2026, 11, 21]] },
    });
    // A braced name is one unsplit name (BibTeX's rule for corporate and already-ordered names).
    expect(data[0].author).toEqual([{ family: 'Seizaburo Nakamura' }]);
    expect(data[1].title).toBe('港 {100%} & #1_^~\\');
    expect(bibEscape('a{b}')).toBe('a\\{b\\}');
  });

  test('Highwire meta tags: title, date, archive, persistent URL, language', () => {
    const tags = Object.fromEntries(highwireTags(rec(), { ...ctx, lang: 'ja' }).map((t) => [t.name, t.content]));
    expect(tags).toMatchObject({
      citation_title: '東京駅丸ノ内口',
      citation_author: '中村清三郎',
      citation_date: '1914',
      citation_publisher: '非公開画像アーカイブ',
      citation_public_url: 'https://archive.example.org/items/R01-0007',
      citation_language: 'ja',
    });
  });
});
