/**
 * Citation exports of the running archive: one record or a whole result set, in the caller's
 * access scope (the routes use `runtime.store()`, so a restricted item is missing, exactly as in
 * search). Thin glue between the store and export.ts.
 */
import { config } from '../config.ts';
import { t, type Lang } from '../i18n/strings.ts';
import { itemUrl } from '../iiif/manifest.ts';
import { siteVocabularies } from '../vocab/site.ts';
import { MAX_PAGE_SIZE, type ItemRecord, type SearchRequest, type SearchStore } from '../search/store.ts';
import type { ExportContext } from './export.ts';

/** Most records one result-set export carries (the first ones in the search's order). */
export const MAX_EXPORT = 1000;

export function exportContext(lang: Lang, accessed: Date = new Date()): ExportContext {
  const base = config().publicBaseUrl;
  return {
    url: (r) => itemUrl(base, r.id),
    accessed,
    archive: { ja: t('ja', 'siteTitle'), en: t('en', 'siteTitle') },
    lang,
    vocab: siteVocabularies(),
  };
}

/** The records of a search, page by page in its own order, at most MAX_EXPORT. */
export async function searchRecords(store: SearchStore, req: SearchRequest): Promise<{ records: ItemRecord[]; total: number }> {
  const records: ItemRecord[] = [];
  let total = 0;
  for (let page = 1; records.length < MAX_EXPORT; page++) {
    const res = await store.search({ ...req, page, pageSize: MAX_PAGE_SIZE });
    total = res.total;
    records.push(...res.hits.map((h) => h.record));
    if (res.hits.length < MAX_PAGE_SIZE || records.length >= res.total) break;
  }
  return { records: records.slice(0, MAX_EXPORT), total };
}
