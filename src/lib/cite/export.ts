/**
 * Citation exports that reference managers import: CSL-JSON (Zotero, Mendeley, pandoc), RIS
 * (EndNote, Zotero, Papers) and BibTeX (biblatex-friendly `@misc` with `url`/`urldate`), for one
 * record or a list of them, and the Highwire Press `citation_*` meta tags the Zotero browser
 * connector reads from an item page. Every form carries the persistent URL and the access date.
 * Pure: the routes in src/pages/api/cite/ and the item page call these.
 */
import type { ItemRecord } from '../search/store.ts';
import { westernDate } from '../i18n/dates.ts';
import { DEFAULTS, term, type Vocabularies } from '../vocab/index.ts';

export type CiteFormat = 'ris' | 'bib' | 'json';

export const CITE_FORMATS: Record<CiteFormat, { type: string; label: string }> = {
  ris: { type: 'application/x-research-info-systems; charset=utf-8', label: 'RIS' },
  bib: { type: 'application/x-bibtex; charset=utf-8', label: 'BibTeX' },
  json: { type: 'application/vnd.citationstyles.csl+json; charset=utf-8', label: 'CSL-JSON' },
};

export interface ExportContext {
  /** The persistent URL of a record. */
  url: (record: ItemRecord) => string;
  accessed: Date;
  archive: { ja: string; en: string };
  /** Which title leads (the other language goes into the note). */
  lang: 'ja' | 'en';
  vocab?: Vocabularies;
}

/** One CSL-JSON item (CSL 1.0.2 schema). */
export interface CslItem {
  id: string;
  type: string;
  title: string;
  author?: Array<{ literal: string }>;
  issued?: { 'date-parts'?: number[][]; circa?: boolean; literal?: string };
  accessed: { 'date-parts': number[][] };
  URL: string;
  archive: string;
  'archive_location': string;
  'collection-title'?: string;
  medium?: string;
  genre?: string;
  language: string;
  note?: string;
  [key: string]: unknown;
}

const dateParts = (d: Date) => [[d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate()]];

function titles(record: ItemRecord, lang: 'ja' | 'en'): { main: string; other?: string } {
  const main = (lang === 'en' ? record.title.en || record.title.ja : record.title.ja || record.title.en) || record.id;
  const other = lang === 'en' ? record.title.ja : record.title.en;
  return { main, other: other && other !== main ? other : undefined };
}

/** The record as a CSL-JSON item. */
export function cslItem(record: ItemRecord, ctx: ExportContext): CslItem {
  const vocab = ctx.vocab ?? DEFAULTS;
  const { main, other } = titles(record, ctx.lang);
  const creator = ctx.lang === 'en' ? record.creator?.en || record.creator?.ja : record.creator?.ja || record.creator?.en;
  const year = westernDate(record.date);
  const type = record.type ? term(vocab, 'type', record.type, ctx.lang).text : undefined;
  const collection = ctx.lang === 'en' ? record.collection?.en || record.collection?.ja : record.collection?.ja || record.collection?.en;
  const item: CslItem = {
    id: record.id,
    type: 'graphic',
    title: main,
    accessed: { 'date-parts': dateParts(ctx.accessed) },
    URL: ctx.url(record),
    archive: ctx.archive[ctx.lang],
    archive_location: record.id,
    language: 'ja',
  };
  if (creator) item.author = [{ literal: creator }];
  if (year.year !== undefined) {
    item.issued = { 'date-parts': [[year.year]], ...(year.circa || year.decade ? { circa: true } : {}) };
  } else if (record.date) {
    item.issued = { literal: record.date };
  }
  if (collection) item['collection-title'] = collection;
  if (type) {
    item.medium = type;
    item.genre = type;
  }
  const note = [other, record.date && year.year !== undefined && record.date !== String(year.year) ? record.date : undefined].filter(Boolean).join('; ');
  if (note) item.note = note;
  return item;
}

export function toCslJson(records: ItemRecord[], ctx: ExportContext): string {
  return JSON.stringify(records.map((r) => cslItem(r, ctx)), null, 2) + '\n';
}

/** RIS tag line; values are one line (newlines become spaces). */
const ris = (tag: string, value: string) => `${tag}  - ${value.replace(/[\r\n]+/g, ' ').trim()}`;

