import type { APIRoute } from 'astro';
import { createHash } from 'node:crypto';
import { store } from '../../../lib/runtime.ts';
import { config } from '../../../lib/config.ts';
import { parseSearchParams } from '../../../lib/search/params.ts';
import { buildCollection, collectionUrl, COLLECTION_PAGE_SIZE, isPaged } from '../../../lib/iiif/collection.ts';
import { PRESENTATION_CONTEXT } from '../../../lib/iiif/manifest.ts';
import { conditionalResponse, firstSeen } from '../../../lib/http/conditional.ts';
import { preflightResponse } from '../../../lib/http/cors.ts';
import { jsonError } from '../../../lib/http/json.ts';

/**
 * Any search as a IIIF Presentation 3.0 Collection: same parameters as the search page. Without
 * `page` it is the top collection; with `page=N` one page of a paged one. Every other spelling of
 * the same search (parameter order, empty or unknown parameters) is redirected to the canonical
 * URL, which is the document's `id`.
 */
export const GET: APIRoute = async ({ url, request }) => {
  const req = parseSearchParams(url.searchParams);
  const page = url.searchParams.has('page') ? req.page : undefined;
  const base = config().publicBaseUrl;
  const search = { q: req.q, filters: req.filters, ...(req.sort ? { sort: req.sort } : {}) };
  const canonical = collectionUrl(base, search, page);
  const canonicalSearch = new URL(canonical).search;
  if (url.search !== canonicalSearch && !(url.search === '?' && canonicalSearch === '')) {
    return new Response(null, {
      status: 301,
      headers: { Location: canonical, 'Access-Control-Allow-Origin': '*', 'Cache-Control': 'private, max-age=3600' },
    });
  }
  const s = await store();
  // Top level: fetch the first page to learn the total (and the items when it fits in one document).
  const res = await s.search({ ...req, page: page ?? 1, pageSize: COLLECTION_PAGE_SIZE });
  if (res.tooLong) return jsonError(400, `the query is ${res.tooLong.length} characters long; at most ${res.tooLong.max} are searched`);
  if (res.unsearchable) return jsonError(400, 'the query has no term of two or more characters');
  if (page && (page - 1) * COLLECTION_PAGE_SIZE >= Math.max(res.total, 1)) return jsonError(404, `no page ${page} in this collection`);
  const doc = buildCollection({
    base,
    req: search,
    total: res.total,
    records: page || !isPaged(res.total) ? res.hits.map((h) => h.record) : [],
    page,
  });
  const body = JSON.stringify(doc);
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
  return conditionalResponse(request, body, {
    'Content-Type': `application/ld+json;profile="${PRESENTATION_CONTEXT}"`,
    'Access-Control-Allow-Origin': '*',
    'Cache-Control': 'private, max-age=60',
    ETag: etag,
    'Last-Modified': new Date(firstSeen(canonical, etag)).toUTCString(),
  });
};

/** CORS preflight (the IIIF Accept profile header is not CORS-safelisted). */
export const OPTIONS: APIRoute = () => preflightResponse();
