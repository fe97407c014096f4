/**
 * Dates on the Elasticsearch backend (issue 15.4), the embedded store's rules restated: the pieces
 * of the mapping, the document, the query, the aggregation and the sort that carry year ranges.
 * Pure, written with the client's own types (estypes); es-settings.ts, es-docs.ts and es-query.ts
 * each take one piece from here.
 *
 *   year_from, year_to   integer   the record's year range, parsed from its date text at index time
 *                                  (src/lib/dates/range.ts); absent when it has none
 *   decades              integer   every decade the range touches (1918–1931: 1910, 1920, 1930): a
 *                                  terms aggregation on it is the decade facet, a record counting
 *                                  once per decade, exactly as the embedded store counts
 *   date_unparsed        boolean   the date text is there but gives no range (`archive status`)
 *
 * Year filter: the range overlaps [from, to] (`year_to >= from` and `year_from <= to`; a document
 * without a range has neither field and matches neither). Sorts: oldest = year_from, year_to asc;
 * newest = year_to, year_from desc; missing values last, then id: a total order, as in SQLite.
 */
import type { estypes } from '@elastic/elasticsearch';
import { decadesOf, parseDateRange } from '../dates/range.ts';
import { yearFilterOf, type FacetBucket, type ItemInput, type SearchRequest, type SortOrder } from './store.ts';

/** Decades between 1000 and 2099: every bucket fits. */
const DECADE_AGG_SIZE = 128;

export const DATE_PROPERTIES: Record<'year_from' | 'year_to' | 'decades' | 'date_unparsed', estypes.MappingProperty> = {
  year_from: { type: 'integer' },
  year_to: { type: 'integer' },
  decades: { type: 'integer' },
  date_unparsed: { type: 'boolean' },
};

/** The date fields of a document. */
export interface DateFields {
  year_from?: number;
  year_to?: number;
  decades: number[];
  date_unparsed: boolean;
}

/** A record's date fields, from its date text (the same parser the embedded store runs). */
export function dateFields(item: Pick<ItemInput, 'date'>): DateFields {
  const range = parseDateRange(item.date);
  const text = item.date as unknown;
  const hasText = text !== undefined && text !== null && String(text).trim() !== '';
  return range
    ? { year_from: range.from, year_to: range.to, decades: decadesOf(range), date_unparsed: false }
    : { decades: [], date_unparsed: hasText };
}

/**
 * The year filter of a request as query clauses (none without one; match_none when inverted).
 * Checked against estypes with `satisfies`, so the callers' plain-object clause lists take them as they are.
 */
export function yearClauses(req: SearchRequest | undefined) {
  const years = yearFilterOf(req?.filters);
  if (!years) return [];
  if (years.from > years.to) return [{ match_none: {} }] satisfies estypes.QueryDslQueryContainer[];
  return [{ range: { year_to: { gte: years.from } } }, { range: { year_from: { lte: years.to } } }] satisfies estypes.QueryDslQueryContainer[];
}

/** The decade facet's aggregation. */
export function decadeAgg(): estypes.AggregationsAggregationContainer {
  return { terms: { field: 'decades', size: DECADE_AGG_SIZE, order: { _key: 'asc' } } };
}

/** The decade facet from the aggregation's buckets. */
export function parseDecades(agg: estypes.AggregationsLongTermsAggregate | undefined): FacetBucket[] {
  // `buckets` is an array unless the request asked for keyed buckets (decadeAgg never does).
  const buckets = agg?.buckets;
  return (Array.isArray(buckets) ? buckets : Object.values(buckets ?? {})).map((b) => ({ value: String(b.key), count: b.doc_count }));
}

/** The sort of a date order, or null for the other orders. */
export function dateSort(sort: SortOrder | undefined): estypes.SortCombinations[] | null {
  if (sort === 'oldest') {
    return [
      { year_from: { order: 'asc', missing: '_last' } },
      { year_to: { order: 'asc', missing: '_last' } },
      { id: { order: 'asc' } },
    ] satisfies estypes.SortCombinations[];
  }
  if (sort === 'newest') {
    return [
      { year_to: { order: 'desc', missing: '_last' } },
      { year_from: { order: 'desc', missing: '_last' } },
      { id: { order: 'asc' } },
    ] satisfies estypes.SortCombinations[];
  }
  return null;
}

/** The query of listUnparsedDates. */
export const UNPARSED_QUERY: estypes.QueryDslQueryContainer = { bool: { filter: [{ term: { date_unparsed: true } }] } };
