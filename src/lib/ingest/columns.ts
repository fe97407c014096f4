/**
 * The bibliography column mapping, as data.
 *
 * Providers deliver Excel sheets with Japanese headers whose spelling drifts from one delivery
 * round to the next (full-width or half-width brackets, stray spaces, タイトル instead of 題名).
 * `DEFAULT_COLUMNS` lists, for each record field, every header spelling we accept; headers are
 * compared after `normalizeHeader()`, so the table only needs one entry per *wording*, not per
 * bracket width. A later configuration file can pass its own table (or extend this one with
 * `mergeColumns`) to `readBibliography()`.
 */
import { BATCH_ID_RE, type AccessLevel } from '../domain.ts';
import { compileRules } from './rules.ts';

/** Every record field a column can feed. Dotted names are language variants of a `LangText`. */
export const FIELD_KEYS = [
  'id',
  'batch',
  'type',
  'title.ja',
  'title.en',
  'creator.ja',
  'creator.en',
  'date',
  'place.ja',
  'place.en',
  'description.ja',
  'description.en',
  'subjects',
  'collection.ja',
  'collection.en',
  'rights',
  'notes',
  'access',
  'images',
  'width',
  'height',
] as const;

export type FieldKey = (typeof FIELD_KEYS)[number];

/** Field → accepted header spellings (any width/spacing; see normalizeHeader). */
export type ColumnMapping = Readonly<Record<FieldKey, readonly string[]>>;

export const DEFAULT_COLUMNS: ColumnMapping = {
  id: ['資料番号', '資料ID', '資料ＩＤ', '整理番号', 'ID', 'Item ID', 'Identifier'],
  batch: ['回次', '納品回次', '納品回', 'バッチ', 'Batch', 'Round'],
  type: ['資料種別', '種別', '資料形態', 'Type'],
  'title.ja': ['題名', 'タイトル', '題名（和）', 'タイトル（和）', '題名（日）', 'Title (ja)', 'Title (Japanese)'],
  'title.en': ['題名（英）', 'タイトル（英）', '題名（英語）', 'タイトル（英語）', '英文題名', 'Title', 'Title (en)', 'Title (English)'],
  'creator.ja': ['撮影者', '作成者', '撮影者／作成者', '撮影者・作成者', 'Creator (ja)'],
  'creator.en': ['作成者（英）', '撮影者（英）', '作成者（英語）', '撮影者（英語）', 'Creator', 'Creator (en)', 'Photographer'],
  date: ['撮影年', '年代', '撮影年代', '撮影年月日', '作成年', 'Date'],
  'place.ja': ['撮影地', '撮影場所', '場所', 'Place (ja)'],
  'place.en': ['撮影地（英）', '撮影場所（英）', '撮影地（英語）', 'Place', 'Place (en)', 'Location'],
  'description.ja': ['解説', '内容', '説明', '解題', 'Description (ja)'],
  'description.en': ['解説（英）', '内容（英）', '説明（英）', '解説（英語）', 'Description', 'Description (en)'],
  subjects: ['キーワード', '件名', '主題', 'Keywords', 'Subjects'],
  'collection.ja': ['コレクション', 'コレクション名', '旧蔵', 'Collection (ja)'],
  'collection.en': ['コレクション（英）', 'コレクション名（英）', 'Collection', 'Collection (en)'],
  rights: ['権利', '権利情報', '利用条件', 'Rights'],
  notes: ['備考', '注記', 'Notes', 'Note'],
  access: ['公開区分', '公開範囲', '公開', 'Access'],
  images: ['画像ファイル', '画像ファイル名', 'ファイル名', '画像', 'Image files', 'Images', 'File'],
  width: ['幅', '幅（px）', '画像幅', 'Width'],
  height: ['高さ', '高さ（px）', '画像高さ', 'Height'],
};

/**
 * Values of the access column, compared after `normalizeValue()` (NFKC, lower case, no spaces).
 * Anything not listed is a row error: an unknown word must never silently become "open".
 */
export const ACCESS_WORDS: Readonly<Record<string, AccessLevel>> = {
  公開: 'open',
  一般公開: 'open',
  open: 'open',
  public: 'open',
  会員: 'members',
  会員限定: 'members',
  会員公開: 'members',
  members: 'members',
  member: 'members',
  職員: 'staff',
  職員限定: 'staff',
  職員のみ: 'staff',
  非公開: 'staff',
  staff: 'staff',
  internal: 'staff',
};

/** Separators between several subjects in one cell. */
export const SUBJECT_SEPARATORS = /[;；、,，]/;
/** Separators between several image file names (or widths/heights) in one cell. */
export const LIST_SEPARATORS = /[;；\r\n]+/;

const BRACKETS: Record<string, string> = { '[': '(', ']': ')', '【': '(', '】': ')', '〔': '(', '〕': ')', '［': '(', '］': ')' };

/**
 * Canonical form of a header for lookup: NFKC (full-width brackets and letters to ASCII, half-width
 * katakana to full-width), other bracket styles to round brackets, whitespace and a trailing
 * "*"/":" removed, lower case. "題名 （英）", "題名(英)" and "題名【英】" all become "題名(英)".
 */
export function normalizeHeader(header: string): string {
  return header
    .normalize('NFKC')
    .replace(/[[\]【】〔〕［］]/g, (c) => BRACKETS[c] ?? c)
    .replace(/[\s\u3000]+/g, '')
    .replace(/[*:：]+$/, '')
    .toLowerCase();
}

/** Canonical form of a short code-like value (access words, numbers): NFKC, no spaces, lower case. */
export function normalizeValue(value: string): string {
  return value.normalize('NFKC').replace(/[\s\u3000]+/g, '').toLowerCase();
}

/** Overlay `overrides` on `base`: a field given in `overrides` replaces that field's spellings. */
export function mergeColumns(base: ColumnMapping, overrides: Partial<Record<FieldKey, readonly string[]>>): ColumnMapping {
  return { ...base, ...overrides };
}

/**
 * Normalised header → field. Throws if one spelling is claimed by two fields (a mapping bug, not a
 * data problem), so a bad override fails loudly at start-up.
 */
export function headerLookup(mapping: ColumnMapping): Map<string, FieldKey> {
  const out = new Map<string, FieldKey>();
  for (const field of FIELD_KEYS) {
    for (const spelling of mapping[field] ?? []) {
      const key = normalizeHeader(spelling);
      const prev = out.get(key);
      if (prev && prev !== field) {
        throw new Error(`column mapping: header "${spelling}" is mapped to both ${prev} and ${field}`);
      }
      out.set(key, field);
    }
  }
  return out;
}

const DEFAULT_BATCH_RULES = compileRules();

/**
 * Canonical batch id by the default normalize rules (rules.ts), so a 回次 cell and a delivery folder
 * name agree: "1", "01", "第1回", "R1", "r01", "round-01", "R1_20240115" → "R01"; "３－２" → "R03-2".
 * Other safe values are kept as written; undefined when the value cannot be a batch id.
 */
export function canonicalBatch(raw: string): string | undefined {
  const v = raw.normalize('NFKC').replace(/\s+/g, '');
  const parsed = DEFAULT_BATCH_RULES.parseBatch(raw);
  if (parsed) return parsed.id;
  return BATCH_ID_RE.test(v) ? v : undefined;
}
