/**
 * Search request -> Elasticsearch query body, and search response -> the port's SearchResponse.
 * Pure: elasticsearch.ts sends what these build.
 *
 * Matching: parseQuery() (text.ts) gives each term as its bigram phrase. A term becomes one
 * `bool.should` with, per weighted field, a `constant_score` around a `match_phrase` of the term's
 * bigrams joined by spaces (re-analysed by archive_bigram, each space-separated bigram is exactly
 * one token at consecutive positions, so the phrase is exactly the embedded store's FTS5 phrase),
 * with boost = the field's weight. All terms are `bool.must`. A hit's _score is then exactly the
 * integer sum, over terms, of the weights of the fields the term occurs in: constant_score scores
 * its boost, bool sums its matching clauses, and such sums are exact in a float. Sorting is
 * [_score desc, id asc] (relevance) or [id asc] (sort=id, browsing), a total order (ids are
 * unique), so pages are stable and search_after can walk past index.max_result_window.
 */
import type { estypes } from '@elastic/elasticsearch';
import {
  FIELD_WEIGHTS,
  UNIGRAM_WEIGHTS,
  WHOLE_WORD_BONUS,
  filterList,
  startSearch,
  type FacetBucket,
  type SearchHit,
  type SearchRequest,
  type SearchResponse,
} from './store.ts';
import { FACET_SIZE, SEARCH_FIELDS } from './es-settings.ts';
import { toRecord, type StoredDoc } from './es-docs.ts';
import { isUnigramTerm, latinWordOf } from './text.ts';

/** The _source fields a hit needs (not the search text, not the upload bookkeeping). */
export const HIT_SOURCE = ['record', 'indexed_at', 'updated_at', 's3_uploaded'];

/** The _source of a hit (HIT_SOURCE's fields). */
export type HitSource = Pick<StoredDoc, 'record' | 'indexed_at' | 'updated_at' | 's3_uploaded'>;

export interface PlannedSearch {
  /** The response so far (paging, tooShort, unsearchable); total/hits/facets come from ES. */
  base: SearchResponse;
  /** Nothing to ask Elasticsearch (a query with nothing searchable). */
  skip: boolean;
  query: estypes.QueryDslQueryContainer;
  sort: estypes.SortCombinations[];
  /** Sorting by relevance (scores kept) or by id (scores reported as 0). */
  byScore: boolean;
  from: number;
  size: number;
}



/**
 * One term: its bigram phrase in any weighted field, scoring the field's weight; a term of one Han
 * character: that character in any field's unigram sub-field, scoring UNIGRAM_WEIGHTS.
 */
export function termClause(grams: readonly string[]): estypes.QueryDslQueryContainer {
  if (isUnigramTerm(grams)) {
    return {
      bool: {
        should: SEARCH_FIELDS.map((field) => ({
          constant_score: { filter: { term: { [`search.${field}.uni`]: grams[0] } }, boost: UNIGRAM_WEIGHTS[field] },
        })),
        minimum_should_match: 1,
      },
    };
  }
  const phrase = grams.join(' ');
  return {
    bool: {
      should: SEARCH_FIELDS.map((field) => ({
        constant_score: {
          filter: { match_phrase: { [`search.${field}`]: { query: phrase } } },
          boost: FIELD_WEIGHTS[field],
        },
      })),
      minimum_should_match: 1,
    },
  };
}

/** The whole-word bonus of one Latin word: WHOLE_WORD_BONUS once when any field has it as a word. */
export function wholeWordClause(word: string): estypes.QueryDslQueryContainer {
  return {
    constant_score: {
      filter: { bool: { should: SEARCH_FIELDS.map((field) => ({ term: { [`search.${field}.word`]: word } })), minimum_should_match: 1 } },
      boost: WHOLE_WORD_BONUS,
    },
  };
}

export function filterClauses(req: SearchRequest): estypes.QueryDslQueryContainer[] {
  const f = req?.filters ?? {};
  const out: estypes.QueryDslQueryContainer[] = [];
  const batch = filterList(f.batch);
  const type = filterList(f.type);
  if (batch) out.push({ terms: { batch } });
  if (type) out.push({ terms: { type } });
  if (typeof f.s3_uploaded === 'boolean') out.push({ term: { s3_uploaded: f.s3_uploaded } });
  // Access levels (the access gate narrows searches with them): a list, even an empty one, lets
  // only those levels through (an empty or unknown list matches nothing, as in the embedded store).
  if (Array.isArray(f.access)) out.push({ terms: { access: f.access.filter((x) => typeof x === 'string') } });
  return out;
}

