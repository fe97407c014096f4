/**
 * Ready-to-paste citations of an item, or of one image (page) of it:
 *
 *   Chicago (English), bibliography form for an item in an online archival collection:
 *     Creator. “Title.” Type, 1914. Collection, R01-0007. Archive. URL. Accessed November 21, 2026.
 *   SIST 02 (Japanese), the form SIST 02 gives for a resource on a web site:
 *     著者名. "題名". サイト名. 1914, 種別. コレクション, 資料番号. 入手先, (参照 2026-11-21).
 *
 * Years are Western in both (SIST 02 asks for the Western calendar too; era dates are converted,
 * see i18n/dates.ts), half-width punctuation only, and every part ends with its full stop. A page
 * citation adds "Image 2 of 5" / "画像 2/5" and cites the page's own URL. Pure.
 */
import type { ItemRecord } from '../domain.ts';
import { westernDate } from '../i18n/dates.ts';
import { DEFAULTS, term, type Vocabularies } from '../vocab/index.ts';

export interface Citation {
  style: string;
  lang: 'en' | 'ja';
  text: string;
}

export interface CitationContext {
  permalink: string;
  accessed: Date;
  /** The archive's name in each language (the "repository" of the citation). */
  archive: { ja: string; en: string };
  /** Cite one image of the item (0-based index into record.images) instead of the whole item. */
  page?: number;
  /** The vocabularies for the item type's English label (defaults when absent). */
  vocab?: Vocabularies;
}

/**
 * The URL of one image (page) of an item: the item's URL with `?canvas=<image id>`, which the item
 * page opens at that image (src/lib/iiif/view-link.ts). Out-of-range indices give the item's own URL.
 */
export function pageUrl(permalink: string, record: Pick<ItemRecord, 'images'>, page: number | undefined): string {
  if (page === undefined || !Number.isInteger(page) || page < 0 || page >= record.images.length || record.images.length < 2) return permalink;
  return `${permalink}${permalink.includes('?') ? '&' : '?'}canvas=${encodeURIComponent(record.images[page]!.id)}`;
}

/** The page index a citation is about, or undefined for the whole item. */
function pageOf(record: ItemRecord, page: number | undefined): number | undefined {
  return page !== undefined && Number.isInteger(page) && page >= 0 && page < record.images.length && record.images.length > 1 ? page : undefined;
}

const ymd = (d: Date) => d.toISOString().slice(0, 10);

/** "November 21, 2026" (Chicago's month-day-year form), in UTC. */
function chicagoDate(d: Date): string {
  return new Intl.DateTimeFormat('en-US', { year: 'numeric', month: 'long', day: 'numeric', timeZone: 'UTC' }).format(d);
}

/** The item's year for an English citation: "1914", "ca. 1897", "1890s"; undefined without one. */
export function citationYear(date: string | undefined, lang: 'en' | 'ja'): string | undefined {
  const d = westernDate(date);
  if (d.year === undefined) return date?.trim() || undefined;
  if (d.decade) return lang === 'en' ? `${d.year}s` : `${d.year}年代`;
  if (d.circa) return lang === 'en' ? `ca. ${d.year}` : `${d.year}頃`;
  return String(d.year);
}

/** Ends a part with a full stop, inside closing quotes as Chicago puts it; never doubles one. */
function sentence(s: string): string {
  const t = s.trim();
  if (/[.!?]”?$/.test(t)) return t;
  return t.endsWith('”') ? `${t.slice(0, -1)}.”` : `${t}.`;
}

/** SIST 02 parts end with ". " (a half-width full stop), never doubled. */
function sistPart(s: string): string {
  const t = s.trim();
  return /[.!?]$/.test(t) ? t : `${t}.`;
}

export function citations(record: ItemRecord, ctx: CitationContext): Citation[] {
  const vocab = ctx.vocab ?? DEFAULTS;
  const page = pageOf(record, ctx.page);
  const url = pageUrl(ctx.permalink, record, page);
  const count = record.images.length;

  const enTitle = record.title.en || record.title.ja || record.id;
  const enType = record.type ? term(vocab, 'type', record.type, 'en') : undefined;
  const enYear = citationYear(record.date, 'en');
  const enCollection = record.collection?.en || record.collection?.ja;
  const enParts = [
    record.creator?.en || record.creator?.ja,
    `“${enTitle}”`,
    page !== undefined ? `Image ${page + 1} of ${count}` : undefined,
    [enType?.lang === 'en' ? enType.text : undefined, enYear].filter(Boolean).join(', ') || undefined,
    [enCollection, record.id].filter(Boolean).join(', '),
    ctx.archive.en,
    url,
    `Accessed ${chicagoDate(ctx.accessed)}`,
  ].filter((p): p is string => !!p);
  const chicago = enParts.map(sentence).join(' ');

  const jaTitle = record.title.ja || record.title.en || record.id;
  const jaParts = [
    record.creator?.ja || record.creator?.en,
    `"${jaTitle}"`,
    ctx.archive.ja,
    [citationYear(record.date, 'ja'), record.type].filter(Boolean).join(', ') || undefined,
    [record.collection?.ja || record.collection?.en, record.id, page !== undefined ? `画像 ${page + 1}/${count}` : undefined].filter(Boolean).join(', '),
  ].filter((p): p is string => !!p);
  const sist = `${jaParts.map(sistPart).join(' ')} ${url}, (参照 ${ymd(ctx.accessed)}).`;

  return [
    { style: 'Chicago', lang: 'en', text: chicago },
    { style: 'SIST 02', lang: 'ja', text: sist },
  ];
}
