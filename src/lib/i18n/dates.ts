/**
 * Dates as the bibliography writes them ("大正3年（1914）", "明治30年頃（1897頃）", "昭和10年頃",
 * "1935") shown in each language: Japanese pages keep the text as written; English pages get the
 * Western year (era years converted), with "c." for approximate dates and "s" for decades.
 * Pure; no guessing beyond the era table: a text with no year in it is returned unchanged.
 */
import { parseDateRange } from '../dates/range.ts';

/** First year (Gregorian) of each era; year N of an era is start + N - 1 (元年 = 1). */
export const ERAS: Readonly<Record<string, number>> = {
  明治: 1868,
  大正: 1912,
  昭和: 1926,
  平成: 1989,
  令和: 2019,
};

const DIGITS = (s: string) => s.replace(/[０-９]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0xfee0));

export interface WesternDate {
  /** The year (first year of a decade), or undefined when the text names none. */
  year?: number;
  /** The date is approximate (頃, 末期, 初期, circa…). */
  circa: boolean;
  /** The text names a decade (1910年代, 明治20年代). */
  decade: boolean;
}

/** Reads the Western year out of a bibliography date. */
export function westernDate(text: string | undefined): WesternDate {
  const s = DIGITS((text ?? '').normalize('NFKC')).trim();
  const circa = /頃|ころ|末期|初期|中期|前半|後半|\bc\.|\bca\.|circa|約/.test(s);
  // A Western year written out wins: "大正3年（1914）", "1914", "1890年代".
  const western = /(?<!\d)(1[0-9]{3}|20[0-9]{2})(?!\d)(年代|s)?/.exec(s);
  if (western) {
    const decade = !!western[2] || /(?<!\d)(1[0-9]{3}|20[0-9]{2})年代/.test(s);
    return { year: Number(western[1]), circa: circa && !decade, decade };
  }
  const era = /(明治|大正|昭和|平成|令和)\s*(元|\d{1,2})\s*年(代)?/.exec(s);
  if (era) {
    const n = era[2] === '元' ? 1 : Number(era[2]);
    return { year: ERAS[era[1]!]! + n - 1, circa: circa || !!era[3], decade: false };
  }
  return { circa, decade: false };
}

/** The date as an English reader expects it: "1914", "c. 1897", "1910s"; undefined without a year. */
export function englishDate(text: string | undefined): string | undefined {
  const d = westernDate(text);
  if (d.year === undefined) {
    // Forms read only by the full date parser (明治二十年, 大正後期, 1920年代後半…): its year range.
    const r = parseDateRange(text);
    return r ? (r.from === r.to ? String(r.from) : `${r.from}–${r.to}`) : undefined;
  }
  if (d.decade) return `${d.year}s`;
  return d.circa ? `c. ${d.year}` : String(d.year);
}

/**
 * A date for display in a language, with the language it is written in (for `lang` attributes):
 * English gets the Western form when a year can be read, else the text as written (in Japanese).
 */
export function displayDate(text: string | undefined, lang: 'ja' | 'en'): { text: string; lang: 'ja' | 'en' } | undefined {
  if (!text) return undefined;
  if (lang === 'en') {
    const en = englishDate(text);
    if (en) return { text: en, lang: 'en' };
  }
  return { text, lang: /[\u3040-\u30ff\u3400-\u9fff]/.test(text) ? 'ja' : lang };
}
