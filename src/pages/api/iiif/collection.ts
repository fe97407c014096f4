import type { APIRoute } from 'astro';
import { store } from '../../../lib/runtime.ts';
import { config } from '../../../lib/config.ts';
import { parseSearchParams } from '../../../lib/search/params.ts';
import { buildCollection, COLLECTION_PAGE_SIZE, isPaged } from '../../../lib/iiif/collection.ts';
import { PRESENTATION_CONTEXT } from '../../../lib/iiif/manifest.ts';
import { jsonError } from '../../../lib/http.ts';

/** Any search as a IIIF Presentation 3.0 Collection: same parameters as the search page. */
export const GET: APIRoute = async ({ url }) => {
  const req = parseSearchParams(url.searchParams);
  const pageParam = url.searchParams.get('page');
  const page = pageParam ? req.page : undefined;
  const s = await store();
  const base = config().publicBaseUrl;
  // Top level: fetch the first page to learn the total (and the items when it fits in one document).
  const res = await s.search({ ...req, page: page ?? 1, pageSize: COLLECTION_PAGE_SIZE });
  if (res.tooLong) return jsonError(400, `the query is ${res.tooLong.length} characters long; at most ${res.tooLong.max} are searched`);
  if (res.unsearchable) return jsonError(400, 'the query has no term of two or more characters');
  if (page && (page - 1) * COLLECTION_PAGE_SIZE >= Math.max(res.total, 1)) return jsonError(404, `no page ${page} in this collection`);
  const doc = buildCollection({
    base,
    req: { q: req.q, filters: req.filters },
    total: res.total,
    records: page || !isPaged(res.total) ? res.hits.map((h) => h.record) : [],
    page,
  });
  return new Response(JSON.stringify(doc), {
    headers: {
      'Content-Type': `application/ld+json;profile="${PRESENTATION_CONTEXT}"`,
      'Access-Control-Allow-Origin': '*',
      'Cache-Control': 'private, max-age=60',
    },
  });
};
