/**
 * Ready-to-paste citations of an item: a Chicago-style note (English) and the common Japanese
 * form (SIST 02 style). Pure; dates are formatted for the citation's own language.
 */
import type { ItemRecord } from '../domain.ts';

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
}

function accessDate(d: Date, lang: 'en' | 'ja'): string {
  return new Intl.DateTimeFormat(lang === 'ja' ? 'ja-JP' : 'en-GB', { year: 'numeric', month: 'long', day: 'numeric', timeZone: 'UTC' }).format(d);
}

/** Ends a part with a full stop; inside closing quotes, as Chicago style puts it. */
const sentence = (s: string) => {
  if (/[.!?。」』）)]$/.test(s)) return s;
  return s.endsWith('”') ? (/[.!?]”$/.test(s) ? s : `${s.slice(0, -1)}.”`) : `${s}.`;
};

export function citations(record: ItemRecord, ctx: CitationContext): Citation[] {
  const enTitle = record.title.en || record.title.ja || record.id;
  const jaTitle = record.title.ja || record.title.en || record.id;
  const enParts = [
    record.creator?.en || record.creator?.ja,
    `“${enTitle}”`,
    record.date,
    [record.collection?.en || record.collection?.ja, ctx.archive.en].filter(Boolean).join(', '),
    `${record.id}`,
  ].filter((p): p is string => !!p);
  const chicago = `${enParts.map(sentence).join(' ')} ${ctx.permalink} (accessed ${accessDate(ctx.accessed, 'en')}).`;

  const jaHead = [record.creator?.ja || record.creator?.en, `「${jaTitle}」`].filter(Boolean).join('');
  const jaParts = [jaHead, record.date, record.collection?.ja || record.collection?.en, ctx.archive.ja, record.id].filter((p): p is string => !!p);
  const japanese = `${jaParts.join('、')}。${ctx.permalink}（${accessDate(ctx.accessed, 'ja')}閲覧）`;

  return [
    { style: 'Chicago', lang: 'en', text: chicago },
    { style: 'SIST 02', lang: 'ja', text: japanese },
  ];
}
