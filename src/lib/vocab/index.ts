/**
 * Bilingual controlled vocabularies: the values the bibliography writes in Japanese for type,
 * rights, subjects and access, with their English labels. Data, not code: the defaults below
 * cover the terms this archive ships with, and an archive adds or overrides terms with a JSON file
 * `vocabularies.json` in DATA_DIR (or the file named by VOCABULARIES), shaped like DEFAULTS:
 *
 *   { "type": { "写真": { "en": "Photograph" } }, "subjects": { "鉄道": { "en": "Railways" } } }
 *
 * A term missing from the vocabulary is shown as written, marked with the language it is in.
 */
import fs from 'node:fs';
import path from 'node:path';

export type VocabField = 'type' | 'rights' | 'subjects' | 'access';
export const VOCAB_FIELDS: readonly VocabField[] = ['type', 'rights', 'subjects', 'access'];

export interface Term {
  ja?: string;
  en?: string;
}
export type Vocabularies = Record<VocabField, Record<string, Term>>;

/** A value as shown: its text and the language it is written in (for `lang` attributes). */
export interface Shown {
  text: string;
  lang: 'ja' | 'en';
}

export const DEFAULTS: Vocabularies = {
  type: {
    写真: { en: 'Photograph' },
    アルバム: { en: 'Album' },
    ガラス乾板: { en: 'Glass plate negative' },
    パノラマ写真: { en: 'Panoramic photograph' },
    絵葉書: { en: 'Picture postcard' },
    鶏卵紙写真: { en: 'Albumen print' },
    地図: { en: 'Map' },
    文書: { en: 'Document' },
  },
  rights: {
    'パブリックドメイン（Public Domain Mark 1.0）': { en: 'Public domain (Public Domain Mark 1.0)' },
    著作権保護期間満了: { en: 'Copyright expired' },
    '著作権者不明（利用の際は所蔵館へ要連絡）': { en: 'Copyright holder unknown (contact the archive before use)' },
  },
  subjects: {
    商店街: { en: 'Shopping streets' },
    学校: { en: 'Schools' },
    寺社: { en: 'Temples and shrines' },
    建築: { en: 'Architecture' },
    放送: { en: 'Broadcasting' },
    港湾: { en: 'Ports and harbours' },
    漁業: { en: 'Fishing' },
    祭礼: { en: 'Festivals' },
    船舶: { en: 'Ships' },
    芸能: { en: 'Performing arts' },
    観光: { en: 'Tourism' },
    農村: { en: 'Rural life' },
    道路: { en: 'Roads' },
    都市景観: { en: 'Cityscapes' },
    鉄道: { en: 'Railways' },
    震災復興: { en: 'Earthquake reconstruction' },
    風俗: { en: 'Customs and manners' },
  },
  access: {
    open: { ja: '公開', en: 'Open' },
    members: { ja: '会員', en: 'Members' },
    staff: { ja: '職員', en: 'Staff' },
  },
};

const JAPANESE = /[\u3040-\u30ff\u3400-\u9fff\uff66-\uff9f]/;

/** The language a text is written in, as far as a `lang` attribute needs it. */
export function langOf(text: string): 'ja' | 'en' {
  return JAPANESE.test(text) ? 'ja' : 'en';
}

/** Defaults merged with an archive's overrides (term by term, language by language). */
export function mergeVocabularies(base: Vocabularies, extra: unknown): Vocabularies {
  const out = Object.fromEntries(VOCAB_FIELDS.map((f) => [f, { ...base[f] }])) as Vocabularies;
  if (!extra || typeof extra !== 'object') return out;
  for (const field of VOCAB_FIELDS) {
    const terms = (extra as Record<string, unknown>)[field];
    if (!terms || typeof terms !== 'object') continue;
    for (const [value, term] of Object.entries(terms as Record<string, unknown>)) {
      if (!term || typeof term !== 'object') continue;
      const t = term as Record<string, unknown>;
      const merged: Term = { ...out[field][value] };
      if (typeof t.ja === 'string' && t.ja.trim()) merged.ja = t.ja;
      if (typeof t.en === 'string' && t.en.trim()) merged.en = t.en;
      out[field][value] = merged;
    }
  }
  return out;
}

const cache = new Map<string, { mtimeMs: number; vocab: Vocabularies }>();

/**
 * The vocabularies for an archive: DEFAULTS plus `file` when it exists (re-read when it changes).
 * A file that cannot be parsed is reported on stderr once per change and ignored (the defaults
 * still apply): a typo in a label file must not take the site down.
 */
export function loadVocabularies(file: string | undefined): Vocabularies {
  if (!file) return DEFAULTS;
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    return DEFAULTS;
  }
  const hit = cache.get(file);
  if (hit && hit.mtimeMs === stat.mtimeMs) return hit.vocab;
  let vocab = DEFAULTS;
  try {
    vocab = mergeVocabularies(DEFAULTS, JSON.parse(fs.readFileSync(file, 'utf8')));
  } catch (err) {
    process.stderr.write(`${file}: vocabularies ignored: ${(err as Error).message}\n`);
  }
  cache.set(file, { mtimeMs: stat.mtimeMs, vocab });
  return vocab;
}

/** Where an archive keeps its vocabulary file. */
export function vocabularyFile(dataDir: string, env: Record<string, string | undefined> = process.env): string {
  const named = env.VOCABULARIES?.trim();
  return named ? path.resolve(dataDir, named) : path.join(dataDir, 'vocabularies.json');
}

/** One controlled value in the wanted language, falling back to the value as written. */
export function term(vocab: Vocabularies, field: VocabField, value: string, lang: 'ja' | 'en'): Shown {
  const entry = vocab[field][value];
  const text = entry?.[lang];
  if (text) return { text, lang };
  return { text: value, lang: langOf(value) };
}

/** Both labels of a controlled value (IIIF language-map style), the value itself as Japanese. */
export function termMap(vocab: Vocabularies, field: VocabField, value: string): { ja: string; en?: string } {
  const entry = vocab[field][value];
  return { ja: entry?.ja ?? value, ...(entry?.en ? { en: entry.en } : {}) };
}
