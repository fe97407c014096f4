/**
 * Highlights: which characters of a hit's field values matched the query, the same on both backends.
 *
 * The shape both backends produce is `Highlight` (store.ts): per searchable field, the values that
 * hold a match, each with the matched ranges as UTF-16 offsets into the value AS STORED (not the
 * normalised text), sorted, overlapping and touching ranges merged.
 *
 *   - The embedded store computes them here (`markValue`) from the parsed query and the stored
 *     text, by the rules of text.ts: the value is normalised unit by unit (a base character with
 *     its combining marks, a half-width kana with its (semi-)voiced mark), so that each normalised
 *     character knows the original characters it came from; bigrams are cut from the normalised
 *     text exactly as `bigrams()` cuts them, and a term marks every place where its bigram phrase
 *     occurs (a term of one Han character: every occurrence of that character). A match covers the
 *     original characters of its bigrams: full-width "ｈａｒｂｏｕｒ" found by "harbour" is marked
 *     in full width, "ﾎﾃﾙ" found by "ほてる" as the three half-width characters, a decomposed
 *     "ホ\u3099" as both code points.
 *   - Elasticsearch computes them with its highlighter on the same analysed fields (es-query.ts
 *     asks for `highlightSpec()`); `fromTaggedFragments` turns its fragments (whole values, marks
 *     between HIGHLIGHT_PRE and HIGHLIGHT_POST) into the same shape. The mapping char filters
 *     correct token offsets back to the original text, so its marks cover the same characters.
 *
 * Both merge touching marks (Elasticsearch's highlighter marks "東京" and "大阪" of "東京大阪" as
 * two, and merges only overlapping tokens), so the same query marks the same substrings.
 * `segments` and `snippet` turn a marked value into text pieces for the page, which escapes every
 * piece: marks are the only markup.
 */
import { searchableValues, type Highlight, type MarkedValue, type SearchField, type SearchResponse } from './store.ts';
import { isUnigramTerm, normalize } from './text.ts';

/** A [start, end) range of UTF-16 offsets into a value. */
export type Range = readonly [number, number];

/** Tags the Elasticsearch highlighter is asked to put around a match (private-use characters). */
export const HIGHLIGHT_PRE = '\uE000';
export const HIGHLIGHT_POST = '\uE001';

/**
 * Characters of a value analysed for highlights (Elasticsearch: the request's max_analyzed_offset,
 * below the index's default limit of 1,000,000, beyond which it would refuse the whole search).
 * Beyond it neither backend marks anything; what is found is unaffected. It bounds the work a
 * page of hits costs: snippets come from the start of a match's field anyway.
 */
export const HIGHLIGHT_MAX_CHARS = 10_000;

/** Fields highlighted, in the order a snippet is chosen from (the title is shown on its own; the id is in the hit's line). */
export const SNIPPET_FIELDS: readonly SearchField[] = ['creator', 'subjects', 'place', 'collection', 'description', 'notes'];
export const HIGHLIGHT_FIELDS: readonly SearchField[] = ['id', 'title', ...SNIPPET_FIELDS];

/** Characters that belong to the character before them for normalisation (NFC, voiced half-width kana). */
const JOINS_PREVIOUS = /[\p{M}\uff9e\uff9f\u1160-\u11ff]/u;
const RUN_CHAR = /[\p{L}\p{Nd}]/u;

interface Unit {
  /** Offsets in the original value. */
  from: number;
  to: number;
  /** The normalised text this unit became. */
  norm: string;
}

/** normalize() of single characters, as met (the table is small: one entry per distinct character). */
const SINGLE_CACHE = new Map<string, string>();
const JOINS_ANY = new RegExp(JOINS_PREVIOUS.source, 'u');

/** The value split into units normalised one by one, with the normalised text they make up. */
function units(value: string): { units: Unit[]; text: string } {
  const out: Unit[] = [];
  let i = 0;
  for (const ch of value) {
    const last = out[out.length - 1];
    if (last && last.to === i && JOINS_PREVIOUS.test(ch)) last.to += ch.length;
    else out.push({ from: i, to: i + ch.length, norm: '' });
    i += ch.length;
  }
  for (const u of out) {
    const piece = value.slice(u.from, u.to);
    let norm = SINGLE_CACHE.get(piece);
    if (norm === undefined) {
      norm = normalize(piece);
      if (u.to - u.from <= 2 && SINGLE_CACHE.size < 10_000) SINGLE_CACHE.set(piece, norm);
    }
    u.norm = norm;
  }
  const whole = normalize(value);
  const pieces = out.map((u) => u.norm).join('');
  // normalize() on the whole value can differ from unit by unit only in context-dependent lower
  // casing (a final Σ → ς); same length, so keep the whole value's characters with the units' sizes.
  if (whole.length === pieces.length && whole !== pieces) {
    let at = 0;
    for (const u of out) {
      const n = u.norm.length;
      u.norm = whole.slice(at, at + n);
      at += n;
    }
    return { units: out, text: whole };
  }
  return { units: out, text: pieces };
}

