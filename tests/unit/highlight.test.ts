/**
 * The highlighter mapping (src/lib/search/highlight.ts): marks cover the ORIGINAL characters that
 * matched the normalised query (width, kana, case, NFC), phrases only where they occur as phrases,
 * touching marks merged; fragments with tags and the snippet cut.
 */
import { describe, expect, it } from 'vitest';
import { HIGHLIGHT_MAX_CHARS, fromTaggedFragments, hitSnippet, markRecord, markValue, parseTagged, segments, snippet, HIGHLIGHT_POST as E, HIGHLIGHT_PRE as S } from '../../src/lib/search/highlight.ts';
import { parseQuery } from '../../src/lib/search/text.ts';

/** The marked substrings of `value` for query `q`. */
function marked(value: string, q: string): string[] {
  return markValue(value, parseQuery(q).terms).map(([a, b]) => value.slice(a, b));
}

describe('markValue: marks the original characters', () => {
  it('a plain substring', () => {
    expect(markValue('東京駅丸の内口', parseQuery('東京').terms)).toEqual([[0, 2]]);
    expect(marked('銀座の夜、東京の繁華街', '東京')).toEqual(['東京']);
  });

  it('full-width Latin letters found by ASCII (and the other way round), any case', () => {
    expect(marked('ＴＯＫＹＯ Station', 'tokyo')).toEqual(['ＴＯＫＹＯ']);
    expect(marked('Yokohama harbour', 'ＨＡＲＢＯＵＲ')).toEqual(['harbour']);
    expect(marked('Port of Yokohama', 'PORT')).toEqual(['Port']);
  });

  it('half-width katakana, voiced marks included, found by hiragana or full-width katakana', () => {
    expect(marked('帝国ﾎﾃﾙ', 'ほてる')).toEqual(['ﾎﾃﾙ']);
    expect(marked('ｶﾞｽ灯の街', 'ガス灯')).toEqual(['ｶﾞｽ灯']);
    expect(markValue('ｶﾞｽ灯', parseQuery('がす').terms)).toEqual([[0, 3]]);
  });

  it('kana folding both ways', () => {
    expect(marked('ホテルの前', 'ほてる')).toEqual(['ホテル']);
    expect(marked('ほてるの前', 'ホテル')).toEqual(['ほてる']);
  });

  it('a decomposed (NFD) value: the base and its combining mark are one marked character', () => {
    const nfd = 'ホ\u3099テル'; // ボテル, decomposed
    expect(markValue(nfd, parseQuery('ぼてる').terms)).toEqual([[0, 4]]);
    expect(marked('Cafe\u0301 Paulista', 'café')).toEqual(['Cafe\u0301']);
    // and an NFD query against a composed value
    expect(marked('ボテル', 'ホ\u3099テ')).toEqual(['ボテ']);
  });

  it('characters outside the BMP are never split', () => {
    expect(marked('𠮷野家の暖簾', '𠮷野')).toEqual(['𠮷野']);
  });

  it('a phrase marks where it occurs as a phrase, not its bigrams elsewhere', () => {
    expect(marked('東京都と京都', '東京都')).toEqual(['東京都']);
  });

  it('punctuation inside a term separates: each side is marked, the separator is not', () => {
    expect(marked('東京、大阪', '東京・大阪')).toEqual(['東京', '大阪']);
  });

  it('touching marks of two terms are one mark', () => {
    expect(marked('東京大阪間', '東京 大阪')).toEqual(['東京大阪']);
  });

  it('a one-kanji term marks every occurrence of it', () => {
    expect(marked('横浜港と神戸港', '港')).toEqual(['港', '港']);
  });

  it('nothing for text that does not match, or no terms', () => {
    expect(markValue('浅草寺', parseQuery('東京').terms)).toEqual([]);
    expect(markValue('浅草寺', [])).toEqual([]);
    expect(markValue('', parseQuery('東京').terms)).toEqual([]);
  });

  it('a huge value is marked within the first HIGHLIGHT_MAX_CHARS characters only (as Elasticsearch analyses it)', () => {
    const value = '東京' + 'あ'.repeat(HIGHLIGHT_MAX_CHARS) + '東京';
    expect(markValue(value, parseQuery('東京').terms)).toEqual([[0, 2]]);
    // The values of one field count together, as Elasticsearch counts them.
    const h = markRecord({ description: ['あ'.repeat(HIGHLIGHT_MAX_CHARS - 2), '東京の街'], notes: ['東京'] }, parseQuery('東京').terms);
    expect(h).toEqual({ notes: [{ value: '東京', ranges: [[0, 2]] }] });
  });

  it('context-dependent lower casing (final sigma) keeps offsets aligned', () => {
    expect(marked('ΟΔΟΣ ΑΘΗΝΩΝ', 'ΑΘΗΝΩΝ')).toEqual(['ΑΘΗΝΩΝ']);
    expect(marked('ΟΔΟΣ', 'ΟΔΟΣ')).toEqual(['ΟΔΟΣ']);
  });
});

