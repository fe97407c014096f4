/**
 * The date parser (src/lib/dates/range.ts): bibliography dates → year ranges, and the bounds of the
 * search form's year filter. One table of inputs and the ranges they must give.
 */
import { describe, expect, it } from 'vitest';
import { CIRCA_YEARS, decadesOf, isUnparsedDate, parseDateRange, yearBound } from '../../src/lib/dates/range.ts';

const C = CIRCA_YEARS;

const TABLE: Array<[string, [number, number] | null]> = [
  // Western years
  ['1923', [1923, 1923]],
  ['1923年5月', [1923, 1923]],
  ['１９２３年５月３日', [1923, 1923]],
  ['一九二三年', [1923, 1923]],
  ['1910年代', [1910, 1919]],
  ['1910s', [1910, 1919]],
  ['1920年代前半', [1920, 1924]],
  ['1920年代後半', [1925, 1929]],
  ['1920-1925', [1920, 1925]],
  ['1920〜1925年', [1920, 1925]],
  ['1920-25', [1920, 1925]],
  ['c. 1920', [1920 - C, 1920 + C]],
  ['circa 1920', [1920 - C, 1920 + C]],
  ['1920年頃', [1920 - C, 1920 + C]],
  ['1920?', [1920 - C, 1920 + C]],
  ['19世紀', [1801, 1900]],
  ['19世紀末', [1891, 1900]],
  // Era years, 元年 and the boundaries between eras
  ['明治元年', [1868, 1868]],
  ['明治45年', [1912, 1912]],
  ['大正元年', [1912, 1912]],
  ['大正15年', [1926, 1926]],
  ['昭和元年', [1926, 1926]],
  ['昭和64年', [1989, 1989]],
  ['平成元年', [1989, 1989]],
  ['平成31年', [2019, 2019]],
  ['令和元年', [2019, 2019]],
  ['令和5年', [2023, 2023]],
  ['昭和10年', [1935, 1935]],
  ['昭和十年', [1935, 1935]],
  ['明治四十五年', [1912, 1912]],
  ['昭和１０年', [1935, 1935]],
  ['S10', [1935, 1935]],
  ['T3', [1914, 1914]],
  ['H31', [2019, 2019]],
  ['昭和10年頃', [1935 - C, 1935 + C]],
  ['昭和10〜12年', [1935, 1937]],
  ['昭和10年〜昭和12年', [1935, 1937]],
  // Era decades, eras and their parts
  ['明治20年代', [1887, 1896]],
  ['昭和10年代', [1935, 1944]],
  ['大正10年代', [1921, 1926]],
  ['大正', [1912, 1926]],
  ['大正時代', [1912, 1926]],
  ['大正末期', [1922, 1926]],
  ['大正初期', [1912, 1916]],
  ['明治末期', [1903, 1912]],
  ['明治後期', [1890, 1912]],
  ['明治前期', [1868, 1890]],
  ['明治中期', [1883, 1897]],
  ['昭和初期', [1926, 1935]],
  ['明治後期〜昭和初期', [1890, 1935]],
  // Both forms: the union (the demo corpus writes dates this way)
  ['大正3年（1914）', [1914, 1914]],
  ['明治30年頃（1897頃）', [1897 - C, 1897 + C]],
  ['明治20年代（1890頃）', [1887, 1896]],
  ['明治末期（1910頃）', [1903, 1912]],
  ['昭和初期（1930頃）', [1926, 1935]],
  // Not dates
  ['', null],
  ['   ', null],
  ['不明', null],
  ['年不詳', null],
  ['5月', null],
  ['大正16年', null],
  ['平成32年', null],
  ['明治0年', null],
];

describe('parseDateRange', () => {
  it.each(TABLE)('%s', (text, expected) => {
    expect(parseDateRange(text)).toEqual(expected && { from: expected[0], to: expected[1] });
  });

  it('never throws and never gives an inverted range, whatever the input', () => {
    const inputs = [undefined, null, '\u0000', '昭和'.repeat(500), '1'.repeat(1000), '明治-大正-昭和', 'S', 'M99', '令和末期', '9999年', '0年'];
    for (const input of inputs) {
      const r = parseDateRange(input as string);
      if (r) expect(r.from).toBeLessThanOrEqual(r.to);
    }
    expect(parseDateRange('令和末期')).toBeNull();
  });

  it('tells unparsed dates from absent ones', () => {
    expect(isUnparsedDate('不明')).toBe(true);
    expect(isUnparsedDate('昭和10年')).toBe(false);
    expect(isUnparsedDate('')).toBe(false);
    expect(isUnparsedDate(undefined)).toBe(false);
  });
});

describe('yearBound (the year filter inputs)', () => {
  it.each([
    ['大正', 'from', 1912],
    ['大正', 'to', 1926],
    ['昭和', 'to', 1989],
    ['昭和10', 'from', 1935],
    ['昭和10年', 'to', 1935],
    ['S10', 'from', 1935],
    ['昭和元年', 'from', 1926],
    ['平成元年', 'from', 1989],
    ['1923', 'from', 1923],
    ['１９２３', 'to', 1923],
    ['1920年代', 'from', 1920],
    ['1920年代', 'to', 1929],
  ] as const)('%s as %s → %i', (text, side, year) => {
    expect(yearBound(text, side)).toBe(year);
  });

  it('gives null for text that names no year', () => {
    expect(yearBound('', 'from')).toBeNull();
    expect(yearBound('abc', 'to')).toBeNull();
    expect(yearBound('大正16年', 'from')).toBeNull();
  });
});

describe('decadesOf', () => {
  it('lists every decade a range touches', () => {
    expect(decadesOf({ from: 1923, to: 1923 })).toEqual([1920]);
    expect(decadesOf({ from: 1918, to: 1931 })).toEqual([1910, 1920, 1930]);
    expect(decadesOf({ from: 1920, to: 1929 })).toEqual([1920]);
    expect(decadesOf(null)).toEqual([]);
  });
});

describe('English display of dates only the full parser reads', () => {
  it('shows the year or the span', async () => {
    const { englishDate } = await import('../../src/lib/i18n/dates.ts');
    expect(englishDate('明治二十年')).toBe('1887');
    expect(englishDate('大正後期')).toBe('1919–1926');
    expect(englishDate('年代不詳')).toBeUndefined();
    expect(englishDate('大正3年（1914）')).toBe('1914'); // unchanged: the Western year written out
  });
});