/** Normalised characters (code points) with the original range each came from. */
function normalisedChars(value: string): Array<{ ch: string; from: number; to: number }> {
  const out: Array<{ ch: string; from: number; to: number }> = [];
  // The usual case: nothing joins, nothing grows or shrinks, so each normalised character stands
  // where its original does.
  const whole = normalize(value);
  if (whole.length === value.length && !JOINS_ANY.test(value)) {
    let i = 0;
    let aligned = true;
    for (const ch of whole) {
      if ((value.codePointAt(i)! > 0xffff ? 2 : 1) !== ch.length) {
        aligned = false;
        break;
      }
      out.push({ ch, from: i, to: i + ch.length });
      i += ch.length;
    }
    if (aligned) return out;
    out.length = 0;
  }
  for (const u of units(value).units) for (const ch of u.norm) out.push({ ch, from: u.from, to: u.to });
  return out;
}

/** Sorted, with overlapping and touching ranges merged. */
export function mergeRanges(ranges: Iterable<Range>): Array<[number, number]> {
  const sorted = [...ranges].filter(([a, b]) => b > a).sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  const out: Array<[number, number]> = [];
  for (const [a, b] of sorted) {
    const last = out[out.length - 1];
    if (last && a <= last[1]) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}

/**
 * The ranges of `value` that the parsed query's terms (text.ts ParsedQuery.terms) match: each
 * occurrence of a term's bigram phrase (bigrams at consecutive positions, across runs as bigrams()
 * numbers them), or of its one Han character, as the original characters it covers.
 */
export function markValue(value: string, terms: readonly (readonly string[])[], limit = HIGHLIGHT_MAX_CHARS): Array<[number, number]> {
  if (typeof value !== 'string' || value === '' || terms.length === 0 || limit <= 0) return [];
  const chars = normalisedChars(value.length > limit ? value.slice(0, boundary(value, limit)) : value);
  // Bigram tokens by position: [index of first char, index of second char].
  const grams: Array<{ text: string; a: number; b: number }> = [];
  for (let i = 0; i < chars.length; ) {
    if (!RUN_CHAR.test(chars[i]!.ch)) {
      i++;
      continue;
    }
    let j = i;
    while (j < chars.length && RUN_CHAR.test(chars[j]!.ch)) j++;
    for (let k = i; k + 1 < j; k++) grams.push({ text: chars[k]!.ch + chars[k + 1]!.ch, a: k, b: k + 1 });
    i = j;
  }
  const ranges: Range[] = [];
  for (const term of terms) {
    if (term.length === 0) continue;
    if (isUnigramTerm(term)) {
      for (const c of chars) if (c.ch === term[0]) ranges.push([c.from, c.to]);
      continue;
    }
    for (let p = 0; p + term.length <= grams.length; p++) {
      let ok = true;
      for (let q = 0; q < term.length && ok; q++) ok = grams[p + q]!.text === term[q];
      if (!ok) continue;
      // Each bigram is its own mark (as the Elasticsearch highlighter marks tokens); merged below.
      for (let q = 0; q < term.length; q++) {
        const g = grams[p + q]!;
        ranges.push([chars[g.a]!.from, chars[g.b]!.to]);
      }
    }
  }
  return mergeRanges(ranges);
}

/** The highlights of one record's field values (searchableValues()) for a parsed query. */
export function markRecord(values: Partial<Record<SearchField, readonly string[]>>, terms: readonly (readonly string[])[]): Highlight {
  const out: Highlight = {};
  if (terms.length === 0) return out;
  for (const field of HIGHLIGHT_FIELDS) {
    const marked: MarkedValue[] = [];
    // Like Elasticsearch, the limit counts the field's values together (one separator between them).
    let used = 0;
    for (const value of values[field] ?? []) {
      if (typeof value !== 'string') continue;
      const ranges = markValue(value, terms, HIGHLIGHT_MAX_CHARS - used);
      used += value.length + 1;
      if (ranges.length > 0) marked.push({ value, ranges });
    }
    if (marked.length > 0) out[field] = marked;
  }
  return out;
}

/** The response with each hit's highlights computed from its stored values (the embedded store's way). */
export function withHighlights(res: SearchResponse, terms: readonly (readonly string[])[]): SearchResponse {
  if (terms.length === 0) return res;
  for (const hit of res.hits) hit.highlight = markRecord(searchableValues(hit.record), terms);
  return res;
}

/** One highlighter fragment → its plain text and mark ranges (in the plain text). */
export function parseTagged(fragment: string, pre = HIGHLIGHT_PRE, post = HIGHLIGHT_POST): { text: string; ranges: Array<[number, number]> } {
  let text = '';
  const ranges: Range[] = [];
  let open = -1;
  for (let i = 0; i < fragment.length; ) {
    if (fragment.startsWith(pre, i)) {
      if (open < 0) open = text.length;
      i += pre.length;
    } else if (fragment.startsWith(post, i)) {
      if (open >= 0) ranges.push([open, text.length]);
      open = -1;
      i += post.length;
    } else {
      text += fragment[i];
      i++;
    }
  }
  if (open >= 0) ranges.push([open, text.length]);
  return { text, ranges: mergeRanges(ranges) };
}

/**
 * Elasticsearch highlight fragments (whole values, see highlightSpec) → the marked values of one
 * field, matched against the record's own values: a fragment belongs to the value it equals (or,
 * failing that, the first value holding it, at that offset). Several fragments of one value (the
 * bigram field and the unigram sub-field) are merged. Fragments matching no value are dropped.
 */
export function fromTaggedFragments(values: readonly string[], fragments: readonly string[]): MarkedValue[] {
  const byValue = new Map<number, Range[]>();
  for (const fragment of fragments) {
    if (typeof fragment !== 'string') continue;
    const { text, ranges } = parseTagged(fragment);
    if (ranges.length === 0 || text === '') continue;
    let index = values.indexOf(text);
    let offset = 0;
    if (index < 0) {
      index = values.findIndex((v) => v.includes(text));
      if (index < 0) continue;
      offset = values[index]!.indexOf(text);
    }
    const list = byValue.get(index) ?? [];
    for (const [a, b] of ranges) list.push([a + offset, b + offset]);
    byValue.set(index, list);
  }
  return [...byValue.keys()].sort((a, b) => a - b).map((i) => ({ value: values[i]!, ranges: mergeRanges(byValue.get(i)!) }));
}

/** A piece of text for display: marked (the query matched it) or not. */
export interface Segment {
  text: string;
  mark: boolean;
}

/** A value cut into plain and marked pieces (ranges out of bounds are clipped). */
export function segments(value: string, ranges: readonly Range[] = []): Segment[] {
  const out: Segment[] = [];
  let pos = 0;
  for (const [a0, b0] of mergeRanges(ranges)) {
    const a = Math.max(pos, Math.min(a0, value.length));
    const b = Math.min(b0, value.length);
    if (b <= a) continue;
    if (a > pos) out.push({ text: value.slice(pos, a), mark: false });
    out.push({ text: value.slice(a, b), mark: true });
    pos = b;
  }
  if (pos < value.length || out.length === 0) out.push({ text: value.slice(pos), mark: false });
  return out;
}

/** Offset moved to a code point boundary (never between the halves of a surrogate pair). */
function boundary(value: string, i: number): number {
  const c = value.charCodeAt(i);
  return i > 0 && i < value.length && c >= 0xdc00 && c <= 0xdfff ? i - 1 : i;
}

/**
 * A short piece of a marked value around its first mark: at most about `max` characters, starting
 * `before` characters ahead of the mark, with "…" where the value was cut.
 */
export function snippet(marked: MarkedValue, max = 120, before = 30): Segment[] {
  const { value } = marked;
  const ranges = mergeRanges(marked.ranges);
  if (value.length <= max || ranges.length === 0) return segments(value, ranges);
  const first = ranges[0]![0];
  let start = boundary(value, Math.max(0, Math.min(first - before, value.length - max)));
  const end = boundary(value, Math.min(value.length, start + max));
  if (start > 0) start = boundary(value, start);
  const shifted = ranges.map(([a, b]): Range => [Math.max(a, start) - start, Math.min(b, end) - start]).filter(([a, b]) => b > a);
  const out = segments(value.slice(start, end), shifted);
  if (start > 0) out.unshift({ text: '…', mark: false });
  if (end < value.length) out.push({ text: '…', mark: false });
  return out;
}

/** The marks of exactly this value of a field (e.g. the title in one language), or []. */
export function rangesOf(highlight: Highlight | undefined, field: SearchField, value: string | undefined): Array<[number, number]> {
  if (!highlight || !value) return [];
  return highlight[field]?.find((m) => m.value === value)?.ranges.map(([a, b]): [number, number] => [a, b]) ?? [];
}

/**
 * The snippet shown under a hit: the first field of SNIPPET_FIELDS with a match, preferring the
 * value in the interface language when the field has one in each (`preferred`).
 */
export function hitSnippet(highlight: Highlight | undefined, preferred: readonly string[] = []): { field: SearchField; value: string; segments: Segment[] } | null {
  if (!highlight) return null;
  for (const field of SNIPPET_FIELDS) {
    const list = highlight[field];
    if (!list || list.length === 0) continue;
    const pick = list.find((m) => preferred.includes(m.value)) ?? list[0]!;
    return { field, value: pick.value, segments: snippet(pick) };
  }
  return null;
}