export function facetAggs(): Record<FacetName, estypes.AggregationsAggregationContainer> {
  const terms = (field: string): estypes.AggregationsAggregationContainer => ({
    terms: { field, size: FACET_SIZE, order: [{ _count: 'desc' }, { _key: 'asc' }] },
  });
  return { batch: terms('batch'), type: terms('type') };
}

/** Plans a search: paging as the embedded store clamps it, the query, the sort. */
export function planSearch(req: SearchRequest = {}): PlannedSearch {
  const { raw, parsed, empty: base } = startSearch(req);
  const { page, pageSize } = base;
  const filter = filterClauses(req);
  const hasTerms = parsed.terms.length > 0;
  const byScore = hasTerms && req?.sort !== 'id';
  const words = [...new Set(parsed.display.map(latinWordOf).filter((w): w is string => !!w))];
  const query: estypes.QueryDslQueryContainer = hasTerms
    ? {
        bool: {
          must: parsed.terms.map(termClause),
          ...(words.length ? { should: words.map(wholeWordClause) } : {}),
          ...(filter.length ? { filter } : {}),
        },
      }
    : filter.length
      ? { bool: { filter } }
      : { match_all: {} };
  return {
    base: hasTerms || raw.trim() === '' ? base : { ...base, unsearchable: true },
    skip: !hasTerms && raw.trim() !== '',
    query,
    sort: byScore ? [{ _score: { order: 'desc' } }, { id: { order: 'asc' } }] : [{ id: { order: 'asc' } }],
    byScore,
    from: (page - 1) * pageSize,
    size: pageSize,
  };
}

/** The body of a one-request search (from + size within max_result_window). */
export function searchBody(plan: PlannedSearch): estypes.SearchRequest {
  return {
    query: plan.query,
    sort: plan.sort,
    from: plan.from,
    size: plan.size,
    track_total_hits: true,
    _source: HIT_SOURCE,
    aggs: facetAggs(),
  };
}

/** The facet aggregations every search asks for (facetAggs). */
export type FacetName = 'batch' | 'type';

/** The aggregations of a search answer: a `terms` aggregation per facet (keyword fields). */
export type FacetAggregates = Partial<Record<FacetName, estypes.AggregationsStringTermsAggregate>>;

/** A search answer: hits with HIT_SOURCE's fields, facets as facetAggs() asks for them. */
export type EsSearchResult = estypes.SearchResponse<HitSource, FacetAggregates>;

export function parseBuckets(agg: estypes.AggregationsStringTermsAggregate | undefined): FacetBucket[] {
  // `buckets` is an array unless the request asked for keyed buckets (facetAggs never does).
  const buckets = agg?.buckets;
  return (Array.isArray(buckets) ? buckets : Object.values(buckets ?? {})).map((b) => ({
    value: typeof b.key_as_string === 'string' ? b.key_as_string : String(b.key),
    count: b.doc_count,
  }));
}

export function parseTotal(res: Pick<EsSearchResult, 'hits'>): number {
  const t = res.hits.total;
  return typeof t === 'number' ? t : (t?.value ?? 0);
}

export function parseHits(hits: Array<estypes.SearchHit<HitSource>>, byScore: boolean): SearchHit[] {
  return hits.map((h) => {
    if (!h._source) throw new Error(`Elasticsearch returned hit ${h._id ?? '?'} without its _source`);
    const score = byScore ? Number(h.sort?.[0] ?? h._score ?? 0) : 0;
    return { record: toRecord(h._source), score };
  });
}

/** A full response from one search answer (total, facets and the page's hits). */
export function parseSearch(plan: PlannedSearch, res: EsSearchResult): SearchResponse {
  return {
    ...plan.base,
    total: parseTotal(res),
    facets: { batch: parseBuckets(res.aggregations?.batch), type: parseBuckets(res.aggregations?.type) },
    hits: parseHits(res.hits.hits, plan.byScore),
  };
}