export function toRis(records: ItemRecord[], ctx: ExportContext): string {
  const out: string[] = [];
  for (const record of records) {
    const c = cslItem(record, ctx);
    const lines = [ris('TY', 'ART'), ris('TI', c.title)];
    for (const a of c.author ?? []) lines.push(ris('AU', a.literal));
    const y = c.issued?.['date-parts']?.[0]?.[0];
    if (y !== undefined) lines.push(ris('PY', String(y)), ris('DA', `${y}///${c.issued?.circa ? 'circa' : ''}`));
    else if (c.issued?.literal) lines.push(ris('DA', c.issued.literal));
    if (c['collection-title']) lines.push(ris('T2', c['collection-title']));
    if (c.medium) lines.push(ris('M3', c.medium));
    lines.push(ris('PB', c.archive), ris('AN', record.id), ris('LA', c.language), ris('UR', c.URL));
    const [ay, am, ad] = c.accessed['date-parts'][0]!;
    lines.push(ris('Y2', `${ay}/${String(am).padStart(2, '0')}/${String(ad).padStart(2, '0')}`));
    if (c.note) lines.push(ris('N1', c.note));
    lines.push('ER  - ');
    out.push(lines.join('\r\n'));
  }
  return out.join('\r\n\r\n') + '\r\n';
}

/** BibTeX-safe text: braces balanced, special characters escaped. */
export function bibEscape(s: string): string {
  const map: Record<string, string> = { '\\': '\\textbackslash{}', '^': '\\textasciicircum{}', '~': '\\textasciitilde{}' };
  return s.replace(/[\r\n]+/g, ' ').replace(/[\\{}%&$#_^~]/g, (c) => map[c] ?? `\\${c}`);
}

/** A citation key from an id: letters, digits, `-`, `_`, `:`, `.` (what BibTeX keys allow safely). */
export function bibKey(id: string): string {
  return id.replace(/[^A-Za-z0-9_:.-]/g, '_') || 'item';
}

export function toBibtex(records: ItemRecord[], ctx: ExportContext): string {
  return records
    .map((record) => {
      const c = cslItem(record, ctx);
      const fields: Array<[string, string]> = [['title', `{${bibEscape(c.title)}}`]];
      // Double braces: a literal (corporate or single-string) name, not split into first/last.
      if (c.author) fields.push(['author', c.author.map((a) => `{${bibEscape(a.literal)}}`).join(' and ')]);
      const y = c.issued?.['date-parts']?.[0]?.[0];
      if (y !== undefined) fields.push(['year', String(y)]);
      if (c.medium) fields.push(['howpublished', bibEscape(c.medium)]);
      if (c['collection-title']) fields.push(['series', bibEscape(c['collection-title'])]);
      fields.push(['organization', bibEscape(c.archive)], ['number', bibEscape(record.id)], ['url', c.URL]);
      const [ay, am, ad] = c.accessed['date-parts'][0]!;
      fields.push(['urldate', `${ay}-${String(am).padStart(2, '0')}-${String(ad).padStart(2, '0')}`], ['language', 'japanese']);
      if (c.note) fields.push(['note', bibEscape(c.note)]);
      const body = fields.map(([k, v]) => `  ${k} = {${v}}`).join(',\n');
      return `@misc{${bibKey(record.id)},\n${body}\n}\n`;
    })
    .join('\n');
}

export function exportRecords(format: CiteFormat, records: ItemRecord[], ctx: ExportContext): string {
  return format === 'ris' ? toRis(records, ctx) : format === 'bib' ? toBibtex(records, ctx) : toCslJson(records, ctx);
}

/**
 * Highwire Press meta tags for an item page (what Zotero and Google Scholar read): name/content
 * pairs, in order. Each title language gets its own citation_title only once: the page's language.
 */
export function highwireTags(record: ItemRecord, ctx: ExportContext): Array<{ name: string; content: string; lang?: string }> {
  const c = cslItem(record, ctx);
  const tags: Array<{ name: string; content: string; lang?: string }> = [{ name: 'citation_title', content: c.title }];
  for (const a of c.author ?? []) tags.push({ name: 'citation_author', content: a.literal });
  const y = c.issued?.['date-parts']?.[0]?.[0];
  if (y !== undefined) tags.push({ name: 'citation_date', content: String(y) }, { name: 'citation_publication_date', content: String(y) });
  tags.push(
    { name: 'citation_publisher', content: c.archive },
    { name: 'citation_archive', content: c.archive },
    { name: 'citation_public_url', content: c.URL },
    { name: 'citation_abstract_html_url', content: c.URL },
    { name: 'citation_language', content: c.language },
    { name: 'citation_technical_report_number', content: record.id },
  );
  if (c['collection-title']) tags.push({ name: 'citation_series_title', content: c['collection-title'] });
  const [ay, am, ad] = c.accessed['date-parts'][0]!;
  tags.push({ name: 'citation_access_date', content: `${ay}/${String(am).padStart(2, '0')}/${String(ad).padStart(2, '0')}` });
  return tags;
}
