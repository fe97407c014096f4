/**
 * Index settings and mappings of the Elasticsearch backend. Pure data, derived from the shared text
 * rules (text.ts) and the port (store.ts), so that Elasticsearch cuts bigrams on the same
 * normalised text as the embedded store:
 *
 *   char_filter archive_width   `mapping` char filter built rule by rule FROM WIDTH_MAPPINGS
 *                               (full-width ASCII -> ASCII, half-width katakana -> full-width with
 *                               voiced/semi-voiced pairs first, ideographic space -> space);
 *   tokenizer   archive_bigram  `ngram`, min_gram = max_gram = 2, token_chars letter + digit: the
 *                               bigrams of each run of letters/digits, by code point, positions
 *                               consecutive across runs, nothing for a one-character run;
 *   filters     cjk_width, lowercase.
 *
 * Forgiving search (mapping version 2, issue 19.6), from the same tables as the embedded store:
 *
 *   char_filter archive_nfc     `mapping` char filter built FROM COMBINING_KANA_MAPPINGS (kana +
 *                               U+3099/U+309A -> precomposed), first, as normalize() starts with NFC;
 *   char_filter archive_kana    `mapping` char filter built FROM KANA_MAPPINGS (katakana ->
 *                               hiragana), after archive_width, as normalize() applies them;
 *   search.<field>.uni          multi-field, analyzer archive_unigram (ngram 1..1, letters and
 *                               digits): one-Han-character terms are `term` queries here;
 *   search.<field>.word         multi-field, analyzer archive_word (`pattern` tokenizer splitting on
 *                               everything but letters and digits): the whole-word bonus is a
 *                               `term` query on the Latin word here.
 *
 * Only what ships with Elasticsearch is used (no kuromoji or other plugin).
 *
 * `cjk_width` is kept because the issue asks for it and because it is the stock way to fold widths,
 * but after our char filter it has nothing left to do: every character it folds (U+FF01..U+FF5E,
 * U+FF65..U+FF9F) was already replaced by archive_width before the tokenizer ran. The char filter
 * is the one that matters: it runs BEFORE the tokenizer, so "ｶﾞｽ" becomes "ガス" (one run, one
 * bigram) exactly as normalize() does, whereas cjk_width alone would run after tokenizing, too late
 * to change which characters count as letters or where runs start.
 *
 * The document layout (mapping version 1):
 *
 *   id            keyword   sort key (keyword order = UTF-8 byte order = code point order, the
 *                           same order as SQLite's BINARY collation) and exact lookups
 *   batch, type, access     keyword   filters and facets (type absent when blank, as in SQLite)
 *   s3_uploaded   boolean   filter (ES's exact-value type for true/false: indexed as a term with
 *                           doc values, aggregatable like a keyword; see docs/elasticsearch.md)
 *   image_ids     keyword   getImage and the image-ownership check: image id -> record
 *   indexed_at, updated_at  date
 *   search.<field>          text, analyzer archive_bigram, one array value per searchableValues()
 *                           value; position_increment_gap keeps phrases inside one value
 *   record        object, enabled: false   the input as given (kept in _source, not indexed)
 *   uploads       object, enabled: false   per-image S3 upload state {image, file, key, size, at}
 */
import type { estypes } from '@elastic/elasticsearch';
import { FIELD_WEIGHTS, type SearchField } from './store.ts';
import { COMBINING_KANA_MAPPINGS, KANA_MAPPINGS, WIDTH_MAPPINGS } from './text.ts';

/** Bump when settings or mappings change: `archive es migrate` then builds `<alias>-v<N>`. */
export const MAPPING_VERSION = 2;

/** index.max_result_window, set explicitly: deeper pages are walked with search_after. */
export const MAX_RESULT_WINDOW = 10_000;

/** Gap between two values of one field: a phrase (slop 0) can never span it. */
export const POSITION_INCREMENT_GAP = 100;

/** Terms aggregation size: every batch/type value (the embedded store holds at most 1023 each). */
export const FACET_SIZE = 1024;

export const ANALYZER = 'archive_bigram';
export const CHAR_FILTER = 'archive_width';
export const TOKENIZER = 'archive_bigram';
export const KANA_CHAR_FILTER = 'archive_kana';
/** Kana + combining (semi-)voiced mark -> precomposed kana (NFC's part that matters for search). */
export const NFC_CHAR_FILTER = 'archive_nfc';
export const UNIGRAM_ANALYZER = 'archive_unigram';
export const WORD_ANALYZER = 'archive_word';

/** Searchable fields in FIELD_WEIGHTS order; ES field names are `search.<field>`. */
export const SEARCH_FIELDS = Object.keys(FIELD_WEIGHTS) as SearchField[];

/**
 * One side of a `mapping` char filter rule. Elasticsearch's MappingCharFilterFactory splits a rule
 * with the regex `(.*)\s*=>\s*(.*)\s*$`, trims both sides (String.trim: everything <= U+0020) and
 * then decodes `\\`, `\n`, `\t`, `\r`, `\b`, `\f` and `\uXXXX`. So every ASCII character that is not
 * a letter or digit is written as `\uXXXX`: a space survives the trim (the ideographic space maps to
 * `\u0020`; written literally it would be trimmed to an empty string and DELETE the separator,
 * joining two runs), and `=`, `>` (from ＝ and ＞), `\` and `#` cannot be misread. Other characters
 * (kana, full-width forms) are written as themselves: readable, and nothing in the parser treats
 * them specially. Only BMP characters can be written this way; the table has no others.
 */
