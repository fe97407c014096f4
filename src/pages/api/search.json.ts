import type { APIRoute } from 'astro';
import { store } from '../../lib/runtime.ts';
import { json, jsonError } from '../../lib/http/json.ts';
import { parseSearchParams, queryTooLong, unreadableYears } from '../../lib/search/params.ts';
import { config } from '../../lib/config.ts';
import { manifestUrl, itemUrl } from '../../lib/iiif/manifest.ts';

/** JSON search API: the same parameters and results as the search page. */
export const GET: APIRoute = async ({ url }) => {
  const req = parseSearchParams(url.searchParams);
  const long = queryTooLong(req);
  if (long) return jsonError(400, `the query is ${long.length} characters long; at most ${long.max} are searched`);
  const badYears = unreadableYears(url.searchParams);
  if (badYears.length > 0) return jsonError(400, `not a year (西暦 or 和暦, e.g. 1923, 大正, 昭和10年, S10): ${badYears.join(', ')}`);
  const res = await (await store()).search(req);
  const base = config().publicBaseUrl;
  return json(
    {
      total: res.total,
      page: res.page,
      pageSize: res.pageSize,
      unsearchable: res.unsearchable,
      tooShort: res.tooShort,
      facets: res.facets,
      decades: res.decades ?? [],
      items: res.hits.map(({ record, score, highlight }) => ({
        id: record.id,
        score,
        title: record.title,
        date: record.date,
        batch: record.batch,
        type: record.type,
        url: itemUrl(base, record.id),
        manifest: manifestUrl(base, record.id),
        images: record.images.map((i) => i.id),
        // What the query matched: per field, the values with [start, end) offsets (UTF-16) of each match.
        ...(highlight ? { highlight } : {}),
      })),
    },
    { headers: { 'Cache-Control': 'private, no-cache' } },
  );
};
