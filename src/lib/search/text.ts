/**
 * Text rules shared by every search backend: one notion of a match.
 *
 * A query matches a field when the field contains it as a substring, after width normalisation and
 * case folding. Both backends implement that the same way, with bigram phrases, exactly as the
 * Elasticsearch analyzer does it (see elasticsearch settings built from WIDTH_MAPPINGS):
 *
 *   1. normalise: the width table below (full-width ASCII -> ASCII, half-width katakana ->
 *      full-width, ideographic space -> space), then lower case;
 *   2. split into runs of letters and digits (Unicode L* and Nd, like Lucene's token_chars
 *      letter + digit); everything else separates runs;
 *   3. each run of two or more characters yields its overlapping bigrams, by code point, with
 *      consecutive positions across runs; a run of one character yields nothing.
 *
 * A search term matches when its bigrams occur at consecutive positions in a field (a phrase).
 * Consequences, identical on both backends: punctuation and spaces inside a term act as separators,
 * so "東京・大阪" also finds "東京、大阪"; a term needs at least two letters or digits in a row.
 *
 * Forgiving search (issue 19.6), the same on both backends:
 *   - kana folding: after the width table, katakana are folded to hiragana (KANA_MAPPINGS, also the
 *     Elasticsearch `archive_kana` char filter), so ほてる finds ホテル and the other way round;
 *   - a term of ONE Han character (港, 駅) is searched in a unigram field (`unigrams()`), scoring
 *     UNIGRAM_WEIGHTS (about half the field weights: below longer matches) instead of being dropped;
 *   - a Latin-script term of one word that occurs as a whole word (`latinWords()`) scores
 *     WHOLE_WORD_BONUS once more, so "port" ranks "Port of Yokohama" above "Sports day".
 */

/** Half-width katakana (U+FF61..U+FF9F) to full-width, with voiced and semi-voiced combinations. */
const HALF_KANA =
  '｡。｢「｣」､、･・ｦヲｧァｨィｩゥｪェｫォｬャｭュｮョｯッｰーｱアｲイｳウｴエｵオｶカｷキｸクｹケｺコｻサｼシｽスｾセｿソﾀタﾁチﾂツﾃテﾄトﾅナﾆニﾇヌﾈネﾉノﾊハﾋヒﾌフﾍヘﾎホﾏマﾐミﾑムﾒメﾓモﾔヤﾕユﾖヨﾗラﾘリﾙルﾚレﾛロﾜワﾝンﾞ゛ﾟ゜';
const VOICED = 'ｶﾞガｷﾞギｸﾞグｹﾞゲｺﾞゴｻﾞザｼﾞジｽﾞズｾﾞゼｿﾞゾﾀﾞダﾁﾞヂﾂﾞヅﾃﾞデﾄﾞドﾊﾞバﾋﾞビﾌﾞブﾍﾞベﾎﾞボｳﾞヴﾜﾞヷｦﾞヺ';
const SEMI_VOICED = 'ﾊﾟパﾋﾟピﾌﾟプﾍﾟペﾎﾟポ';

function pairs(s: string, size: number): Array<[string, string]> {
  const chars = [...s];
  const out: Array<[string, string]> = [];
  for (let i = 0; i < chars.length; i += size) {
    out.push([chars.slice(i, i + size - 1).join(''), chars[i + size - 1]!]);
  }
  return out;
}

/**
 * The width normalisation table, longest source first. It is data: the embedded store applies it
 * in `normalize()`, and the Elasticsearch backend turns the same table into a `mapping` char filter,
 * so both see the same characters before bigrams are cut.
 */
export const WIDTH_MAPPINGS: ReadonlyArray<readonly [string, string]> = (() => {
  const table: Array<[string, string]> = [...pairs(VOICED, 3), ...pairs(SEMI_VOICED, 3), ...pairs(HALF_KANA, 2)];
  for (let cp = 0xff01; cp <= 0xff5e; cp++) table.push([String.fromCodePoint(cp), String.fromCodePoint(cp - 0xfee0)]);
  table.push(['\u3000', ' ']);
  return table;
})();

/**
 * Kana followed by a combining (semi-)voiced sound mark (U+3099, U+309A), as macOS and some input
 * methods write them → the precomposed kana, which is what NFC (first step of `normalize()`) gives.
 * Queries are NFC-normalised in `normalize()` for both backends, and ingest stores NFC text; this
 * table is for the Elasticsearch char filter, so that text reaching the index by another road is
 * analysed the same: the `archive_nfc` char filter of mapping version 2 (es-settings.ts).
 */
export const COMBINING_KANA_MAPPINGS: ReadonlyArray<readonly [string, string]> = (() => {
  const table: Array<[string, string]> = [];
  for (let cp = 0x3041; cp <= 0x30ff; cp++) {
    for (const mark of ['\u3099', '\u309a']) {
      const seq = String.fromCodePoint(cp) + mark;
      const nfc = seq.normalize('NFC');
      if ([...nfc].length === 1) table.push([seq, nfc]);
    }
  }
  return table;
})();

