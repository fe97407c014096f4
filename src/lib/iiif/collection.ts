/**
 * Search result sets as IIIF Presentation 3.0 Collections. Pure: the caller runs the search (with
 * the same access rules as the search page) and hands over the hits.
 *
 * Small result sets list their manifests directly. Larger ones are split: the collection at the
 * search's URL lists one sub-collection per page (`&page=N`), each listing up to PAGE_SIZE
 * manifests and pointing back with `partOf`.
 */
import type { ItemRecord } from '../domain.ts';
import type { SearchRequest } from '../search/store.ts';
import { searchQueryString } from '../search/params.ts';
import { iiifText, imageServiceUrl, manifestUrl, PRESENTATION_CONTEXT, thumbnailUrl, type LanguageMap } from './manifest.ts';

export const COLLECTION_PAGE_SIZE = 100;

/**
 * Canonical collection URL of a search: `?q=…&batch=…&type=…&from=…&to=…&sort=…` in this order, empty
 * parameters left out, then `page=N` for one page of a paged collection (page 1 included: without
 * `page` the URL is the top collection). The route redirects every other spelling here, so the `id`
 * of a collection is always the URL that serves it.
 */
export function collectionUrl(base: string, req: SearchRequest, page?: number): string {
  const qs = searchQueryString({ q: req.q, filters: req.filters, ...(req.sort ? { sort: req.sort } : {}) }, { page: 1, pageSize: undefined });
  const paged = page !== undefined ? `${qs ? '&' : '?'}page=${page}` : '';
  return `${base}/api/iiif/collection${qs}${paged}`;
}

function searchLabel(req: SearchRequest, total: number): LanguageMap {
  const years = req.filters?.yearFrom !== undefined || req.filters?.yearTo !== undefined ? [`${req.filters.yearFrom ?? ''}–${req.filters.yearTo ?? ''}`] : [];
  const filters = [...(req.filters?.batch ?? []), ...(req.filters?.type ?? []), ...years].join(', ');
  const what = [req.q, filters].filter(Boolean).join(' · ');
  return {
    ja: [iiifText(what ? `検索結果: ${what}（${total}件）` : `すべての資料（${total}件）`)],
    en: [iiifText(what ? `Search results: ${what} (${total})` : `All items (${total})`)],
  };
}

function manifestRef(base: string, record: ItemRecord): Record<string, unknown> {
  const label: LanguageMap = {};
  if (record.title.ja) label.ja = [iiifText(record.title.ja)];
  if (record.title.en) label.en = [iiifText(record.title.en)];
  const ref: Record<string, unknown> = {
    id: manifestUrl(base, record.id),
    type: 'Manifest',
    label: Object.keys(label).length ? label : { none: [record.id] },
  };
  const first = record.images[0];
  if (first) {
    ref.thumbnail = [
      {
        id: thumbnailUrl(base, first.id, 200),
        type: 'Image',
        format: 'image/jpeg',
        service: [{ id: imageServiceUrl(base, first.id), type: 'ImageService3', profile: 'level2' }],
      },
    ];
  }
  return ref;
}

export interface CollectionInput {
  base: string;
  req: SearchRequest;
  total: number;
  /** The hits of the requested page (or of everything when not paged). */
  records: ItemRecord[];
  /** Page number when serving one page of a paged collection; undefined for the top level. */
  page?: number;
}

/** True when the result set is too large for one collection document. */
export function isPaged(total: number): boolean {
  return total > COLLECTION_PAGE_SIZE;
}

export function buildCollection({ base, req, total, records, page }: CollectionInput): Record<string, unknown> {
  const top = collectionUrl(base, req);
  const doc: Record<string, unknown> = {
    '@context': PRESENTATION_CONTEXT,
    id: page !== undefined ? collectionUrl(base, req, page) : top,
    type: 'Collection',
    label: searchLabel(req, total),
  };
  if (page !== undefined) {
    const pages = Math.max(1, Math.ceil(total / COLLECTION_PAGE_SIZE));
    doc.label = {
      ja: [`${(searchLabel(req, total).ja ?? [''])[0]} ${page}/${pages}`],
      en: [`${(searchLabel(req, total).en ?? [''])[0]} ${page}/${pages}`],
    };
    doc.partOf = [{ id: top, type: 'Collection' }];
    doc.items = records.map((r) => manifestRef(base, r));
  } else if (isPaged(total)) {
    const pages = Math.ceil(total / COLLECTION_PAGE_SIZE);
    doc.items = Array.from({ length: pages }, (_, i) => {
      const from = i * COLLECTION_PAGE_SIZE + 1;
      const to = Math.min(total, (i + 1) * COLLECTION_PAGE_SIZE);
      return { id: collectionUrl(base, req, i + 1), type: 'Collection', label: { none: [`${from}–${to}`] } };
    });
  } else {
    doc.items = records.map((r) => manifestRef(base, r));
  }
  doc.homepage = [
    { id: `${base}/${searchQueryString({ q: req.q, filters: req.filters })}`, type: 'Text', label: searchLabel(req, total), format: 'text/html' },
  ];
  return doc;
}
