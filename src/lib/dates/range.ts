/**
 * Dates as the bibliography writes them → a sortable year range (`from`, `to`, Gregorian years,
 * both inclusive). Pure and imports nothing: both store backends call it at index time, and the
 * search form's year inputs use the same rules (`yearBound`). The text itself is never changed.
 *
 * Rules (docs/dates.md shows them with examples):
 *  - Text is NFKC-normalised first (full-width digits and letters become ASCII); kanji numerals are
 *    read too: 一九二三年 = 1923, 昭和十年 = 昭和10年, 明治四十五年 = 明治45年, 元年 = year 1.
 *  - Every date expression found in the text contributes a range; the result is their union
 *    (smallest `from`, largest `to`). So "大正3年（1914）" is 1914, "明治20年代（1890頃）" is
 *    1887–1896, "1920-1925" and "明治後期〜昭和初期" are ranges.
 *  - Western years 1000–2099: "1923", "1923年5月" → 1923. "1910年代" / "1910s" → 1910–1919;
 *    "1920年代前半" → 1920–1924, "…後半" → 1925–1929. "19世紀" → 1801–1900 (前半/後半 → halves, 初頭/末 →
 *    first/last 10 years). An abbreviated end "1920-25" is 1925.
 *  - Era years: 明治 1868–1912, 大正 1912–1926, 昭和 1926–1989, 平成 1989–2019, 令和 2019–.
 *    Year N of an era is its first year + N − 1 (元年 = the first year, so 平成31年 = 令和元年 = 2019,
 *    大正15年 = 昭和元年 = 1926). A year past the era's end (大正16年) is not a date. The letters M, T,
 *    S, H, R stand for the eras ("S10" = 昭和10年). "昭和10〜12年" carries the era to the second year.
 *  - Era decades: "明治20年代" → 明治20–29年 (cut at the era's end). An era name alone ("大正",
 *    "大正時代") → the whole era. Parts of an era: 初期 = its first years, 末期 = its last years (a
 *    third of the era, at most 10 years), 中期 = its middle third, 前期/前半 = first half,
 *    後期/後半 = second half. 令和 is still running: its years, 元年 and 初期 are read; 令和 alone is
 *    2019–2099 (MAX_YEAR).
 *  - Circa: 頃, ころ, 前後, 約, c., ca., circa or a trailing "?" widen every single year in the text
 *    by CIRCA_YEARS on both sides ("昭和10年頃" → 1933–1937). Decades, eras and centuries are
 *    already ranges and are not widened.
 *  - Anything else ("不明", "年不詳", a month alone) gives null: the record keeps its text (and is
 *    searchable by it), has no range, and `archive status` lists it.
 */

export interface YearRange {
  /** First year (inclusive). */
  from: number;
  /** Last year (inclusive), >= from. */
  to: number;
}

/** Years added on each side of a single year marked as approximate (頃, c., circa…). */
export const CIRCA_YEARS = 2;

/** Years a bound must stay within (the Western years the parser reads). */
export const MIN_YEAR = 1000;
export const MAX_YEAR = 2099;

interface Era {
  name: string;
  letter: string;
  start: number;
  /** Last year; undefined while the era is running. */
  end?: number;
}

export const ERA_TABLE: readonly Era[] = [
  { name: '明治', letter: 'M', start: 1868, end: 1912 },
  { name: '大正', letter: 'T', start: 1912, end: 1926 },
  { name: '昭和', letter: 'S', start: 1926, end: 1989 },
  { name: '平成', letter: 'H', start: 1989, end: 2019 },
  { name: '令和', letter: 'R', start: 2019 },
];

const ERA_BY_NAME = new Map(ERA_TABLE.flatMap((e) => [[e.name, e] as const, [e.letter, e] as const]));

const KANJI_DIGITS: Readonly<Record<string, number>> = { 〇: 0, 零: 0, 一: 1, 二: 2, 三: 3, 四: 4, 五: 5, 六: 6, 七: 7, 八: 8, 九: 9 };

/** A kanji number below 100 (十, 二十, 四十五, 十五) or a digit string; NaN otherwise. */
function kanjiNumber(s: string): number {
  if (/^\d+$/.test(s)) return Number(s);
  const m = /^([一二三四五六七八九])?十([一二三四五六七八九])?$/.exec(s);
  if (m) return (m[1] ? KANJI_DIGITS[m[1]]! : 1) * 10 + (m[2] ? KANJI_DIGITS[m[2]]! : 0);
  if (/^[〇零一二三四五六七八九]+$/.test(s)) return Number([...s].map((c) => KANJI_DIGITS[c]).join(''));
  return NaN;
}

