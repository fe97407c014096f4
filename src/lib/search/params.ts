/**
 * Search request <-> URL query string. Pure; shared by the search page, the JSON API and (later)
 * IIIF Collections, so that one URL always means one search.
 */
import { ITEM_ID_RE } from '../domain.ts';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, MAX_QUERY_LENGTH, type SearchRequest } from './store.ts';
import { parseDateRange } from '../dates/range.ts';

/** Longest year input read (`from`, `to`): "明治四十五年頃" and the like fit easily. */
const MAX_YEAR_INPUT = 40;

/**
 * The year bounds of a URL (`from`, `to`: 西暦 or 和暦, see yearBound). When `from` names a span
 * that starts after `to`'s ("昭和 → 大正"), the reader meant the years between them: swapped.
 */
function yearParams(params: URLSearchParams): { yearFrom?: number; yearTo?: number } {
  const read = (name: 'from' | 'to') => {
    const raw = params.get(name)?.trim();
    return raw && raw.length <= MAX_YEAR_INPUT ? (parseDateRange(raw) ?? undefined) : undefined;
  };
  let from = read('from');
  let to = read('to');
  if (from && to && from.from > to.from) [from, to] = [to, from];
  return { ...(from && { yearFrom: from.from }), ...(to && { yearTo: to.to }) };
}

/** The year inputs of a URL that name no year (shown to the reader; the API answers 400). */
export function unreadableYears(params: URLSearchParams): string[] {
  return (['from', 'to'] as const)
    .map((name) => params.get(name)?.trim() ?? '')
    .filter((raw) => raw !== '' && (raw.length > MAX_YEAR_INPUT || parseDateRange(raw) === null));
}

const FACET_VALUE_RE = /^[\p{L}\p{N}._ -]{1,64}$/u;

/** A whole number in [1, max] from digits of any length (10^20 → max); 0 or anything else: fallback. */
function positiveInt(raw: string | null, fallback: number, max: number): number {
  const t = raw?.trim();
  if (!t || !/^\+?\d+$/.test(t)) return fallback;
  const digits = t.replace(/^\+?0*/, '');
  if (digits.length > 15) return max;
  const n = Number(digits || '0');
  return n < 1 ? fallback : Math.min(n, max);
}

/** The query of a request when it is longer than the store searches (see MAX_QUERY_LENGTH). */
export function queryTooLong(req: SearchRequest): { length: number; max: number } | undefined {
  const length = [...(req.q ?? '').normalize('NFC')].length;
  return length > MAX_QUERY_LENGTH ? { length, max: MAX_QUERY_LENGTH } : undefined;
}

function facetValues(params: URLSearchParams, name: string): string[] | undefined {
  const values = params
    .getAll(name)
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter((v) => FACET_VALUE_RE.test(v));
  return values.length ? [...new Set(values)].slice(0, 20) : undefined;
}

export function parseSearchParams(params: URLSearchParams): SearchRequest {
  // Never cut: an over-long query is refused with a message (queryTooLong), not searched in part.
  const q = (params.get('q') ?? '').normalize('NFC').trim();
  const req: SearchRequest = {
    q: q || undefined,
    page: positiveInt(params.get('page'), 1, 100_000),
    pageSize: positiveInt(params.get('size'), DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE),
  };
  const batch = facetValues(params, 'batch');
  const type = facetValues(params, 'type');
  const years = yearParams(params);
  if (batch || type || years.yearFrom !== undefined || years.yearTo !== undefined) {
    req.filters = { ...(batch && { batch }), ...(type && { type }), ...years };
  }
  const sort = params.get('sort');
  if (sort === 'id' || sort === 'relevance' || sort === 'oldest' || sort === 'newest') req.sort = sort;
  return req;
}

/** The canonical query string of a search (stable parameter order, defaults left out). */
export function searchQueryString(req: SearchRequest, overrides: Partial<SearchRequest> = {}): string {
  const r = { ...req, ...overrides };
  const p = new URLSearchParams();
  if (r.q) p.set('q', r.q);
  for (const b of r.filters?.batch ?? []) p.append('batch', b);
  for (const t of r.filters?.type ?? []) p.append('type', t);
  if (r.filters?.yearFrom !== undefined) p.set('from', String(r.filters.yearFrom));
  if (r.filters?.yearTo !== undefined) p.set('to', String(r.filters.yearTo));
  if (r.sort) p.set('sort', r.sort);
  if (r.pageSize && r.pageSize !== DEFAULT_PAGE_SIZE) p.set('size', String(r.pageSize));
  if (r.page && r.page > 1) p.set('page', String(r.page));
  const s = p.toString();
  return s ? `?${s}` : '';
}

/** Toggles one facet value in a request (for facet links); resets paging. */
export function toggleFacet(req: SearchRequest, facet: 'batch' | 'type', value: string): SearchRequest {
  const current = req.filters?.[facet] ?? [];
  const next = current.includes(value) ? current.filter((v) => v !== value) : [...current, value];
  const filters = { ...req.filters, [facet]: next.length ? next : undefined };
  return { ...req, filters, page: 1 };
}

/** Item ids in a /view URL (comma-separated or repeated), de-duplicated, at most `max`. */
export function parseItemList(params: URLSearchParams, max = 12): string[] {
  const ids = params
    .getAll('items')
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter((v) => ITEM_ID_RE.test(v));
  return [...new Set(ids)].slice(0, max);
}