/**
 * Kana folding, katakana -> hiragana (U+30A1..U+30F6 -> U+3041..U+3096, ヽヾ -> ゝゞ). Data like the
 * width table: normalize() applies it after the width table, and Elasticsearch gets it as the
 * `archive_kana` mapping char filter, run after `archive_width`. The prolonged sound mark ー and
 * the katakana-only ヷヸヹヺ have no hiragana and stay as they are.
 */
export const KANA_MAPPINGS: ReadonlyArray<readonly [string, string]> = (() => {
  const table: Array<[string, string]> = [];
  for (let cp = 0x30a1; cp <= 0x30f6; cp++) table.push([String.fromCodePoint(cp), String.fromCodePoint(cp - 0x60)]);
  table.push(['ヽ', 'ゝ'], ['ヾ', 'ゞ']);
  return table;
})();
const KANA = new Map(KANA_MAPPINGS.map(([a, b]) => [a, b] as [string, string]));
const KANA_RE = /[\u30a1-\u30f6\u30fd\u30fe]/g;

const SINGLE = new Map<string, string>();
const DOUBLE = new Map<string, string>();
for (const [from, to] of WIDTH_MAPPINGS) ([...from].length === 1 ? SINGLE : DOUBLE).set(from, to);
const WIDTH_RE = /[\uff61-\uff9f][\uff9e\uff9f]?|[\uff01-\uff5e\u3000]/g;

/** NFC (as the ingest stores data), width normalisation, kana folding, then lower case. Pure; used for indexing and querying alike. */
export function normalize(text: string): string {
  return text
    .normalize('NFC')
    .replace(WIDTH_RE, (m) => DOUBLE.get(m) ?? [...m].map((c) => SINGLE.get(c) ?? c).join(''))
    .replace(KANA_RE, (c) => KANA.get(c) ?? c)
    .toLowerCase();
}

const RUN_RE = /[\p{L}\p{Nd}]+/gu;

/** Bigram tokens of a text, in position order (see the module comment for the rules). */
export function bigrams(text: string): string[] {
  const out: string[] = [];
  for (const run of normalize(text).match(RUN_RE) ?? []) {
    const cps = [...run];
    for (let i = 0; i + 1 < cps.length; i++) out.push(cps[i]! + cps[i + 1]!);
  }
  return out;
}

const HAN_RE = /\p{Script=Han}/gu;
const LATIN_WORD_RE = /^[\p{Script=Latin}\p{Nd}]*\p{Script=Latin}[\p{Script=Latin}\p{Nd}]*$/u;

/** The distinct Han characters of a text (after normalize()), in first-seen order: the unigram field. */
export function unigrams(text: string): string[] {
  return [...new Set(normalize(text).match(HAN_RE) ?? [])];
}

/**
 * The distinct Latin-script words of a text (runs of letters and digits, at least two long, made of
 * Latin letters and digits only, with at least one letter), normalised: the whole-word field.
 */
export function latinWords(text: string): string[] {
  return [...new Set((normalize(text).match(RUN_RE) ?? []).filter((w) => [...w].length >= 2 && LATIN_WORD_RE.test(w)))];
}

/** The Latin word a query term (as in ParsedQuery.display) is, for the whole-word bonus, or null. */
export function latinWordOf(term: string): string | null {
  const runs = normalize(term).match(RUN_RE) ?? [];
  return runs.length === 1 && [...runs[0]!].length >= 2 && LATIN_WORD_RE.test(runs[0]!) ? runs[0]! : null;
}

/** A query term of one Han character: searched in the unigram field. */
export function isUnigramTerm(grams: readonly string[]): boolean {
  return grams.length === 1 && [...grams[0]!].length === 1;
}

export interface ParsedQuery {
  /**
   * Each term's bigram phrase; every term must match (AND), each in any searchable field. A term
   * of one Han character is the one-element list [character] (see isUnigramTerm()).
   */
  terms: string[][];

  /** The terms as the user typed them (quotes removed), for display. */
  display: string[];
  /** Terms that were too short to search (fewer than two letters or digits in a row). */
  tooShort: string[];
}

/**
 * Splits a query into terms: "quoted phrases" stay whole, other words split on white space
 * (ASCII or ideographic). A query is searchable when it has at least one term of two or more
 * characters; short terms are reported so the page can say why they were ignored.
 */
export function parseQuery(raw: string): ParsedQuery {
  const terms: string[][] = [];
  const display: string[] = [];
  const tooShort: string[] = [];
  const text = normalize(raw.slice(0, 500));
  for (const m of text.matchAll(/"([^"]*)"|[^\s"]+/gu)) {
    const term = (m[1] ?? m[0]).trim();
    if (!term) continue;
    const grams = bigrams(term);
    const runs = term.match(RUN_RE) ?? [];
    if (grams.length === 0) {
      // One Han character (港, 駅): the unigram field answers it. Anything else this short is dropped.
      if (runs.length === 1 && [...runs[0]!].length === 1 && /^\p{Script=Han}$/u.test(runs[0]!)) {
        terms.push([runs[0]!]);
        display.push(term);
      } else tooShort.push(term);
    } else {
      terms.push(grams);
      display.push(term);
    }
  }
  return { terms, display, tooShort };
}