describe('markRecord', () => {
  it('per field, only the values holding a match', () => {
    const h = markRecord({ title: ['東京駅', 'Tokyo Station'], place: ['東京'], subjects: ['駅', '東京'], description: ['駅舎'] }, parseQuery('東京').terms);
    expect(h).toEqual({
      title: [{ value: '東京駅', ranges: [[0, 2]] }],
      place: [{ value: '東京', ranges: [[0, 2]] }],
      subjects: [{ value: '東京', ranges: [[0, 2]] }],
    });
  });
});

describe('Elasticsearch fragments', () => {
  it('parseTagged: plain text and the ranges between the tags, touching marks merged', () => {
    expect(parseTagged(`${S}東京${E}${S}大阪${E}間`)).toEqual({ text: '東京大阪間', ranges: [[0, 4]] });
    expect(parseTagged('no marks')).toEqual({ text: 'no marks', ranges: [] });
    expect(parseTagged(`${S}unclosed`)).toEqual({ text: 'unclosed', ranges: [[0, 8]] });
  });

  it('fromTaggedFragments: matched to the record values, several fragments of one value merged', () => {
    const values = ['横浜港と神戸港', 'Kobe port'];
    const out = fromTaggedFragments(values, [`横浜${S}港${E}と神戸${S}港${E}`, `横浜港と${S}神戸${E}港`, `nothing of ours ${S}x${E}`]);
    expect(out).toEqual([{ value: '横浜港と神戸港', ranges: [[2, 3], [4, 7]] }]);
    // A fragment that is a piece of a value is placed at its offset.
    expect(fromTaggedFragments(['前置き 東京の街'], [`${S}東京${E}の街`])).toEqual([{ value: '前置き 東京の街', ranges: [[4, 6]] }]);
  });
});

describe('display pieces', () => {
  it('segments: marked and plain pieces, in order, covering the whole value', () => {
    expect(segments('<img src=x onerror=alert(1)>', [[1, 4]])).toEqual([
      { text: '<', mark: false },
      { text: 'img', mark: true },
      { text: ' src=x onerror=alert(1)>', mark: false },
    ]);
    expect(segments('abc', [])).toEqual([{ text: 'abc', mark: false }]);
    expect(segments('abc', [[0, 99]])).toEqual([{ text: 'abc', mark: true }]);
  });

  it('snippet: a window around the first mark, with ellipses where cut', () => {
    const value = 'あ'.repeat(200) + '東京' + 'い'.repeat(200);
    const s = snippet({ value, ranges: [[200, 202]] }, 60, 10);
    expect(s[0]).toEqual({ text: '…', mark: false });
    expect(s[s.length - 1]).toEqual({ text: '…', mark: false });
    expect(s.filter((x) => x.mark).map((x) => x.text)).toEqual(['東京']);
    expect(s.map((x) => x.text).join('').length).toBeLessThanOrEqual(62);
    expect(snippet({ value: '短い東京', ranges: [[2, 4]] })).toEqual([
      { text: '短い', mark: false },
      { text: '東京', mark: true },
    ]);
  });

  it('hitSnippet: the first snippet field with a match, the interface language value first', () => {
    const h = markRecord({ title: ['東京'], description: ['東京の街', 'Streets of Tokyo'], notes: ['東京'] }, parseQuery('東京 tokyo').terms);
    expect(hitSnippet(h, [])?.field).toBe('description');
    expect(hitSnippet(markRecord({ description: ['東京の街 tokyo', 'Tokyo streets 東京'] }, parseQuery('東京').terms), ['Tokyo streets 東京'])?.value).toBe('Tokyo streets 東京');
    expect(hitSnippet(markRecord({ title: ['東京'] }, parseQuery('東京').terms))).toBeNull();
    expect(hitSnippet(undefined)).toBeNull();
  });
});