/** NFKC, kanji digit runs (一九二三, 四十五) as ASCII digits, dashes and tildes unified. */
function normalizeDate(text: string): string {
  return text
    .normalize('NFKC')
    .replace(/[〇零一二三四五六七八九十]+/g, (run) => {
      const n = kanjiNumber(run);
      return Number.isNaN(n) ? run : String(n);
    })
    .replace(/[‐‑‒–—―ー−〜～~]/g, '-')
    .replace(/\s+/g, ' ')
    .trim();
}

const SEP = String.raw`\s*(?:-|から|より|至|乃至)\s*`;
const ERA_NAMES = ERA_TABLE.map((e) => e.name).join('|');
const ERA_LETTERS = ERA_TABLE.map((e) => e.letter).join('');
const PART = '初期|前期|中期|後期|末期|前半|後半|初頭|末';

function eraEnd(era: Era): number | undefined {
  return era.end;
}

/** Year N of an era, or undefined when the era has no such year. */
function eraYear(era: Era, n: number): number | undefined {
  if (!Number.isInteger(n) || n < 1) return undefined;
  const y = era.start + n - 1;
  const end = eraEnd(era);
  if (end !== undefined && y > end) return undefined;
  if (y > MAX_YEAR) return undefined;
  return y;
}

/** A part (初期, 末期…) of the span from..to; undefined for a part this span cannot have. */
function partOf(from: number, to: number | undefined, part: string): YearRange | undefined {
  if (to === undefined) {
    // A running era: only its beginning is known.
    return part === '初期' || part === '初頭' ? { from, to: from + 9 } : undefined;
  }
  const len = to - from + 1;
  const third = Math.min(10, Math.ceil(len / 3));
  const half = Math.ceil(len / 2);
  switch (part) {
    case '初期':
    case '初頭':
      return { from, to: from + third - 1 };
    case '末期':
    case '末':
      return { from: to - third + 1, to };
    case '中期': {
      const t = Math.floor(len / 3);
      return { from: from + t, to: to - t };
    }
    case '前期':
    case '前半':
      return { from, to: from + half - 1 };
    case '後期':
    case '後半':
      return { from: to - half + 1, to };
  }
  return undefined;
}

function validYear(y: number): boolean {
  return Number.isInteger(y) && y >= MIN_YEAR && y <= MAX_YEAR;
}

interface Found {
  range: YearRange;
  /** A single year (widened when the text says circa). */
  single: boolean;
}

