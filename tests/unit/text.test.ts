import { describe, expect, it } from 'vitest';
import { WIDTH_MAPPINGS, bigrams, normalize, parseQuery } from '../../src/lib/search/text.ts';

describe('normalize', () => {
  it('maps full-width ASCII to ASCII and lower-cases', () => {
    expect(normalize('ＡＢＣ')).toBe('abc');
    expect(normalize('Ａ１－ｚ')).toBe('a1-z');
    expect(normalize('Tokyo STATION')).toBe('tokyo station');
  });

  it('maps half-width katakana to full-width, joining voiced and semi-voiced marks (then folds them to hiragana)', () => {
    expect(normalize('ｱｲｳ')).toBe('あいう');
    expect(normalize('ｶﾞｷﾞ')).toBe('がぎ');
    expect(normalize('ﾊﾟﾝ')).toBe('ぱん');
    expect(normalize('ｳﾞｧｲｵﾘﾝ')).toBe('ゔぁいおりん');
    expect(normalize('ｰ')).toBe('ー');
    expect(normalize('｡｢｣､･')).toBe('。「」、・');
  });

  it('maps the ideographic space to a space', () => {
    expect(normalize('東京\u3000大阪')).toBe('東京 大阪');
  });

  it('leaves diacritics and kanji alone, folds katakana to hiragana', () => {
    expect(normalize('ÀÉ')).toBe('àé');
    expect(normalize('東京アイウあいう')).toBe('東京あいうあいう');
  });

  it('is idempotent', () => {
    for (const s of ['ＡＢＣ', 'ｶﾞｷﾞ', 'ﾊﾟﾝ', '東京\u3000大阪', 'Ａ１']) expect(normalize(normalize(s))).toBe(normalize(s));
  });

  it('has a width table whose sources are unique', () => {
    const sources = WIDTH_MAPPINGS.map(([from]) => from);
    expect(new Set(sources).size).toBe(sources.length);
    expect(WIDTH_MAPPINGS.find(([from]) => from === 'ｶﾞ')).toEqual(['ｶﾞ', 'ガ']);
  });
});

describe('bigrams', () => {
  it('cuts overlapping bigrams of a run', () => {
    expect(bigrams('abc')).toEqual(['ab', 'bc']);
    expect(bigrams('東京都')).toEqual(['東京', '京都']);
    expect(bigrams('ラーメン')).toEqual(['らー', 'ーめ', 'めん']);
    expect(bigrams('佐々木')).toEqual(['佐々', '々木']);
  });

  it('splits runs on punctuation and spaces, positions stay consecutive across runs', () => {
    expect(bigrams('東京・大阪')).toEqual(['東京', '大阪']);
    expect(bigrams('東京、大阪')).toEqual(['東京', '大阪']);
    expect(bigrams('R03-0001')).toEqual(['r0', '03', '00', '00', '01']);
    expect(bigrams('x_y')).toEqual([]);
  });

  it('yields nothing for runs of one character', () => {
    expect(bigrams('a')).toEqual([]);
    expect(bigrams('東 京')).toEqual([]);
    expect(bigrams('東 京都')).toEqual(['京都']);
    expect(bigrams('')).toEqual([]);
  });

  it('mixes scripts and digits within a run', () => {
    expect(bigrams('1935年')).toEqual(['19', '93', '35', '5年']);
    expect(bigrams('ＡＢＣ商会')).toEqual(['ab', 'bc', 'c商', '商会']);
  });

  it('counts code points, so surrogate pairs are one character', () => {
    expect(bigrams('𠮷田')).toEqual(['𠮷田']);
    expect(bigrams('𠮷野家')).toEqual(['𠮷野', '野家']);
  });

  it('treats characters outside L* and Nd as separators', () => {
    // 〇 is Nl (a letter-like number), not Nd: it separates runs, as in Lucene's letter/digit classes.
    expect(bigrams('昭和二〇年')).toEqual(['昭和', '和二']);
    // İ lower-cases to i + U+0307 (a combining mark), which separates.
    expect(bigrams('İstanbul')).toEqual(['st', 'ta', 'an', 'nb', 'bu', 'ul']);
  });

  it('normalises before cutting', () => {
    expect(bigrams('ＡＢＣ')).toEqual(bigrams('abc'));
    expect(bigrams('ｱｲｳ')).toEqual(bigrams('アイウ'));
    expect(bigrams('ABC')).toEqual(['ab', 'bc']);
  });
});