export function escapeMappingSide(s: string): string {
  let out = '';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (cp > 0xffff) throw new Error(`mapping char filter: ${JSON.stringify(ch)} is outside the BMP`);
    out += cp < 0x80 && !/[A-Za-z0-9]/.test(ch) ? `\\u${cp.toString(16).padStart(4, '0')}` : ch;
  }
  return out;
}

/** The `mappings` of the archive_width char filter: WIDTH_MAPPINGS, in order, one rule each. */
export function widthMappingRules(): string[] {
  return WIDTH_MAPPINGS.map(([from, to]) => `${escapeMappingSide(from)} => ${escapeMappingSide(to)}`);
}

/** The `mappings` of the archive_nfc char filter: COMBINING_KANA_MAPPINGS, one rule each. */
export function combiningKanaRules(): string[] {
  return COMBINING_KANA_MAPPINGS.map(([from, to]) => `${escapeMappingSide(from)} => ${escapeMappingSide(to)}`);
}

/** The `mappings` of the archive_kana char filter: KANA_MAPPINGS, in order, one rule each. */
export function kanaMappingRules(): string[] {
  return KANA_MAPPINGS.map(([from, to]) => `${escapeMappingSide(from)} => ${escapeMappingSide(to)}`);
}

export function analysisSettings() {
  // In normalize()'s order: NFC (combining kana), width, kana folding.
  const charFilters = [NFC_CHAR_FILTER, CHAR_FILTER, KANA_CHAR_FILTER];
  return {
    char_filter: {
      [NFC_CHAR_FILTER]: { type: 'mapping', mappings: combiningKanaRules() },
      [CHAR_FILTER]: { type: 'mapping', mappings: widthMappingRules() },
      [KANA_CHAR_FILTER]: { type: 'mapping', mappings: kanaMappingRules() },
    },
    tokenizer: {
      [TOKENIZER]: { type: 'ngram', min_gram: 2, max_gram: 2, token_chars: ['letter', 'digit'] },
      [UNIGRAM_ANALYZER]: { type: 'ngram', min_gram: 1, max_gram: 1, token_chars: ['letter', 'digit'] },
      [WORD_ANALYZER]: { type: 'pattern', pattern: '[^\\p{L}\\p{Nd}]+' },
    },
    analyzer: {
      [UNIGRAM_ANALYZER]: { type: 'custom', char_filter: charFilters, tokenizer: UNIGRAM_ANALYZER, filter: ['lowercase'] },
      [WORD_ANALYZER]: { type: 'custom', char_filter: charFilters, tokenizer: WORD_ANALYZER, filter: ['lowercase'] },
      [ANALYZER]: {
        type: 'custom',
        char_filter: charFilters,
        tokenizer: TOKENIZER,
        // cjk_width: a no-op after archive_width (see the module comment); lowercase: per code
        // point, Java's Character.toLowerCase (docs/elasticsearch.md lists where that differs from
        // JavaScript's toLowerCase()).
        filter: ['cjk_width', 'lowercase'],
      },
    },
  } satisfies estypes.IndicesIndexSettingsAnalysis;
}

const searchText = {
  type: 'text',
  analyzer: ANALYZER,
  // Only phrase matches with constant scores: no length norms, positions for phrases.
  norms: false,
  index_options: 'positions',
  position_increment_gap: POSITION_INCREMENT_GAP,
  fields: {
    uni: { type: 'text', analyzer: UNIGRAM_ANALYZER, norms: false, index_options: 'docs' },
    word: { type: 'text', analyzer: WORD_ANALYZER, norms: false, index_options: 'docs' },
  },
} as const satisfies estypes.MappingTextProperty;

export function indexMappings() {
  return {
    dynamic: 'strict',
    _meta: { mapping_version: MAPPING_VERSION, app: 'iiif-private-archive' },
    properties: {
      id: { type: 'keyword' },
      batch: { type: 'keyword' },
      type: { type: 'keyword' },
      access: { type: 'keyword' },
      s3_uploaded: { type: 'boolean' },
      image_ids: { type: 'keyword' },
      indexed_at: { type: 'date' },
      updated_at: { type: 'date' },
      search: {
        properties: Object.fromEntries(SEARCH_FIELDS.map((f) => [f, { ...searchText }])),
      },
      record: { type: 'object', enabled: false },
      uploads: { type: 'object', enabled: false },
    },
  } satisfies estypes.MappingTypeMapping;
}

/** The whole create-index body: settings, mappings (and, on first creation, the alias). */
export function indexBody() {
  return {
    settings: {
      index: {
        number_of_shards: 1,
        auto_expand_replicas: '0-1',
        max_result_window: MAX_RESULT_WINDOW,
        refresh_interval: '1s',
      },
      analysis: analysisSettings(),
    },
    mappings: indexMappings(),
  } satisfies Pick<estypes.IndicesCreateRequest, 'settings' | 'mappings'>;
}

/** `<alias>-v<N>`, or `<alias>-v<N>-<UTC yyyymmddhhmmss>` for a rebuild next to an existing one. */
export function versionedIndexName(alias: string, version: number = MAPPING_VERSION, at?: Date): string {
  const base = `${alias}-v${version}`;
  return at ? `${base}-${at.toISOString().replace(/[-:T]/g, '').slice(0, 14)}` : base;
}