/** Every date expression in normalised text, in order. */
function expressions(s: string): Found[] {
  const out: Found[] = [];
  const taken: Array<[number, number]> = [];
  const free = (i: number, len: number) => !taken.some(([a, b]) => i < b && i + len > a);
  const take = (m: RegExpExecArray) => taken.push([m.index, m.index + m[0].length]);

  // Centuries: 19世紀, 19世紀末, 20世紀前半.
  for (const m of s.matchAll(new RegExp(String.raw`(?<!\d)(\d{1,2})\s*世紀\s*(${PART})?`, 'g'))) {
    const c = Number(m[1]);
    const from = (c - 1) * 100 + 1;
    const to = c * 100;
    const r = m[2] ? partOf(from, to, m[2] === '末' ? '末期' : m[2]) : { from, to };
    if (r && validYear(r.from) && validYear(r.to)) out.push({ range: r, single: false });
    take(m);
  }

  // Era expressions: 昭和10年, 昭和10〜12年, 明治20年代, 大正末期, 大正, S10, 元年.
  const eraRe = new RegExp(
    String.raw`(${ERA_NAMES}|(?<![A-Za-z])[${ERA_LETTERS}](?=\s*\.?\s*\d))\s*\.?\s*(?:(元|\d{1,2})\s*(年代|年)?(?:${SEP}(元|\d{1,2})\s*(年代|年)?(?!\s*\d))?|(時代)?\s*(${PART})?)`,
    'g',
  );
  for (const m of s.matchAll(eraRe)) {
    if (!free(m.index, m[0].length)) continue;
    const era = ERA_BY_NAME.get(m[1]!)!;
    take(m);
    const [, , first, firstKind, second, secondKind, , part] = m;
    if (first !== undefined) {
      const n1 = first === '元' ? 1 : Number(first);
      // A bare era letter with digits only ("S10"); a bare number after an era name needs 年 to be a year
      // unless the era name is written out ("昭和10" as typed into a search box).
      const addYears = (n: number, kind: string | undefined): YearRange | undefined => {
        const y = eraYear(era, n);
        if (y === undefined) return undefined;
        if (kind === '年代') {
          const end = eraEnd(era);
          return { from: y, to: Math.min(end ?? MAX_YEAR, y + 9) };
        }
        return { from: y, to: y };
      };
      const r1 = addYears(n1, firstKind ?? secondKind);
      if (!r1) continue;
      out.push({ range: r1, single: (firstKind ?? secondKind) !== '年代' });
      if (second !== undefined) {
        const r2 = addYears(second === '元' ? 1 : Number(second), secondKind ?? firstKind);
        if (r2) out.push({ range: r2, single: (secondKind ?? firstKind) !== '年代' });
      }
    } else if (part) {
      const r = partOf(era.start, eraEnd(era), part);
      if (r) out.push({ range: r, single: false });
    } else if (m[1] === era.name) {
      out.push({ range: { from: era.start, to: eraEnd(era) ?? MAX_YEAR }, single: false });
    }
  }

  // Western years: 1923, 1923年, 1910年代, 1910s, 1920年代前半, 1920-25.
  const westRe = new RegExp(String.raw`(?<!\d)(1\d{3}|20\d{2})(?!\d)\s*(年代|'?s\b)?\s*(前半|後半)?(?:${SEP}(\d{2})(?!\d))?`, 'g');
  for (const m of s.matchAll(westRe)) {
    if (!free(m.index, m[0].length)) continue;
    take(m);
    const y = Number(m[1]);
    if (m[2]) {
      const decade = y - (y % 10);
      const r = m[3] ? partOf(decade, decade + 9, m[3])! : { from: decade, to: decade + 9 };
      out.push({ range: r, single: false });
    } else {
      out.push({ range: { from: y, to: y }, single: true });
    }
    if (m[4] !== undefined) {
      // "1920-25": the second year written with its last two digits.
      const end = Math.floor(y / 100) * 100 + Number(m[4]);
      if (end >= y) out.push({ range: { from: end, to: end }, single: true });
    }
  }
  return out;
}

const CIRCA_RE = /頃|ころ|前後|約|\bc\.|\bca\.|\bcirca\b|\?$|？$/i;

/**
 * The year range of a bibliography date, or null when none can be read (or the text is empty).
 * See the module comment for the rules.
 */
export function parseDateRange(text: string | null | undefined): YearRange | null {
  if (typeof text !== 'string') return null;
  const s = normalizeDate(text);
  if (s === '') return null;
  const found = expressions(s);
  if (found.length === 0) return null;
  const circa = CIRCA_RE.test(s);
  let from = Infinity;
  let to = -Infinity;
  for (const f of found) {
    const widen = circa && f.single ? CIRCA_YEARS : 0;
    from = Math.min(from, f.range.from - widen);
    to = Math.max(to, f.range.to + widen);
  }
  return { from: Math.max(MIN_YEAR, from), to: Math.min(MAX_YEAR, to) };
}

/** Whether a record's date text is there but no year range can be read from it. */
export function isUnparsedDate(text: string | null | undefined): boolean {
  return typeof text === 'string' && text.trim() !== '' && parseDateRange(text) === null;
}

/**
 * One bound of a year filter as typed into the search form or a URL (`from=大正`, `to=S10`,
 * `from=1923`): the first year of what it names for `from`, the last for `to`. null when the text
 * names no year. "大正" → from 1912 / to 1926; "1920年代" → 1920 / 1929; "昭和元年" → 1926.
 */
export function yearBound(text: string | null | undefined, side: 'from' | 'to'): number | null {
  if (typeof text !== 'string') return null;
  const s = normalizeDate(text);
  if (s === '') return null;
  // Only what the rules read, nothing else in the box ("昭和10" is a year here, as typed).
  const found = expressions(s);
  if (found.length === 0) return null;
  const r = parseDateRange(s);
  if (!r) return null;
  return side === 'from' ? r.from : r.to;
}

/** The decades (first years: 1910, 1920…) a range touches, oldest first. */
export function decadesOf(range: YearRange | null | undefined): number[] {
  if (!range) return [];
  const out: number[] = [];
  for (let d = range.from - (((range.from % 10) + 10) % 10); d <= range.to; d += 10) out.push(d);
  return out;
}