describe('parseQuery', () => {
  it('splits on white space, ASCII or ideographic', () => {
    expect(parseQuery('東京 大阪')).toEqual({ terms: [['東京'], ['大阪']], display: ['東京', '大阪'], tooShort: [] });
    expect(parseQuery('東京\u3000大阪')).toEqual({ terms: [['東京'], ['大阪']], display: ['東京', '大阪'], tooShort: [] });
    expect(parseQuery('  東京\t\n大阪  ')).toEqual({ terms: [['東京'], ['大阪']], display: ['東京', '大阪'], tooShort: [] });
  });

  it('keeps quoted phrases whole, trimmed', () => {
    expect(parseQuery('"東京 大阪"')).toEqual({ terms: [['東京', '大阪']], display: ['東京 大阪'], tooShort: [] });
    expect(parseQuery('" 東京 "')).toEqual({ terms: [['東京']], display: ['東京'], tooShort: [] });
    expect(parseQuery('"tokyo station" 写真')).toEqual({
      terms: [['to', 'ok', 'ky', 'yo', 'st', 'ta', 'at', 'ti', 'io', 'on'], ['写真']],
      display: ['tokyo station', '写真'],
      tooShort: [],
    });
  });

  it('treats a stray quote as a separator', () => {
    expect(parseQuery('東京"大阪')).toEqual({ terms: [['東京'], ['大阪']], display: ['東京', '大阪'], tooShort: [] });
    expect(parseQuery('"')).toEqual({ terms: [], display: [], tooShort: [] });
    expect(parseQuery('""')).toEqual({ terms: [], display: [], tooShort: [] });
  });

  it('reports terms too short to search', () => {
    // One Han character is a unigram term now (issue 19.6); other one-character terms are too short.
    expect(parseQuery('東 京都')).toEqual({ terms: [['東'], ['京都']], display: ['東', '京都'], tooShort: [] });
    expect(parseQuery('東')).toEqual({ terms: [['東']], display: ['東'], tooShort: [] });
    expect(parseQuery('あ 京都')).toEqual({ terms: [['京都']], display: ['京都'], tooShort: ['あ'] });
    expect(parseQuery('・・ 東京')).toEqual({ terms: [['東京']], display: ['東京'], tooShort: ['・・'] });
    expect(parseQuery('a"b c"d')).toEqual({ terms: [], display: [], tooShort: ['a', 'b c', 'd'] });
  });

  it('punctuation inside a term separates runs but keeps one phrase', () => {
    expect(parseQuery('東京・大阪')).toEqual({ terms: [['東京', '大阪']], display: ['東京・大阪'], tooShort: [] });
    expect(parseQuery('R03-0001')).toEqual({
      terms: [['r0', '03', '00', '00', '01']],
      display: ['r03-0001'],
      tooShort: [],
    });
  });

  it('normalises width and case', () => {
    expect(parseQuery('ＡＢＣ')).toEqual({ terms: [['ab', 'bc']], display: ['abc'], tooShort: [] });
    expect(parseQuery('ｱｲｳ')).toEqual({ terms: [['あい', 'いう']], display: ['あいう'], tooShort: [] });
  });

  it('keeps surrogate pairs whole', () => {
    expect(parseQuery('𠮷田')).toEqual({ terms: [['𠮷田']], display: ['𠮷田'], tooShort: [] });
    expect(parseQuery('𠮷')).toEqual({ terms: [['𠮷']], display: ['𠮷'], tooShort: [] });
  });

  it('reads at most 500 characters', () => {
    const parsed = parseQuery('あい'.repeat(300));
    expect(parsed.terms).toHaveLength(1);
    expect(parsed.terms[0]).toHaveLength(499);
  });

  it('returns nothing for an empty query', () => {
    expect(parseQuery('')).toEqual({ terms: [], display: [], tooShort: [] });
    expect(parseQuery('   ')).toEqual({ terms: [], display: [], tooShort: [] });
  });
});
